/**
 * The SDK's room state reducer (src/client/room-state.ts) in plain Node, against a reference room: random
 * histories of sends, replies, edits, deletes, reactions, pins, reads, joins, leaves, role changes and
 * room settings. Whatever version a client's first page was read at, whenever the room and member reads
 * land (behind or ahead of the changes it applied), and however far back it scrolls, it ends with the
 * reference's state; changes seen twice change nothing, and a change ahead of order is refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyChange,
  type ChangeFrame,
  ChangeGapError,
  ChangeLog,
  emptyState,
  fromPage,
  hasOlder,
  mergeMembers,
  mergePage,
  mergeRoom,
  type RoomDetailPart,
  type RoomSnapshot,
  type RoomState,
  reactionCount,
  snapshot,
  type VersionedPage,
} from "../../src/client/room-state";
import type { MessageView, UnnumberedChange } from "../../src/protocol/frames";

type Role = "owner" | "admin" | "member";
const USERS = ["u0", "u1", "u2", "u3", "u4"];
const ME = "u0";
const EMOJI = ["👍", "❤️", "🎉"];
const ROOM = "room-1";

interface RefMessage {
  view: MessageView;
  /** emoji → user → when they reacted (Postgres orders emoji by their earliest current reaction). */
  reactions: Map<string, Map<string, number>>;
  pinned: boolean;
}

/** The room as the server holds it: the truth every client must end up with. */
class RefRoom {
  v = 0;
  private nextSeq = 1;
  private clock = 0;
  readonly messages = new Map<number, RefMessage>();
  readonly marks = new Map<string, number>();
  readonly members = new Map<string, Role>([
    ["u0", "owner"],
    ["u1", "member"],
    ["u2", "member"],
  ]);
  settings = { name: "room" as string | null, topic: null as string | null, isPublic: false, custom: null };
  /** The log as a catch-up replays it now (a deleted message's words scrubbed). */
  readonly log: ChangeFrame[] = [];

  private now(): string {
    this.clock += 1;
    return new Date(Date.UTC(2026, 0, 1) + this.clock * 1000).toISOString();
  }

  private record(change: UnnumberedChange): ChangeFrame {
    this.v += 1;
    const frame = { ...structuredClone(change), v: this.v } as ChangeFrame;
    this.log.push(frame);
    return frame;
  }

  private newMessage(view: Omit<MessageView, "roomId" | "seq" | "createdAt" | "editedAt" | "deletedAt">): void {
    const m: MessageView = {
      roomId: ROOM,
      seq: this.nextSeq++,
      createdAt: this.now(),
      editedAt: null,
      deletedAt: null,
      ...view,
    };
    this.messages.set(m.seq, { view: m, reactions: new Map(), pinned: false });
    this.record({ type: "message", ...m });
  }

  private pick<T>(list: T[], i: number): T | undefined {
    return list.length ? list[i % list.length] : undefined;
  }

  private memberIds(): string[] {
    return [...this.members.keys()];
  }

