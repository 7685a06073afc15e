/**
 * The state of one room as a client keeps it: messages with their reactions, pins and replies, every
 * member's read mark, the members and the room's settings, at `version`, the room's change-log number
 * it reflects. Pure functions over immutable values: built from a REST history page (and the room and
 * members endpoints), then moved forward by change frames, the catch-up's and the live ones alike.
 *
 * Why every part carries the version it reflects (`asOf`): the parts come from different reads (a page
 * now, an older page later, the room endpoint) each at its own version, often a little behind the
 * changes this client has already applied (Postgres trails the room by its write-through). A change
 * numbered v is applied to a part only when v > the part's `asOf`; a part read at a version older than
 * the state is brought forward with the recent changes the caller kept (`recent`). So no change is
 * counted twice and none is missed, whatever order the reads and the frames arrive in.
 *
 * Reactions: a page says "👍 ×3, one of them mine", not who. A reaction keeps the users it knows by id
 * (from frames, and me) and a count of the others the page named; a frame removing someone it does not
 * know takes one from that count. Exact because each change is applied once (by version), never twice.
 */
import type {
  AttachmentRef,
  CustomData,
  ChangeFrame as KnownChange,
  MessageKind,
  MessageView,
  ServerFrame,
  SystemEvent,
} from "../protocol/frames";

/**
 * A numbered change as a viewer receives it: one of the room's changes, or `hidden {v, seq?}`, the
 * stand-in for a change by someone the viewer blocks (it keeps the viewer's versions gapless; `seq` marks
 * a message that exists but is not shown). A change type this SDK does not know still takes its version.
 */
export type ChangeFrame = KnownChange | Extract<ServerFrame, { type: "hidden" }>;

export type Role = "owner" | "admin" | "member";

/** One emoji on a message: who used it (by id, when known) and how many more a page counted. */
export interface ReactionState {
  readonly emoji: string;
  readonly users: ReadonlySet<string>;
  /** Users a history page counted without naming (never me: the page says whether I am one). */
  readonly others: number;
}

export interface StateMessage {
  readonly seq: number;
  readonly senderId: string;
  readonly clientMsgId: string;
  /** null once deleted (a tombstone keeps its seq). */
  readonly body: string | null;
  readonly replyTo: number | null;
  readonly createdAt: string;
  readonly editedAt: string | null;
  readonly deletedAt: string | null;
  readonly attachments?: readonly AttachmentRef[];
  readonly kind: MessageKind;
  readonly system?: SystemEvent;
  readonly custom?: CustomData;
  /** In the order each emoji was first used; an emoji nobody uses any more is gone. */
  readonly reactions: readonly ReactionState[];
  readonly pinned: boolean;
  /** Replies that are not deleted, and when the newest of them was sent. */
  readonly replyCount: number;
  readonly lastReplyAt: string | null;
  /** The version this message's state reflects: changes numbered up to it are already in. */
  readonly asOf: number;
  /** By someone this viewer blocks: nothing of it is shown (its place in the sequence stays). */
  readonly hidden?: true;
}

export interface RoomSettings {
  readonly name: string | null;
  readonly topic: string | null;
  readonly isPublic: boolean;
  readonly custom: CustomData | null;
  /** Room settings the server adds later (slow mode, say) are kept as they come. */
  readonly [setting: string]: unknown;
}

export interface RoomState {
  readonly roomId: string;
  /** The user this state is seen by (whose reactions are "mine"). */
  readonly me: string;
  /** The last change applied; the catch-up continues after it. */
  readonly version: number;
  /** By seq. Loaded messages run without a hole from `oldestSeq` to the newest. */
  readonly messages: ReadonlyMap<number, StateMessage>;
  readonly oldestSeq: number | null;
  /** Room settings and read marks, once the room endpoint has answered (null until then). */
  readonly settings: RoomSettings | null;
  readonly readMarks: ReadonlyMap<string, number> | null;
  /** The version `settings` and `readMarks` reflect. */
  readonly roomAsOf: number;
  /** Members and their roles, once the members endpoint has answered (null until then). */
  readonly members: ReadonlyMap<string, Role> | null;
}

