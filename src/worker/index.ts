import { app } from "./app";
import { sweepAttachments } from "./attachments/sweep";
import { handleQueue } from "./queue/consumer";
import type { Bindings } from "./types";

export { ChatRoom } from "../durable-objects/chat-room";

export default {
  fetch: app.fetch,
  queue: handleQueue,
  scheduled: async (_controller, env, ctx) => {
    ctx.waitUntil(sweepAttachments(env));
  },
} satisfies ExportedHandler<Bindings>;
