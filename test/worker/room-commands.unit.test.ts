import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runCommand } from "../../src/durable-objects/commands";
import { roomSettings } from "../../src/durable-objects/room-settings";
import { RoomStore } from "../../src/durable-objects/room-store";
import type { Actor } from "../../src/protocol/identity";
import type { RoomCommand } from "../../src/protocol/room-rpc";

/**
 * Unit: the room's commands against a real RoomStore (the object's own SQLite, no sockets, no worker),
 * checking what each decides and which effects it asks for.
 */
async function withStore(
  fn: (run: (actor: Actor, command: RoomCommand, now?: number) => unknown, store: RoomStore) => void,
  overrides: Partial<ReturnType<typeof roomSettings>> = {},
) {
  const stub = env.ROOMS.get(env.ROOMS.idFromName(`unit-${crypto.randomUUID()}`));
  await runInDurableObject(stub, (_instance, state) => {
    const store = new RoomStore(state.storage);
    const settings = { ...roomSettings(env), ...overrides };
    fn(
      (actor, command, now = Date.now()) => runCommand({ store, settings, roomId: actor.roomId, actor, now }, command),
      store,
    );
  });
}

const ana: Actor = { roomId: "r1", userId: "ana", role: "member" };
const bob: Actor = { roomId: "r1", userId: "bob", role: "member" };
const boss: Actor = { roomId: "r1", userId: "boss", role: "admin" };

