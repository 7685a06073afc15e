import { positiveSetting, wholeSetting } from "../lib/config";

/**
 * Exact sliding-window log: a send is allowed when fewer than `messages` sends were accepted in the last
 * `windowMs`. A timestamp t counts while t > now - windowMs, so the earliest retry is oldest + windowMs.
 */
export interface ThrottleLimits {
  messages: number;
  windowMs: number;
  /** Rejected sends within one window after which the socket is closed as abusive (1008). */
  abuseRejections: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export function decide(acceptedInWindow: number[], now: number, limits: ThrottleLimits): ThrottleDecision {
  // Called on every send with up to `messages` entries: count without allocating, copy only to refuse.
  const cutoff = now - limits.windowMs;
  let live = 0;
  for (const t of acceptedInWindow) if (t > cutoff) live++;
  if (live < limits.messages) return { allowed: true };
  // The send that frees a slot is the (live - messages + 1)-th oldest leaving the window.
  const inWindow = acceptedInWindow.filter((t) => t > cutoff);
  const freeing = inWindow[live - limits.messages] as number;
  return { allowed: false, retryAfterMs: Math.max(1, freeing + limits.windowMs - now) };
}

export function limitsFrom(env: {
  THROTTLE_MESSAGES?: string;
  THROTTLE_WINDOW_MS?: string;
  THROTTLE_ABUSE_REJECTIONS?: string;
}): ThrottleLimits {
  const messages = positiveSetting(env, "THROTTLE_MESSAGES");
  return {
    messages,
    windowMs: positiveSetting(env, "THROTTLE_WINDOW_MS"),
    abuseRejections: wholeSetting(env, "THROTTLE_ABUSE_REJECTIONS") || Math.max(10, messages * 3),
  };
}
