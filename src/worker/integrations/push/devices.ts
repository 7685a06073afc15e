/**
 * One notification to one registered phone (a `fcm:<id>` or `apns:<id>` delivery target). The device must
 * still be the notified user's; a token the service reports dead is removed here.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../../../db/client";
import { pushDevices } from "../../../db/integration-schema";
import { logJson } from "../../../lib/log";
import type { NotificationView } from "../../notify/views";
import { sendApns } from "./apns";
import type { MobileConfig } from "./config";
import { sendFcm } from "./fcm";
import type { MobilePush, PushOutcome } from "./outcome";

/** Unread messages over every room of the user (room's last seq − their read mark), for the badge. */
export async function unreadTotal(db: Db, userId: string): Promise<number> {
  const { rows } = await db.execute<{ n: number | string }>(sql`
    select coalesce(sum(greatest(r.last_seq - m.last_read_seq, 0)), 0)::int as n
    from room_members m join rooms r on r.id = m.room_id
    where m.user_id = ${userId}::uuid`);
  return Number(rows[0]?.n ?? 0);
}

/** null: nothing to send (the device is gone or no longer the user's, or its platform is not configured). */
export async function pushToDevice(
  db: Db,
  mobile: MobileConfig | null,
  view: NotificationView,
  target: `fcm:${string}` | `apns:${string}`,
  timeoutMs: number,
): Promise<PushOutcome | null> {
  const platform = target.startsWith("fcm:") ? "fcm" : "apns";
  const deviceId = target.slice(platform.length + 1);
  const [device] = await db
    .select()
    .from(pushDevices)
    .where(and(eq(pushDevices.id, deviceId), eq(pushDevices.userId, view.userId), eq(pushDevices.platform, platform)))
    .limit(1);
  if (!device) return null;
  const fcm = platform === "fcm" ? mobile?.fcm : null;
  const apns = platform === "apns" ? mobile?.apns : null;
  if (!fcm && !apns) return null;
  const push: MobilePush = {
    notificationId: view.id,
    kind: view.kind,
    roomId: view.roomId,
    lastSeq: view.lastSeq,
    title: view.roomName ?? "edgechat",
    body: view.text,
    badge: await unreadTotal(db, view.userId),
    urgent: view.kind !== "digest",
  };
  const outcome = fcm
    ? await sendFcm(fcm, device.token, push, timeoutMs)
    : await sendApns(apns as NonNullable<typeof apns>, device, push, timeoutMs);
  if (outcome.kind === "invalid-token") {
    // Only this registration: the same token registered again since then (a new row) is left alone.
    await db.delete(pushDevices).where(and(eq(pushDevices.id, device.id), eq(pushDevices.token, device.token)));
    logJson("info", { msg: "push device removed", deviceId: device.id, platform, reason: outcome.reason });
  }
  return outcome;
}
