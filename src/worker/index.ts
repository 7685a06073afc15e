import { setLogLevel } from "../lib/log";
import { app } from "./app";
import { sweepAttachments } from "./attachments/sweep";
import { handleQueue } from "./queue/consumer";
import type { Bindings } from "./types";

export { ChatRoom } from "../durable-objects/chat-room";
export { UserInbox } from "../durable-objects/user-inbox";

export default {
  fetch: (request, env, ctx) => {
    setLogLevel(env.LOG_LEVEL);
    return app.fetch(request, env, ctx);
  },
  queue: (batch, env) => {
    setLogLevel(env.LOG_LEVEL);
    return handleQueue(batch, env);
  },
  scheduled: async (_controller, env, ctx) => {
    setLogLevel(env.LOG_LEVEL);
    ctx.waitUntil(sweepAttachments(env));
  },
} satisfies ExportedHandler<Bindings>;