  /** One command by index arguments; whatever the room would refuse does nothing. */
  run(op: Op): void {
    const seqs = [...this.messages.keys()];
    const user = this.pick(USERS, op.b) as string;
    const target = this.pick(seqs, op.a);
    const msg = target !== undefined ? this.messages.get(target) : undefined;
    const regular = msg && msg.view.kind !== "system" && msg.view.deletedAt === null;
    switch (op.kind) {
      case "send": {
        const sender = this.pick(this.memberIds(), op.b) as string;
        const replyTo = op.c && regular ? (target as number) : null;
        this.newMessage({
          senderId: sender,
          clientMsgId: `c${this.nextSeq}`,
          body: `message ${this.nextSeq}`,
          replyTo,
          ...(op.a % 3 === 0 ? { custom: { z: this.nextSeq, a: { y: 1, b: 2 } } } : {}),
        });
        return;
      }
      case "edit":
        if (!regular || !msg) return;
        msg.view = { ...msg.view, body: `${msg.view.body}!`, editedAt: this.now() };
        this.record({
          type: "edited",
          seq: msg.view.seq,
          body: msg.view.body as string,
          editedAt: msg.view.editedAt as string,
        });
        return;
      case "delete": {
        if (!msg || msg.view.deletedAt !== null) return;
        const { custom: _c, attachments: _a, ...rest } = msg.view;
        msg.view = { ...rest, body: null, deletedAt: this.now() };
        // The room scrubs the words from its log: a catch-up replays a tombstone, never the text.
        for (const [i, f] of this.log.entries()) {
          if ((f.type === "message" || f.type === "edited") && f.seq === msg.view.seq) {
            const {
              custom: _fc,
              attachments: _fa,
              ...kept
            } = f as ChangeFrame & { custom?: unknown; attachments?: unknown };
            this.log[i] = { ...kept, body: null } as unknown as ChangeFrame;
          }
        }
        this.record({ type: "deleted", seq: msg.view.seq, deletedAt: msg.view.deletedAt as string });
        return;
      }
      case "react": {
        if (!msg || !this.members.has(user)) return;
        const emoji = this.pick(EMOJI, op.a + op.b) as string;
        const who = msg.reactions.get(emoji) ?? new Map<string, number>();
        const on = !who.has(user);
        if (on && msg.view.deletedAt !== null) return;
        if (on) who.set(user, this.clock++);
        else who.delete(user);
        if (who.size > 0) msg.reactions.set(emoji, who);
        else msg.reactions.delete(emoji);
        this.record({ type: "reaction", seq: msg.view.seq, userId: user, emoji, on });
        return;
      }
      case "pin": {
        if (!msg || !this.members.has(user)) return;
        const on = !msg.pinned;
        if (on && msg.view.deletedAt !== null) return;
        msg.pinned = on;
        this.record({ type: "pinned", seq: msg.view.seq, userId: user, on });
        return;
      }
      case "read": {
        if (!this.members.has(user) || target === undefined) return;
        if ((this.marks.get(user) ?? 0) >= target) return;
        this.marks.set(user, target);
        this.record({ type: "receipt", userId: user, seq: target });
        return;
      }
      case "join": {
        if (this.members.has(user)) return;
        this.members.set(user, "member");
        this.record({ type: "member", change: "joined", userId: user, role: "member", by: user });
        this.system(user, { event: "joined", userId: user });
        return;
      }
      case "leave": {
        if (!this.members.has(user) || user === ME) return;
        this.members.delete(user);
        this.marks.delete(user);
        const change = op.c ? "left" : "removed";
        this.record(
          change === "left"
            ? { type: "member", change, userId: user }
            : { type: "member", change, userId: user, by: ME },
        );
        this.system(
          user,
          change === "left" ? { event: "left", userId: user } : { event: "removed", userId: user, by: ME },
        );
        return;
      }
      case "role": {
        const role = this.members.get(user);
        if (!role || user === ME) return;
        const next = role === "admin" ? "member" : "admin";
        this.members.set(user, next);
        this.record({ type: "member", change: "role", userId: user, role: next, by: ME });
        this.system(ME, { event: "role", userId: user, role: next, by: ME });
        return;
      }
      case "settings": {
        if (op.c) {
          this.settings = { ...this.settings, name: `room ${op.a}` };
          this.record({ type: "room", name: `room ${op.a}`, by: ME });
          this.system(ME, { event: "renamed", name: `room ${op.a}`, by: ME });
        } else {
          const topic = op.a % 2 ? `topic ${op.a}` : null;
          this.settings = { ...this.settings, topic };
          this.record({ type: "room", topic, by: ME });
          this.system(ME, { event: "topic", topic, by: ME });
        }
        return;
      }
    }
  }

  private system(senderId: string, system: NonNullable<MessageView["system"]>): void {
    this.newMessage({ senderId, clientMsgId: `system:${this.v}`, body: "…", replyTo: null, kind: "system", system });
  }

