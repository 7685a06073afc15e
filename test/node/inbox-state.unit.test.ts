/**
 * The inbox's pure parts in plain Node: the SDK's reducer (src/client/inbox-state.ts) applies each numbered
 * delta once and in order and refuses a gap; the inbox object's merge (src/durable-objects/inbox/merge.ts)
 * ends with the newest of a room's states whatever order pushes and registration answers arrive in.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyDelta, fromSnapshot, InboxGapError, type InboxState } from "../../src/client/inbox-state";
import { isNewer, mergeState } from "../../src/durable-objects/inbox/merge";
import type { InboxDelta, InboxRoom, WatchedState } from "../../src/protocol/inbox";

const room = (id: string, patch: Partial<InboxRoom> = {}): InboxRoom => ({
  id,
  kind: "group",
  name: id,
  role: "member",
  peer: null,
  lastSeq: 0,
  version: 0,
  readMark: 0,
  unread: 0,
  mentions: 0,
  lastMessage: null,
  activityAt: "2026-01-01T00:00:00.000Z",
  ...patch,
});

const start = (rooms: InboxRoom[]): InboxState =>
  fromSnapshot({
    type: "snapshot",
    epoch: "e",
    n: 0,
    you: "me",
    rooms,
    totalUnread: 0,
    notifications: { unread: 0, latest: [] },
  });

describe("the SDK's inbox state", () => {
  it("applies deltas in order, sorts by activity, totals unread, and ignores repeats", () => {
    let s = start([room("a"), room("b", { unread: 2, activityAt: "2026-01-02T00:00:00.000Z" })]);
    expect(s.rooms.map((r) => r.id)).toEqual(["b", "a"]);
    expect(s.totalUnread).toBe(2);
    const d1: InboxDelta = {
      type: "room",
      n: 1,
      room: room("a", { unread: 5, lastSeq: 5, activityAt: "2026-01-03T00:00:00.000Z" }),
    };
    s = applyDelta(s, d1);
    expect(s.rooms.map((r) => r.id)).toEqual(["a", "b"]);
    expect(s.totalUnread).toBe(7);
    expect(applyDelta(s, d1)).toBe(s);
    s = applyDelta(s, { type: "room.removed", n: 2, roomId: "b", reason: "left" });
    expect(s.totalUnread).toBe(5);
    s = applyDelta(s, { type: "notifications", n: 3, unread: 4, changed: [] });
    expect(s).toMatchObject({ n: 3, notifications: { unread: 4 } });
    expect(() => applyDelta(s, { type: "room.removed", n: 5, roomId: "a", reason: "left" })).toThrow(InboxGapError);
  });

  it("ends the same whether a device saw every delta live or caught up later in one go", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.constantFrom("a", "b", "c"), unread: fc.nat(9), gone: fc.boolean() }), {
          maxLength: 30,
        }),
        fc.nat(30),
        (steps, split) => {
          const deltas: InboxDelta[] = steps.map((step, i) =>
            step.gone
              ? { type: "room.removed", n: i + 1, roomId: step.id, reason: "removed" }
              : {
                  type: "room",
                  n: i + 1,
                  room: room(step.id, {
                    unread: step.unread,
                    activityAt: `2026-01-01T00:00:${String(i).padStart(2, "0")}.000Z`,
                  }),
                },
          );
          const live = deltas.reduce(applyDelta, start([]));
          // Another device: the first part, then everything again (a catch-up overlapping what it had).
          const cut = Math.min(split, deltas.length);
          const later = deltas.reduce(applyDelta, deltas.slice(0, cut).reduce(applyDelta, start([])));
          expect(later).toEqual(live);
          expect(live.totalUnread).toBe(live.rooms.reduce((t, r) => t + r.unread, 0));
        },
      ),
    );
  });
});

describe("the inbox object's merge of room states", () => {
  const state = (version: number, rev: number, lastSeq: number, online = false): WatchedState => ({
    roomId: "r",
    version,
    rev,
    lastSeq,
    readMark: 0,
    unread: lastSeq,
    mentions: 0,
    lastMessage: null,
    peer: { userId: "p", online, lastSeenAt: null },
  });

  it("keeps the newest by (version, rev) whatever order the states arrive in", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ version: fc.nat(20), rev: fc.nat(5) }), {
          minLength: 1,
          maxLength: 12,
          selector: (s) => `${s.version}:${s.rev}`,
        }),
        (orders) => {
          const states = orders.map((o) => state(o.version, o.rev, o.version * 10 + o.rev, o.rev % 2 === 1));
          const newest = [...states].sort((a, b) => a.version - b.version || a.rev - b.rev).at(-1) as WatchedState;
          let entry = room("r", {
            kind: "direct",
            peer: { id: "p", displayName: "P", kind: "user", online: false, lastSeenAt: null },
          });
          let held = { version: -1, rev: 0 };
          for (const s of states) {
            if (!isNewer(s, held)) continue;
            entry = mergeState(entry, s, () => "name");
            held = { version: s.version, rev: s.rev };
          }
          expect(entry.lastSeq).toBe(newest.lastSeq);
          expect(entry.peer?.online).toBe(newest.peer?.online);
        },
      ),
    );
  });

  it("takes a rename for group rooms only, and keeps the later activity time", () => {
    const g = mergeState(
      room("r", { activityAt: "2026-02-01T00:00:00.000Z" }),
      { ...state(3, 0, 1), name: "new" },
      () => null,
    );
    expect(g.name).toBe("new");
    expect(g.activityAt).toBe("2026-02-01T00:00:00.000Z");
    const d = mergeState(room("r", { kind: "direct", name: null }), { ...state(3, 0, 1), name: "x" }, () => null);
    expect(d.name).toBeNull();
  });
});