/** A message as a REST page carries it (MessageState of the history, pins and thread routes). */
export interface PageMessage extends MessageView {
  reactions: { emoji: string; count: number; mine: boolean }[];
  replyCount: number;
  lastReplyAt: string | null;
  pinned: boolean;
  hidden?: true;
}

/** A history page that reflects a version (one read from Postgres). */
export interface VersionedPage {
  version: number;
  messages: PageMessage[];
}

/** What the room endpoint answers that the state keeps. */
export interface RoomDetailPart {
  version: number;
  name: string | null;
  topic: string | null;
  isPublic: boolean;
  custom: CustomData | null;
  readMarks: { userId: string; seq: number }[];
  slowModeSeconds?: number;
}

// --- building -----------------------------------------------------------------------------------

/** A room known to be at `version` with nothing loaded yet (version 0: the room before anything). */
export function emptyState(roomId: string, me: string, version = 0): RoomState {
  return {
    roomId,
    me,
    version,
    messages: new Map(),
    oldestSeq: null,
    settings: null,
    readMarks: null,
    roomAsOf: 0,
    members: null,
  };
}

/** The state a history page shows: its messages at the page's version. */
export function fromPage(roomId: string, me: string, page: VersionedPage): RoomState {
  const merged = mergePage(emptyState(roomId, me, page.version), page, []);
  if (!merged) throw new Error("unreachable: a page at the state's own version needs no changes");
  return merged;
}

/** A REST message as the state keeps it, reflecting `asOf`. */
export function fromPageMessage(m: PageMessage, me: string, asOf: number): StateMessage {
  if (m.hidden) return hiddenMessage(m.seq, asOf);
  return {
    ...base(m),
    reactions: m.reactions.map((r) => ({
      emoji: r.emoji,
      users: new Set(r.mine ? [me] : []),
      others: r.count - (r.mine ? 1 : 0),
    })),
    pinned: m.pinned,
    replyCount: m.replyCount,
    lastReplyAt: m.lastReplyAt,
    asOf,
  };
}

/** A message this viewer does not see: its seq and nothing else (live frames say no more than that). */
function hiddenMessage(seq: number, asOf: number): StateMessage {
  return {
    seq,
    senderId: "",
    clientMsgId: "",
    body: null,
    replyTo: null,
    createdAt: "",
    editedAt: null,
    deletedAt: null,
    kind: "regular",
    reactions: [],
    pinned: false,
    replyCount: 0,
    lastReplyAt: null,
    asOf,
    hidden: true,
  };
}

function base(m: MessageView): Omit<StateMessage, "reactions" | "pinned" | "replyCount" | "lastReplyAt" | "asOf"> {
  const deleted = m.deletedAt !== null;
  return {
    seq: m.seq,
    senderId: m.senderId,
    clientMsgId: m.clientMsgId,
    body: deleted ? null : m.body,
    replyTo: m.replyTo,
    createdAt: m.createdAt,
    editedAt: m.editedAt,
    deletedAt: m.deletedAt,
    ...(m.attachments?.length && !deleted ? { attachments: m.attachments } : {}),
    kind: m.kind ?? "regular",
    ...(m.system ? { system: m.system } : {}),
    ...(m.custom && !deleted ? { custom: m.custom } : {}),
  };
}

// --- changes ------------------------------------------------------------------------------------

/** Thrown by applyChange for a change that is not the next one: the caller must catch up first. */
export class ChangeGapError extends Error {
  readonly have: number;
  readonly got: number;
  constructor(have: number, got: number) {
    super(`change ${got} is not the next after ${have}`);
    this.name = "ChangeGapError";
    this.have = have;
    this.got = got;
  }
}

/**
 * The state after one change. A change the state already has (v <= version) changes nothing, so a frame
 * seen twice is harmless; one that skips a version throws ChangeGapError (nothing ahead of order).
 */
