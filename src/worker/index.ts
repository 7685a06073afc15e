import { createDb } from "../db/client";
import { setLogLevel } from "../lib/log";
import { app } from "./app";
import { sweepAttachments } from "./attachments/sweep";
import { loginGuardSettings, sweepLoginAttempts } from "./auth/login-guard";
import { EVERY_MINUTE, integrationsEveryMinute, integrationsHourly } from "./integrations/jobs";
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
  scheduled: async (controller, env, ctx) => {
    setLogLevel(env.LOG_LEVEL);
    // Integrations (issue 27): the every-minute cron is theirs alone; the hourly one also runs their upkeep.
    if (controller.cron === EVERY_MINUTE) return ctx.waitUntil(integrationsEveryMinute(env));
    ctx.waitUntil(sweepAttachments(env));
    // Failed sign-ins older than the guard remembers are forgotten (their rows would only grow).
    ctx.waitUntil(sweepLoginAttempts(createDb(env), loginGuardSettings(env)));
    ctx.waitUntil(integrationsHourly(env));
  },
} satisfies ExportedHandler<Bindings>;