  /** GET /messages as `viewer` sees it now: newest first, whole state per message. */
  page(limit: number, before?: number, viewer = ME): VersionedPage {
    const seqs = [...this.messages.keys()].filter((s) => before === undefined || s < before).sort((a, b) => b - a);
    return {
      version: this.v,
      messages: seqs.slice(0, limit).map((seq) => {
        const m = this.messages.get(seq) as RefMessage;
        const replies = [...this.messages.values()].filter((r) => r.view.replyTo === seq && r.view.deletedAt === null);
        return {
          ...structuredClone(m.view),
          kind: m.view.kind ?? "regular",
          reactions: [...m.reactions]
            .map(([emoji, who]) => ({
              emoji,
              count: who.size,
              mine: who.has(viewer),
              first: Math.min(...who.values()),
            }))
            .sort((a, b) => a.first - b.first)
            .map(({ first: _f, ...r }) => r),
          replyCount: replies.length,
          lastReplyAt: replies.length
            ? (replies
                .map((r) => r.view.createdAt)
                .sort()
                .at(-1) as string)
            : null,
          pinned: m.pinned,
        };
      }),
    };
  }

  detail(): RoomDetailPart {
    return {
      version: this.v,
      ...structuredClone(this.settings),
      readMarks: this.memberIds().map((userId) => ({ userId, seq: this.marks.get(userId) ?? 0 })),
    };
  }

  memberList(): { userId: string; role: Role }[] {
    return [...this.members].map(([userId, role]) => ({ userId, role }));
  }

  /** What a client holding messages from `fromSeq` on must show. */
  snapshot(fromSeq: number): RoomSnapshot {
    const me = emptyState(ROOM, ME, this.v);
    let s = mergePage(me, this.page(10_000), []) as RoomState;
    s = mergeRoom(s, this.detail(), []) as RoomState;
    s = mergeMembers(s, this.memberList(), this.v, []) as RoomState;
    return snapshot(s, { fromSeq });
  }
}

type Op = { kind: (typeof KINDS)[number]; a: number; b: number; c: boolean };
const KINDS = [
  "send",
  "send",
  "send",
  "edit",
  "delete",
  "react",
  "react",
  "pin",
  "read",
  "join",
  "leave",
  "role",
  "settings",
] as const;
const op = fc.record({ kind: fc.constantFrom(...KINDS), a: fc.nat(50), b: fc.nat(50), c: fc.boolean() });

/** A client: its state, and the changes it applied (what a connection keeps to merge late reads). */
class Client {
  state: RoomState;
  readonly log = new ChangeLog();
  constructor(state: RoomState) {
    this.state = state;
  }
  apply(frames: ChangeFrame[]): void {
    for (const f of frames) {
      if (f.v <= this.state.version) continue;
      this.state = applyChange(this.state, f);
      this.log.push(f);
    }
  }
}

/** Runs `ops` on a reference room, returning it and the frames as live clients got them. */
function history(ops: Op[], room = new RefRoom()): { room: RefRoom; live: ChangeFrame[] } {
  const live: ChangeFrame[] = [];
  for (const o of ops) {
    const before = room.v;
    room.run(o);
    live.push(...structuredClone(room.log.slice(before)));
  }
  return { room, live };
}