export function applyChange(state: RoomState, change: ChangeFrame): RoomState {
  if (change.v <= state.version) return state;
  if (change.v !== state.version + 1) throw new ChangeGapError(state.version, change.v);
  return { ...applyParts(state, change, ALL), version: change.v };
}

/** Which parts of the state a replayed change may touch. */
interface Parts {
  /** Messages with these seqs only (undefined: every message). */
  seqs?: ReadonlySet<number>;
  /** Settings and read marks (each still only above roomAsOf). */
  room: boolean;
  members: boolean;
}
const ALL: Parts = { room: true, members: true };

function applyParts(state: RoomState, c: ChangeFrame, parts: Parts): RoomState {
  switch (c.type) {
    case "message":
      return onMessage(state, c, parts);
    case "edited":
      // A deleted message's edits are replayed scrubbed (body null); its `deleted` follows.
      return updateMessage(state, c.v, c.seq, parts, (m) => ({ ...m, body: c.body ?? null, editedAt: c.editedAt }));
    case "deleted":
      return onDeleted(state, c, parts);
    case "reaction":
      return updateMessage(state, c.v, c.seq, parts, (m) => ({
        ...m,
        reactions: react(m.reactions, c.emoji, c.userId, c.on),
      }));
    case "pinned":
      return updateMessage(state, c.v, c.seq, parts, (m) => ({ ...m, pinned: c.on }));
    case "receipt": {
      if (!parts.room || !state.readMarks || c.v <= state.roomAsOf) return state;
      const marks = new Map(state.readMarks);
      marks.set(c.userId, Math.max(marks.get(c.userId) ?? 0, c.seq));
      return { ...state, readMarks: marks };
    }
    case "member":
      return onMember(state, c, parts);
    case "room": {
      if (!parts.room || !state.settings || c.v <= state.roomAsOf) return state;
      // Only the fields present changed (custom: null clears it).
      const { type: _t, v: _v, by: _by, ...fields } = c;
      return { ...state, settings: { ...state.settings, ...fields } };
    }
    case "hidden": {
      // A message that exists but is not shown takes its place; a hidden change to a known one is nothing.
      if (c.seq === undefined || state.messages.has(c.seq) || !inParts(parts, c.seq)) return state;
      const messages = new Map(state.messages).set(c.seq, hiddenMessage(c.seq, c.v));
      const oldestSeq = state.oldestSeq === null ? c.seq : Math.min(state.oldestSeq, c.seq);
      return { ...state, messages, oldestSeq };
    }
    default:
      // A change of a kind this SDK does not know: its version is taken, nothing else changes.
      return state;
  }
}

function inParts(parts: Parts, seq: number): boolean {
  return parts.seqs === undefined || parts.seqs.has(seq);
}

function onMessage(state: RoomState, c: Extract<ChangeFrame, { type: "message" }>, parts: Parts): RoomState {
  const messages = new Map(state.messages);
  let { oldestSeq } = state;
  let changed = false;
  if (inParts(parts, c.seq) && !messages.has(c.seq)) {
    const { type: _t, v: _v, ...view } = c;
    messages.set(c.seq, { ...base(view), reactions: [], pinned: false, replyCount: 0, lastReplyAt: null, asOf: c.v });
    oldestSeq = oldestSeq === null ? c.seq : Math.min(oldestSeq, c.seq);
    changed = true;
  }
  const parent = c.replyTo !== null ? messages.get(c.replyTo) : undefined;
  // A hidden message shows nothing of itself, its replies included (as the history pages say).
  if (parent && !parent.hidden && inParts(parts, parent.seq) && c.v > parent.asOf) {
    messages.set(parent.seq, { ...parent, replyCount: parent.replyCount + 1, lastReplyAt: later(parent, c.createdAt) });
    changed = true;
  }
  return changed ? { ...state, messages, oldestSeq } : state;
}

function later(parent: StateMessage, at: string): string {
  return parent.lastReplyAt !== null && parent.lastReplyAt > at ? parent.lastReplyAt : at;
}

