import { env } from "cloudflare:workers";

/** Waits until the room's outbox reached Postgres (REST reads of Postgres-backed fields depend on it). */
export async function drainOutbox(roomId: string): Promise<void> {
  const stub = env.ROOMS.get(env.ROOMS.idFromName(roomId));
  const { depth } = await stub.drainOutbox();
  if (depth !== 0) throw new Error(`outbox of ${roomId} still holds ${depth} rows`);
}
