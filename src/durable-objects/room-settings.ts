/**
 * The deployment's settings as a room uses them, parsed once per set of bindings rather than on every
 * frame (tests swap a room's bindings to simulate outages, so the cache is keyed by the bindings object).
 */
import { claimableAfter } from "../lib/attachment-policy";
import { positiveSetting, recentBufferLimits } from "../lib/config";
import { limitsFrom, type ThrottleLimits } from "./throttle";

export interface RoomSettings {
  throttle: ThrottleLimits;
  ringSize: number;
  /** Change-log entries the room keeps in SQLite (older ones are read from Postgres). */
  changeLogSize: number;
  /** Joins, leaves, removals, role changes and renames also appear as `kind: "system"` messages. */
  systemMessages: boolean;
  heartbeatTimeoutMs: number;
  presenceWindowMs: number;
  buffer: { size: number; ttlSeconds: number };
  /** Uploads created before the returned time may no longer be sent (the orphan sweep is near). */
  claimableAfter: (now: number) => number;
}

const cache = new WeakMap<Env, RoomSettings>();

export function roomSettings(env: Env): RoomSettings {
  let settings = cache.get(env);
  if (!settings) {
    settings = {
      throttle: limitsFrom(env),
      ringSize: positiveSetting(env, "ROOM_RING_SIZE"),
      changeLogSize: positiveSetting(env, "ROOM_CHANGE_LOG_SIZE"),
      systemMessages: env.SYSTEM_MESSAGES !== "off",
      heartbeatTimeoutMs: positiveSetting(env, "ROOM_HEARTBEAT_TIMEOUT_MS"),
      presenceWindowMs: positiveSetting(env, "PRESENCE_COALESCE_MS"),
      buffer: recentBufferLimits(env),
      claimableAfter: (now) => claimableAfter(env, now),
    };
    cache.set(env, settings);
  }
  return settings;
}