function onDeleted(state: RoomState, c: Extract<ChangeFrame, { type: "deleted" }>, parts: Parts): RoomState {
  const target = state.messages.get(c.seq);
  if (!target) return state;
  const messages = new Map(state.messages);
  if (!target.hidden && inParts(parts, c.seq) && c.v > target.asOf) {
    const { attachments: _a, custom: _c, ...rest } = target;
    messages.set(c.seq, { ...rest, body: null, deletedAt: c.deletedAt });
  }
  // Replies that are not deleted are what a parent counts: a deleted reply leaves the count.
  const parent = target.replyTo !== null ? messages.get(target.replyTo) : undefined;
  if (parent && !parent.hidden && inParts(parts, parent.seq) && c.v > parent.asOf) {
    let last: string | null = null;
    for (const m of messages.values()) {
      if (m.replyTo === parent.seq && m.deletedAt === null && m.seq !== c.seq && (last === null || m.createdAt > last))
        last = m.createdAt;
    }
    messages.set(parent.seq, { ...parent, replyCount: Math.max(0, parent.replyCount - 1), lastReplyAt: last });
  }
  return { ...state, messages };
}

function updateMessage(
  state: RoomState,
  v: number,
  seq: number,
  parts: Parts,
  update: (m: StateMessage) => StateMessage,
): RoomState {
  const m = state.messages.get(seq);
  // Not loaded (older than what this client holds): a later page brings it as it is then.
  if (!m || m.hidden || !inParts(parts, seq) || v <= m.asOf) return state;
  const messages = new Map(state.messages);
  messages.set(seq, update(m));
  return { ...state, messages };
}

function react(list: readonly ReactionState[], emoji: string, userId: string, on: boolean): ReactionState[] {
  const i = list.findIndex((r) => r.emoji === emoji);
  const current = list[i];
  if (on) {
    if (current?.users.has(userId)) return [...list];
    if (!current) return [...list, { emoji, users: new Set([userId]), others: 0 }];
    const next = { ...current, users: new Set(current.users).add(userId) };
    return list.map((r, j) => (j === i ? next : r));
  }
  if (!current) return [...list];
  let next: ReactionState;
  if (current.users.has(userId)) {
    const users = new Set(current.users);
    users.delete(userId);
    next = { ...current, users };
  } else {
    // One of those the page counted without naming.
    next = { ...current, others: Math.max(0, current.others - 1) };
  }
  return reactionCount(next) === 0 ? list.filter((_, j) => j !== i) : list.map((r, j) => (j === i ? next : r));
}

/** Member changes that end a membership (others, like a mute, leave it as it is). */
const GONE = new Set(["left", "removed", "banned"]);

function onMember(state: RoomState, c: Extract<ChangeFrame, { type: "member" }>, parts: Parts): RoomState {
  const present = c.change === "joined" || c.change === "role";
  const gone = GONE.has(c.change);
  if (!present && !gone) return state;
  let next = state;
  if (parts.members && state.members) {
    const members = new Map(state.members);
    if (present && "role" in c) members.set(c.userId, c.role);
    else members.delete(c.userId);
    next = { ...next, members };
  }
  // Who leaves has no read mark any more (the room endpoint lists members' marks only); who joins starts
  // from nothing.
  if (parts.room && state.readMarks && c.v > state.roomAsOf && c.change !== "role") {
    const marks = new Map(state.readMarks);
    marks.delete(c.userId);
    next = { ...next, readMarks: marks };
  }
  return next;
}

// --- merging reads made at other versions --------------------------------------------------------

/**
 * `recent` must hold every change after `from` up to the state's version, in order: the state's own
 * record of what it applied (see ChangeLog). Returns those changes, or null when it does not reach back.
 */
function changesSince(state: RoomState, from: number, recent: readonly ChangeFrame[]): ChangeFrame[] | null {
  if (from >= state.version) return [];
  const i = recent.findIndex((c) => c.v === from + 1);
  if (i < 0) return null;
  const out = recent.slice(i).filter((c) => c.v <= state.version);
  return out.length === state.version - from ? out : null;
}