describe("room state reducer", () => {
  it("a client that stayed from the start ends with the room's state", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const start = new RefRoom();
        const c = new Client(emptyState(ROOM, ME, 0));
        c.state = mergeRoom(c.state, start.detail(), []) as RoomState;
        c.state = mergeMembers(c.state, start.memberList(), 0, []) as RoomState;
        const { room, live } = history(ops, start);
        c.apply(live);
        expect(c.state.version).toBe(room.v);
        expect(snapshot(c.state)).toEqual(room.snapshot(0));
      }),
      { numRuns: 300 },
    );
  });

  it("a client that loads a page at any version, reads the room late or early and catches up from the (scrubbed) log, ends equal; scrolling back too", () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 120 }),
        fc.array(op, { maxLength: 80 }),
        fc.nat(20),
        fc.integer({ min: 1, max: 12 }),
        fc.nat(),
        fc.nat(),
        (before, after, reloadAt, pageSize, roomAt, olderAt) => {
          const { room } = history(before);
          // The first page, read now, at the room's current version.
          const page = room.page(pageSize);
          const c = new Client(fromPage(ROOM, ME, page));
          const pageVersion = room.v;
          // More happens; the client has applied up to some point when the room detail and members reads
          // land. Reads are taken at their own versions (after the page), before or after that point.
          const firstHalf = after.slice(0, reloadAt);
          const { live } = history(firstHalf, room);
          const detailVersions: { v: number; detail: RoomDetailPart; members: { userId: string; role: Role }[] }[] = [];
          // Replay the first half step by step, noting what a read would answer at each version.
          const replay = new RefRoom();
          history(before, replay);
          detailVersions.push({ v: replay.v, detail: replay.detail(), members: replay.memberList() });
          for (const o of firstHalf) {
            replay.run(o);
            detailVersions.push({ v: replay.v, detail: replay.detail(), members: replay.memberList() });
          }
          const read = detailVersions[roomAt % detailVersions.length] as (typeof detailVersions)[0];
          const appliedUpTo = pageVersion + (live.length ? olderAt % (live.length + 1) : 0);
          c.apply(live.filter((f) => f.v <= appliedUpTo));
          const readFrom = Math.min(read.v, c.state.version);
          c.state = mergeRoom(c.state, read.detail, c.log.all) as RoomState;
          expect(c.state).not.toBeNull();
          c.state = mergeMembers(c.state, read.members, readFrom, c.log.all) as RoomState;
          expect(c.state).not.toBeNull();
          c.apply(live);
          // The rest happens while the client is away; it catches up from the log as it is now.
          const { room: end } = history(after.slice(reloadAt), room);
          c.apply(end.log.filter((f) => f.v > c.state.version));
          expect(c.state.version).toBe(end.v);
          const from = c.state.oldestSeq ?? Number.MAX_SAFE_INTEGER;
          expect(snapshot(c.state, { fromSeq: from })).toEqual(end.snapshot(from));
          // Scrolling back: each older page is read now and merged whole.
          while (hasOlder(c.state)) {
            const older = end.page(pageSize, c.state.oldestSeq as number);
            c.state = mergePage(c.state, older, c.log.all) as RoomState;
          }
          expect(snapshot(c.state)).toEqual(end.snapshot(0));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("merges an older page read at a version behind the state with the changes kept", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 5, maxLength: 80 }), fc.array(op, { maxLength: 60 }), (before, after) => {
        const { room } = history(before);
        const newest = room.page(3);
        const c = new Client(fromPage(ROOM, ME, newest));
        // An older page read now, merged only after more changes were applied: it trails the state.
        const older = hasOlder(c.state) ? room.page(100, c.state.oldestSeq as number) : null;
        const { live } = history(after, room);
        c.apply(live);
        if (older) {
          const merged = mergePage(c.state, older, c.log.all);
          expect(merged).not.toBeNull();
          c.state = merged as RoomState;
        }
        const want = room.snapshot(0);
        expect(snapshot(c.state).messages).toEqual(want.messages);
        // Without the changes since the page was read, the merge is refused rather than wrong.
        if (older && live.length > 0) expect(mergePage(c.state, older, [])).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it("merges an older page read ahead of the state, then applies the changes it already holds only once", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 5, maxLength: 80 }), fc.array(op, { maxLength: 60 }), (before, after) => {
        const { room } = history(before);
        const c = new Client(fromPage(ROOM, ME, room.page(3)));
        // The room moves on; the client scrolls back before its socket brought those changes.
        const { live } = history(after, room);
        while (hasOlder(c.state)) {
          c.state = mergePage(c.state, room.page(4, c.state.oldestSeq as number), c.log.all) as RoomState;
        }
        c.apply(live);
        expect(snapshot(c.state).messages).toEqual(room.snapshot(0).messages);
      }),
      { numRuns: 300 },
    );
  });

  it("ignores a change seen twice and refuses one ahead of order", () => {
    const { room, live } = history([
      { kind: "send", a: 1, b: 0, c: false },
      { kind: "react", a: 0, b: 1, c: false },
      { kind: "react", a: 0, b: 2, c: false },
    ]);
    let s = emptyState(ROOM, ME, 0);
    for (const f of live) s = applyChange(s, f);
    const again = live.reduce(applyChange, s);
    expect(again).toBe(s);
    expect(snapshot(again).messages).toEqual(room.snapshot(0).messages);
    expect(() => applyChange(emptyState(ROOM, ME, 0), live[1] as ChangeFrame)).toThrow(ChangeGapError);
  });

  it("keeps a message hidden from this viewer as its seq only, live and from a page alike", () => {
    // Live: u3 (whom I block) writes #2, reacts to #1 and edits #2; others react to and answer #2.
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
    const view = (seq: number, senderId: string, replyTo: number | null = null): MessageView => ({
      roomId: ROOM,
      seq,
      senderId,
      clientMsgId: `c${seq}`,
      body: `m${seq}`,
      replyTo,
      createdAt: at(seq),
      editedAt: null,
      deletedAt: null,
    });
    const live: ChangeFrame[] = [
      { type: "message", v: 1, ...view(1, "u1") },
      { type: "hidden", v: 2, seq: 2 },
      { type: "hidden", v: 3 },
      { type: "hidden", v: 4, seq: 2 },
      { type: "reaction", v: 5, seq: 2, userId: "u1", emoji: "👍", on: true },
      { type: "message", v: 6, ...view(3, "u1", 2) },
      { type: "pinned", v: 7, seq: 2, userId: "u1", on: true },
    ];
    const stayed = live.reduce(applyChange, emptyState(ROOM, ME, 0));
    // The page my client reads at the end says the same: #2 hidden, nothing of it shown or counted.
    const page: VersionedPage = {
      version: 7,
      messages: [
        { ...view(3, "u1", 2), kind: "regular", reactions: [], replyCount: 0, lastReplyAt: null, pinned: false },
        {
          ...view(2, "u3"),
          clientMsgId: "",
          body: null,
          kind: "regular",
          reactions: [],
          replyCount: 0,
          lastReplyAt: null,
          pinned: false,
          hidden: true,
        },
        { ...view(1, "u1"), kind: "regular", reactions: [], replyCount: 0, lastReplyAt: null, pinned: false },
      ],
    };
    const loaded = fromPage(ROOM, ME, page);
    expect(snapshot(stayed)).toEqual(snapshot(loaded));
    expect(snapshot(stayed).messages[1]).toMatchObject({
      seq: 2,
      hidden: true,
      senderId: "",
      body: null,
      reactions: {},
    });
    // A change of a kind this SDK does not know still takes its version.
    const later = applyChange(stayed, { type: "future-kind", v: 8 } as unknown as ChangeFrame);
    expect(later.version).toBe(8);
    expect(later.messages).toBe(stayed.messages);
  });

  it("counts reactions a page named only by number, and mine by id", () => {
    const { room } = history([
      { kind: "send", a: 1, b: 0, c: false },
      { kind: "react", a: 0, b: 0, c: false }, // u0 (me) 👍
      { kind: "react", a: 0, b: 1, c: false }, // u1 ❤️
      { kind: "react", a: 1, b: 0, c: false }, // u0 ❤️
      { kind: "react", a: 0, b: 2, c: false }, // u2 🎉
    ]);
    const s = fromPage(ROOM, ME, room.page(10));
    const m = s.messages.get(1);
    expect(m?.reactions.map((r) => [r.emoji, reactionCount(r), r.users.has(ME)])).toEqual([
      ["👍", 1, true],
      ["❤️", 2, true],
      ["🎉", 1, false],
    ]);
    // u1 takes back ❤️: the page named only me among them, so one of the unnamed goes.
    const off = applyChange(s, { type: "reaction", v: room.v + 1, seq: 1, userId: "u1", emoji: "❤️", on: false });
    expect(off.messages.get(1)?.reactions.map((r) => [r.emoji, reactionCount(r)])).toEqual([
      ["👍", 1],
      ["❤️", 1],
      ["🎉", 1],
    ]);
  });
});
