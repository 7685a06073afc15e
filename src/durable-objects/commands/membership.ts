/**
 * Membership and room-setting changes. Postgres owns both (REST checks membership there); the worker
 * commits a change there first, then the room records it in its change log, so clients catching up learn
 * of it in order with everything else, and (unless `announce` is off or the deployment turned system
 * messages off) as a `kind: "system"` message in the message sequence.
 */
import type { MemberChange, SystemEvent, UnnumberedChange } from "../../protocol/frames";
import type { ChangeResult, MemberCommand, RoomUpdateCommand } from "../../protocol/room-rpc";
import { SYSTEM_ID_PREFIX } from "../room-store";
import { type CommandContext, type Decision, decided, type Effects, effects } from "./effects";
import { postMessage } from "./post-message";

const OK = { status: "ok" } as const;

export function member(ctx: CommandContext, cmd: MemberCommand): Decision<ChangeResult> {
  const { actor } = ctx;
  if (!isNewChange(ctx, cmd)) return decided(OK);
  const change = memberChange(cmd, actor.userId);
  const event = cmd.announce === false ? null : systemEvent(change);
  return decided(OK, record(ctx, { type: "member", ...change }, event, cmd.names));
}

/**
 * A retried call records nothing twice: only a change from what this room last recorded counts (its
 * roster of members, its bans and mutes). Bans and mutes are stored here as they are recorded.
 */
function isNewChange(ctx: CommandContext, cmd: MemberCommand): boolean {
  const { store } = ctx;
  const role = cmd.role ?? "member";
  switch (cmd.change) {
    case "joined":
    case "role":
      if (store.rosterRole(cmd.userId) === role) return false;
      store.setRoster(cmd.userId, role);
      return true;
    case "left":
    case "removed":
      if (store.rosterRole(cmd.userId) === "gone") return false;
      store.setRoster(cmd.userId, null);
      return true;
    case "banned":
    case "muted": {
      const kind = cmd.change === "banned" ? "ban" : "mute";
      const until = cmd.until ? Date.parse(cmd.until) : null;
      if (store.sanction(cmd.userId, kind) === until) return false;
      store.setSanction(cmd.userId, kind, until);
      if (kind === "ban") store.setRoster(cmd.userId, null);
      return true;
    }
    case "unbanned":
    case "unmuted": {
      const kind = cmd.change === "unbanned" ? "ban" : "mute";
      if (store.sanction(cmd.userId, kind) === undefined) return false;
      store.setSanction(cmd.userId, kind, undefined);
      return true;
    }
  }
}

export function updateRoom(ctx: CommandContext, cmd: RoomUpdateCommand): Decision<ChangeResult> {
  const { store, actor } = ctx;
  const by = actor.userId;
  const { type: _type, names, ...asked } = cmd;
  // Only fields that differ from what this room last recorded are news (a retried call records nothing).
  const fields: Omit<RoomUpdateCommand, "type" | "names"> = {};
  for (const [key, value] of Object.entries(asked) as [keyof typeof asked, unknown][]) {
    if (value === undefined) continue;
    const text = JSON.stringify(value);
    if (store.getMeta(`setting:${key}`) === text) continue;
    store.setMeta(`setting:${key}`, text);
    Object.assign(fields, { [key]: value });
  }
  if (Object.keys(fields).length === 0) return decided(OK);
  if (fields.slowModeSeconds !== undefined) store.setMeta("slowModeSeconds", fields.slowModeSeconds);
  const event: SystemEvent | null =
    fields.name !== undefined
      ? { event: "renamed", name: fields.name, by }
      : fields.topic !== undefined
        ? { event: "topic", topic: fields.topic, by }
        : null;
  return decided(OK, record(ctx, { type: "room", ...fields, by }, event, names));
}

/** The change, then its system message (a message of its own, with its own seq and version). */
function record(
  ctx: CommandContext,
  change: UnnumberedChange,
  event: SystemEvent | null,
  names: Record<string, string> = {},
): Effects {
  const { store, settings, actor, now } = ctx;
  const frame = store.logChange(change, null, now);
  store.enqueue("change", 0, {}, now, frame.v);
  if (!event || !settings.systemMessages) return effects({ broadcast: [frame], outbox: true });
  const { message, frame: created } = postMessage(ctx, {
    senderId: "userId" in event && (event.event === "joined" || event.event === "left") ? event.userId : actor.userId,
    clientMsgId: `${SYSTEM_ID_PREFIX}${frame.v}`,
    body: systemText(event, names),
    replyTo: null,
    kind: "system",
    system: event,
  });
  return effects({ broadcast: [frame, created], buffer: [message], outbox: true });
}

function memberChange(cmd: MemberCommand, by: string): MemberChange {
  const role = cmd.role ?? "member";
  switch (cmd.change) {
    case "joined":
    case "role":
      return { change: cmd.change, userId: cmd.userId, role, by };
    case "left":
      return { change: "left", userId: cmd.userId };
    case "removed":
    case "unbanned":
    case "unmuted":
      return { change: cmd.change, userId: cmd.userId, by };
    case "banned":
    case "muted":
      return { change: cmd.change, userId: cmd.userId, by, until: cmd.until ?? null };
  }
}

/** Mutes and lifted sanctions are moderators' business, not the room's news: no system message. */
function systemEvent(c: MemberChange): SystemEvent | null {
  switch (c.change) {
    case "joined":
    case "left":
      return { event: c.change, userId: c.userId };
    case "removed":
    case "banned":
      return { event: c.change, userId: c.userId, by: c.by };
    case "role":
      return { event: "role", userId: c.userId, role: c.role, by: c.by };
    case "muted":
    case "unmuted":
    case "unbanned":
      return null;
  }
}

/** The readable line clients show; the structured `system` field is what apps should render from. */
export function systemText(e: SystemEvent, names: Record<string, string>): string {
  const name = (id: string) => names[id] ?? "Someone";
  switch (e.event) {
    case "joined":
      return `${name(e.userId)} joined`;
    case "left":
      return `${name(e.userId)} left`;
    case "removed":
      return `${name(e.by)} removed ${name(e.userId)}`;
    case "banned":
      return `${name(e.by)} banned ${name(e.userId)}`;
    case "role":
      return `${name(e.by)} made ${name(e.userId)} ${e.role === "admin" ? "an admin" : `a ${e.role}`}`;
    case "renamed":
      return `${name(e.by)} renamed the room to "${e.name}"`;
    case "topic":
      return e.topic ? `${name(e.by)} set the topic to "${e.topic}"` : `${name(e.by)} cleared the topic`;
    case "notice":
      return "";
  }
}