/**
 * Adds a history page read at any version. A message the state already holds at a newer version stays
 * as it is; the others take the page's state, brought forward with the changes after the page's version
 * that this client already applied (from `recent`). Null when `recent` does not reach back to the page:
 * read the page again.
 */
export function mergePage(state: RoomState, page: VersionedPage, recent: readonly ChangeFrame[]): RoomState | null {
  const replay = changesSince(state, page.version, recent);
  if (replay === null) return null;
  const messages = new Map(state.messages);
  const taken = new Set<number>();
  for (const pm of page.messages) {
    const have = messages.get(pm.seq);
    if (have && have.asOf >= page.version) continue;
    messages.set(pm.seq, fromPageMessage(pm, state.me, page.version));
    taken.add(pm.seq);
  }
  let oldestSeq = state.oldestSeq;
  for (const pm of page.messages) if (oldestSeq === null || pm.seq < oldestSeq) oldestSeq = pm.seq;
  let next: RoomState = { ...state, messages, oldestSeq };
  if (taken.size === 0) return next;
  // Only the messages taken from the page move; a reply the state already had still counts for a parent
  // taken here (its creation or deletion names the reply, and moves the parent's count).
  const only: Parts = { seqs: taken, room: false, members: false };
  for (const c of replay) next = applyParts(next, c, only);
  return next;
}

/** Adds what the room endpoint says (settings and every member's read mark), read at any version. */
export function mergeRoom(state: RoomState, detail: RoomDetailPart, recent: readonly ChangeFrame[]): RoomState | null {
  if (state.settings && state.roomAsOf >= detail.version) return state;
  const replay = changesSince(state, detail.version, recent);
  if (replay === null) return null;
  let next: RoomState = {
    ...state,
    settings: {
      name: detail.name,
      topic: detail.topic,
      isPublic: detail.isPublic,
      custom: detail.custom,
      ...(detail.slowModeSeconds !== undefined ? { slowModeSeconds: detail.slowModeSeconds } : {}),
    },
    readMarks: new Map(detail.readMarks.filter((r) => r.seq > 0).map((r) => [r.userId, r.seq])),
    roomAsOf: detail.version,
  };
  const only: Parts = { seqs: new Set(), room: true, members: false };
  for (const c of replay) next = applyParts(next, c, only);
  return next;
}

/**
 * Sets the members (the members endpoint says no version). Membership changes are recorded after the
 * member list is committed, so a list read after the state was at `readFrom` reflects at least every
 * change up to it: replaying the changes after `readFrom` (each sets one member's role, or removes them)
 * leaves each member as the last change says.
 */
export function mergeMembers(
  state: RoomState,
  members: { userId: string; role: Role }[],
  readFrom: number,
  recent: readonly ChangeFrame[],
): RoomState | null {
  const replay = changesSince(state, readFrom, recent);
  if (replay === null) return null;
  let next: RoomState = { ...state, members: new Map(members.map((m) => [m.userId, m.role])) };
  const only: Parts = { seqs: new Set(), room: false, members: true };
  for (const c of replay) next = applyParts(next, c, only);
  return next;
}

// --- reading ------------------------------------------------------------------------------------

export function reactionCount(r: ReactionState): number {
  return r.users.size + r.others;
}

/** Messages in seq order (cached per state). */
export function messageList(state: RoomState): readonly StateMessage[] {
  let list = sorted.get(state.messages);
  if (!list) {
    list = [...state.messages.values()].sort((a, b) => a.seq - b.seq);
    sorted.set(state.messages, list);
  }
  return list;
}
const sorted = new WeakMap<ReadonlyMap<number, StateMessage>, StateMessage[]>();

/** Whether there are messages before the oldest one loaded (seqs start at 1, with no gaps). */
export function hasOlder(state: RoomState): boolean {
  return state.oldestSeq !== null && state.oldestSeq > 1;
}

