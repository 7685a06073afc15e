import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { errorResponse, onError } from "./middleware/errors";
import { apiRateLimit, perIpAuth, rateLimit } from "./middleware/rate-limit";
import { requestLog } from "./middleware/request-log";
import { securityHeaders } from "./middleware/security-headers";
import { validText } from "./middleware/valid-text";
import { adminRoutes } from "./routes/admin";
import { apiKeyRoutes } from "./routes/api-keys";
import { attachmentRoutes } from "./routes/attachments";
import { auditRoutes } from "./routes/audit";
import { auth } from "./routes/auth";
import { blockRoutes } from "./routes/blocks";
import { contentRuleRoutes } from "./routes/content-rules";
import { dataRightsRoutes } from "./routes/data-rights";
import { deviceRoutes } from "./routes/devices";
import { docs } from "./routes/docs";
import { health } from "./routes/health";
import { inboxRoutes } from "./routes/inbox";
import { memberRoutes } from "./routes/members";
import { messageRoutes } from "./routes/messages";
import { metrics } from "./routes/metrics";
import { moderationRoutes } from "./routes/moderation";
import { notificationRoutes } from "./routes/notifications";
import { reportRoutes } from "./routes/reports";
import { retentionRoutes } from "./routes/retention";
import { roomSocket } from "./routes/room-socket";
import { roomRoutes } from "./routes/rooms";
import { searchRoutes } from "./routes/search";
import { webhookRoutes } from "./routes/webhooks";
import type { AppEnv } from "./types";

export const app = new Hono<AppEnv>();

app.use(
  requestId({
    // Accept a caller's id only if it is short and plain, so it is safe to log and forward.
    generator: () => crypto.randomUUID(),
    limitLength: 128,
  }),
);
app.use(requestLog);
app.use(securityHeaders);
app.use("/api/*", apiRateLimit);
app.use("/api/*", validText);
app.use("/api/auth/login", rateLimit(perIpAuth));
app.use("/api/auth/register", rateLimit(perIpAuth));
app.route("/", health);
app.route("/", docs);
app.route("/", metrics);
app.route("/", auth);
app.route("/", roomSocket);
// Before the routes that guard /api/me/* with requireUser: the inbox upgrade also takes a ticket.
app.route("/", inboxRoutes);
app.route("/", roomRoutes);
app.route("/", memberRoutes);
app.route("/", messageRoutes);
app.route("/", moderationRoutes);
app.route("/", blockRoutes);
app.route("/", reportRoutes);
app.route("/", searchRoutes);
app.route("/", notificationRoutes);
app.route("/", attachmentRoutes);
app.route("/", adminRoutes);
// Integrations (issue 27): API keys, bots, system messages posted by servers.
app.route("/", apiKeyRoutes);
app.route("/", webhookRoutes);
app.route("/", deviceRoutes);
app.route("/", dataRightsRoutes);
app.route("/", retentionRoutes);
app.route("/", auditRoutes);
app.route("/", contentRuleRoutes);
app.notFound((c) => errorResponse(c, 404, "not_found", "No such route"));
app.onError(onError);