describe("room commands (unit)", () => {
  it("send: accepts with the next seq and every effect; a resend is a duplicate with none", async () => {
    await withStore((run) => {
      const first = run(ana, { type: "send", clientMsgId: "m1", body: "hi" }) as {
        result: { status: string; message: { seq: number } };
        effects: { broadcast: { type: string }[]; buffer: unknown[]; outbox: boolean; counters: string[] };
      };
      expect(first.result).toMatchObject({ status: "accepted", message: { seq: 1, body: "hi", senderId: "ana" } });
      expect(first.effects.broadcast.map((f) => f.type)).toEqual(["message"]);
      expect(first.effects.buffer).toHaveLength(1);
      expect(first.effects.outbox).toBe(true);
      expect(first.effects.counters).toEqual(["edgechat_messages_accepted_total"]);
      const again = run(ana, { type: "send", clientMsgId: "m1", body: "hi" });
      expect(again).toMatchObject({
        result: { status: "duplicate", seq: 1 },
        effects: { broadcast: [], outbox: false },
      });
      // Another sender may reuse the same clientMsgId: ids are per sender.
      expect(run(bob, { type: "send", clientMsgId: "m1", body: "yo" })).toMatchObject({
        result: { status: "accepted", message: { seq: 2 } },
      });
    });
  });

  it("send: the throttle refuses the fourth send in the window and counts it, with no broadcast", async () => {
    await withStore((run) => {
      const now = 1_000_000;
      for (let i = 0; i < 3; i++) run(ana, { type: "send", clientMsgId: `t${i}`, body: "x" }, now + i);
      expect(run(ana, { type: "send", clientMsgId: "t3", body: "x" }, now + 3)).toEqual({
        result: { status: "throttled", retryAfterMs: 4997, reason: "rate" },
        effects: {
          broadcast: [],
          buffer: [],
          outbox: false,
          counters: ["edgechat_messages_throttled_total"],
          blocksChanged: false,
        },
      });
    });
  });

  it("edit and delete: only the sender edits; the sender or a moderator deletes; deleting twice is ok", async () => {
    await withStore((run) => {
      run(ana, { type: "send", clientMsgId: "e1", body: "draft" });
      expect(run(bob, { type: "edit", seq: 1, body: "mine now" })).toMatchObject({
        result: { status: "rejected", code: "forbidden" },
        effects: { outbox: false },
      });
      expect(run(ana, { type: "edit", seq: 1, body: "final" })).toMatchObject({
        result: { status: "ok" },
        effects: { broadcast: [{ type: "edited", seq: 1, body: "final" }], outbox: true },
      });
      expect(run(bob, { type: "delete", seq: 1 })).toMatchObject({ result: { code: "forbidden" } });
      expect(run(boss, { type: "delete", seq: 1 })).toMatchObject({
        result: { status: "ok" },
        effects: { broadcast: [{ type: "deleted", seq: 1 }] },
      });
      expect(run(boss, { type: "delete", seq: 1 })).toMatchObject({
        result: { status: "ok" },
        effects: { outbox: false },
      });
      expect(run(ana, { type: "edit", seq: 1, body: "zombie" })).toMatchObject({ result: { code: "conflict" } });
      expect(run(ana, { type: "edit", seq: 9, body: "nothing" })).toMatchObject({ result: { code: "not_found" } });
    });
  });

  it("react, pin, read: change once, then report ok with no effects; read marks only move forward", async () => {
    await withStore((run) => {
      run(ana, { type: "send", clientMsgId: "p1", body: "pin me" });
      run(ana, { type: "send", clientMsgId: "p2", body: "read me" });
      const react = { type: "react", seq: 1, emoji: "👍", on: true } as const;
      expect(run(bob, react)).toMatchObject({ effects: { broadcast: [{ type: "reaction" }], outbox: true } });
      expect(run(bob, react)).toMatchObject({ result: { status: "ok" }, effects: { broadcast: [], outbox: false } });
      expect(run(bob, { type: "pin", seq: 1, on: true })).toMatchObject({
        effects: { broadcast: [{ type: "pinned" }] },
      });
      expect(run(ana, { type: "pin", seq: 1, on: false })).toMatchObject({ result: { code: "forbidden" } });
      expect(run(boss, { type: "pin", seq: 1, on: false })).toMatchObject({ result: { status: "ok" } });
      expect(run(bob, { type: "read", seq: 2 })).toMatchObject({
        effects: { broadcast: [{ type: "receipt", seq: 2 }] },
      });
      expect(run(bob, { type: "read", seq: 1 })).toMatchObject({
        result: { status: "ok" },
        effects: { broadcast: [] },
      });
      expect(run(bob, { type: "read", seq: 3 })).toMatchObject({ result: { code: "unprocessable" } });
    });
  });

  it("a command that throws leaves nothing behind: no seq taken, no outbox row", async () => {
    await withStore((run, store) => {
      const original = store.enqueue.bind(store);
      store.enqueue = () => {
        throw new Error("outbox full");
      };
      expect(() => run(ana, { type: "send", clientMsgId: "x1", body: "boom" })).toThrow("outbox full");
      store.enqueue = original;
      expect(store.lastSeq()).toBe(0);
      expect(store.outboxStats().depth).toBe(0);
      expect(run(ana, { type: "send", clientMsgId: "x1", body: "ok" })).toMatchObject({
        result: { message: { seq: 1 } },
      });
    });
  });

  it("every change takes the next version, in its own transaction: a rolled-back one takes none", async () => {
    await withStore((run, store) => {
      run(ana, { type: "send", clientMsgId: "v1", body: "one" });
      run(bob, { type: "react", seq: 1, emoji: "👍", on: true });
      run(bob, { type: "react", seq: 1, emoji: "👍", on: true }); // no change, no version
      run(bob, { type: "read", seq: 1 });
      expect(store.lastVersion()).toBe(3);
      const original = store.enqueue.bind(store);
      store.enqueue = () => {
        throw new Error("disk full");
      };
      expect(() => run(ana, { type: "edit", seq: 1, body: "two" })).toThrow("disk full");
      store.enqueue = original;
      expect(store.lastVersion()).toBe(3);
      expect(store.changesAfter(0, 10).map((c) => [c.v, c.type])).toEqual([
        [1, "message"],
        [2, "reaction"],
        [3, "receipt"],
      ]);
      expect(run(ana, { type: "edit", seq: 1, body: "two" })).toMatchObject({
        effects: { broadcast: [{ type: "edited", v: 4 }] },
      });
    });
  });

  it("member changes: recorded once however often the worker retries, with a system message unless quiet", async () => {
    await withStore(
      (run, store) => {
        const joined = { type: "member", change: "joined", userId: "cyd", names: { cyd: "Cyd" } } as const;
        expect(run(boss, joined)).toMatchObject({
          effects: {
            broadcast: [
              { type: "member", change: "joined", userId: "cyd", role: "member", v: 1 },
              { type: "message", kind: "system", body: "Cyd joined", system: { event: "joined", userId: "cyd" }, v: 2 },
            ],
          },
        });
        expect(run(boss, joined)).toMatchObject({ effects: { broadcast: [], outbox: false } });
        expect(run(boss, { type: "member", change: "role", userId: "cyd", role: "admin" })).toMatchObject({
          effects: { broadcast: [{ change: "role", role: "admin" }, { system: { event: "role", role: "admin" } }] },
        });
        expect(run(boss, { type: "member", change: "left", userId: "cyd", announce: false })).toMatchObject({
          effects: { broadcast: [{ type: "member", change: "left", v: 5 }] },
        });
        expect(store.lastSeq()).toBe(2);
        // The notice is the room's: its subject can neither edit nor delete it, and a purge of them
        // leaves it; a moderator may delete it.
        const cyd: Actor = { roomId: "r1", userId: "cyd", role: "member" };
        expect(run(cyd, { type: "edit", seq: 1, body: "I rule" })).toMatchObject({ result: { code: "conflict" } });
        expect(run(cyd, { type: "delete", seq: 1 })).toMatchObject({ result: { code: "forbidden" } });
        expect(run(boss, { type: "purge", userId: "cyd" })).toMatchObject({ result: { status: "ok", count: 0 } });
        expect(run(boss, { type: "delete", seq: 1 })).toMatchObject({ result: { status: "ok" } });
      },
      { systemMessages: true },
    );
  });

  it("with system messages off, membership changes are log entries only", async () => {
    await withStore(
      (run, store) => {
        run(boss, { type: "member", change: "joined", userId: "cyd" });
        run(boss, { type: "room", name: "New name" });
        expect(store.lastSeq()).toBe(0);
        expect(store.changesAfter(0, 10).map((c) => c.type)).toEqual(["member", "room"]);
      },
      { systemMessages: false },
    );
  });

  it("slow mode: exact at its edges, named, and owners and admins are exempt", async () => {
    await withStore((run, store) => {
      store.setMeta("slowModeSeconds", 10);
      const t0 = 2_000_000;
      expect(run(ana, { type: "send", clientMsgId: "s1", body: "x" }, t0)).toMatchObject({
        result: { status: "accepted" },
      });
      expect(run(ana, { type: "send", clientMsgId: "s2", body: "x" }, t0 + 9_999)).toMatchObject({
        result: { status: "throttled", retryAfterMs: 1, reason: "slow_mode" },
      });
      expect(run(ana, { type: "send", clientMsgId: "s3", body: "x" }, t0 + 10_000)).toMatchObject({
        result: { status: "accepted" },
      });
      // The room's own rate limit still applies to admins; slow mode does not.
      expect(run(boss, { type: "send", clientMsgId: "b1", body: "x" }, t0)).toMatchObject({
        result: { status: "accepted" },
      });
      expect(run(boss, { type: "send", clientMsgId: "b2", body: "x" }, t0 + 1)).toMatchObject({
        result: { status: "accepted" },
      });
    });
  });

  it("mutes: a muted member may read and nothing else, until the mute ends", async () => {
    await withStore((run, store) => {
      run(bob, { type: "send", clientMsgId: "m0", body: "before" }, 3_000_000);
      store.setSanction("bob", "mute", 3_010_000);
      for (const command of [
        { type: "send", clientMsgId: "m1", body: "x" },
        { type: "edit", seq: 1, body: "y" },
        { type: "react", seq: 1, emoji: "👍", on: true },
        { type: "pin", seq: 1, on: true },
      ] as RoomCommand[]) {
        expect(run(bob, command, 3_005_000)).toMatchObject({ result: { status: "rejected", code: "muted" } });
      }
      expect(run(bob, { type: "read", seq: 1 }, 3_005_000)).toMatchObject({ result: { status: "ok" } });
      expect(run(bob, { type: "send", clientMsgId: "m2", body: "x" }, 3_010_001)).toMatchObject({
        result: { status: "accepted" },
      });
    });
  });
});
