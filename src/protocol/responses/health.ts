/** Answers of the health and liveness probes. */
import { z } from "zod";

const dependency = z.discriminatedUnion("status", [
  z.object({ status: z.literal("up"), latencyMs: z.number() }),
  z.object({ status: z.literal("down"), latencyMs: z.number(), error: z.string() }),
  /** Not configured: a supported mode (Redis off disables the recent-message buffer). */
  z.object({ status: z.literal("disabled") }),
]);

export const readinessReply = z.object({
  status: z.enum(["ok", "unavailable"]),
  /** The dependencies that are down. */
  down: z.array(z.string()),
  postgres: dependency,
  redis: dependency,
});
export const livenessReply = z.object({ status: z.literal("ok") });
