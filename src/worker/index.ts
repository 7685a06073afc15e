import { app } from "./app";
import { handleQueue } from "./queue/consumer";
import type { Bindings } from "./types";

export { ChatRoom } from "../durable-objects/chat-room";

export default {
  fetch: app.fetch,
  queue: handleQueue,
} satisfies ExportedHandler<Bindings>;