/** The users (by id) whose read mark reached `seq`. */
export function seenBy(state: RoomState, seq: number): string[] {
  return [...(state.readMarks ?? [])].filter(([, mark]) => mark >= seq).map(([userId]) => userId);
}

export interface SnapshotMessage {
  seq: number;
  senderId: string;
  clientMsgId: string;
  kind: MessageKind;
  body: string | null;
  replyTo: number | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  attachments?: string[];
  system?: SystemEvent;
  custom?: CustomData;
  /** Emoji → how many used it, keys sorted. */
  reactions: Record<string, number>;
  pinned: boolean;
  replyCount: number;
  lastReplyAt: string | null;
  /** A message this viewer does not see: every other field empty (live frames say no more than its seq). */
  hidden?: true;
}

export interface RoomSnapshot {
  version: number;
  messages: SnapshotMessage[];
  /** Members' read marks above 0, keys sorted; null when not loaded. */
  readMarks: Record<string, number> | null;
  members: Record<string, Role> | null;
  settings: RoomSettings | null;
}

/**
 * A canonical plain object of the state, the same for every client that holds the same room: no
 * viewer-specific fields (whose reactions are mine), keys sorted (custom data included, since Postgres
 * reorders JSON object keys). Compare two with toEqual / JSON.stringify.
 */
export function snapshot(state: RoomState, opts: { fromSeq?: number } = {}): RoomSnapshot {
  const from = opts.fromSeq ?? 0;
  return {
    version: state.version,
    messages: messageList(state)
      .filter((m) => m.seq >= from)
      .map(
        (m): SnapshotMessage =>
          m.hidden
            ? { ...HIDDEN, seq: m.seq }
            : {
                seq: m.seq,
                senderId: m.senderId,
                clientMsgId: m.clientMsgId,
                kind: m.kind,
                body: m.body,
                replyTo: m.replyTo,
                createdAt: m.createdAt,
                editedAt: m.editedAt,
                deletedAt: m.deletedAt,
                ...(m.attachments ? { attachments: m.attachments.map((a) => a.id) } : {}),
                ...(m.system ? { system: canonical(m.system) as SystemEvent } : {}),
                ...(m.custom ? { custom: canonical(m.custom) as CustomData } : {}),
                reactions: Object.fromEntries(
                  m.reactions.map((r) => [r.emoji, reactionCount(r)] as const).sort(([a], [b]) => (a < b ? -1 : 1)),
                ),
                pinned: m.pinned,
                replyCount: m.replyCount,
                lastReplyAt: m.lastReplyAt,
              },
      ),
    readMarks: state.readMarks ? sortedRecord(state.readMarks) : null,
    members: state.members ? sortedRecord(state.members) : null,
    settings: state.settings ? (canonical(state.settings) as RoomSettings) : null,
  };
}

const HIDDEN: SnapshotMessage = {
  seq: 0,
  senderId: "",
  clientMsgId: "",
  kind: "regular",
  body: null,
  replyTo: null,
  createdAt: "",
  editedAt: null,
  deletedAt: null,
  reactions: {},
  pinned: false,
  replyCount: 0,
  lastReplyAt: null,
  hidden: true,
};

function sortedRecord<T>(map: ReadonlyMap<string, T>): Record<string, T> {
  return Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

// --- the recent changes a connection keeps --------------------------------------------------------

/**
 * The last `capacity` changes applied, so a read made at an older version (Postgres trails the room)
 * can be brought forward. 2,000 changes cover far more than the write-through's lag.
 */
export class ChangeLog {
  private items: ChangeFrame[] = [];
  private readonly capacity: number;
  constructor(capacity = 2000) {
    this.capacity = capacity;
  }

  push(c: ChangeFrame): void {
    this.items.push(c);
    if (this.items.length > this.capacity * 1.5) this.items = this.items.slice(-this.capacity);
  }

  get all(): readonly ChangeFrame[] {
    return this.items;
  }

  clear(): void {
    this.items = [];
  }
}
