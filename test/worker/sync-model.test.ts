/**
 * Model-based: random sequences of sends, edits, deletes, reactions, pins, reads, joins and leaves by
 * several SDK clients, with random disconnects, evictions of the room object and Postgres cuts. At the
 * end every client's room state equals every other's, a fresh load's, and what Postgres holds.
 * MODEL_RUNS sets how many sequences run (CI: a few; `MODEL_RUNS=50 npx vitest run … sync-model` for
 * a nightly-size run).
 */
import { evictDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { asc, eq } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { EdgechatClient, type RoomConnection, type RoomSnapshot } from "../../src/client";
import { messageReactions, messages, pins } from "../../src/db/schema";
import { isolatedPostgresFault } from "../helpers/faults";
import { db } from "../helpers/fixtures";
import { stubFor } from "../helpers/rooms";
import { type UpgradeSocket, useSocketPool } from "../helpers/sockets";

const pool = useSocketPool();
const RUNS = Number(env.MODEL_RUNS ?? 4);
const until = (check: () => boolean, timeout = 20_000) => vi.waitUntil(check, { timeout, interval: 25 });

/** The connection holds the whole room (settings and members loaded) at this version, and is live. */
const loaded = (p: Person, version: number) => {
  const s = p.conn?.roomState;
  return s?.version === version && s.settings !== null && s.members !== null && p.conn?.state === "open";
};

interface Person {
  client: EdgechatClient;
  userId: string;
  sockets: UpgradeSocket[];
  conn: RoomConnection | null;
}

interface World {
  roomId: string;
  owner: Person;
  people: Person[];
  /** Who is a member now (the owner always is). */
  members: Set<number>;
  /** Messages known to exist, with their sender index. */
  sent: { seq: number; by: number }[];
  fault: Awaited<ReturnType<typeof isolatedPostgresFault>> | null;
  cut: boolean;
}

async function person(name: string): Promise<Person> {
  const p: Person = { sockets: [], conn: null } as unknown as Person;
  p.client = pool.track(
    new EdgechatClient({
      baseUrl: "http://edgechat.test",
      fetch: (input, init) => exports.default.fetch(input as string, init),
      webSocket: (url) => {
        const s = pool.sdkSocket(url);
        p.sockets.push(s);
        return s;
      },
    }),
  );
  const user = await p.client.register({
    email: `${name}-${crypto.randomUUID()}@example.test`,
    displayName: name,
    password: "correct horse battery",
  });
  p.userId = user.id;
  return p;
}

function connect(p: Person, roomId: string): void {
  p.conn = pool.track(
    p.client.room(roomId, { pageSize: 100, minDelayMs: 20, maxDelayMs: 300, pingIntervalMs: 60_000 }),
  );
  p.conn.connect();
}

/** A REST call that may be refused by the rules (deleted, not yours, throttled): the model ignores those. */
async function attempt(fn: () => Promise<unknown>): Promise<void> {
  await fn().catch((err: { status?: number }) => {
    if (!err.status || err.status >= 500) throw err;
  });
}

type Cmd = fc.AsyncCommand<object, World>;
const pick = <T>(xs: T[], i: number): T | undefined => (xs.length === 0 ? undefined : xs[i % xs.length]);

class Send implements Cmd {
  constructor(
    readonly who: number,
    readonly replyTo: number | null,
  ) {}
  check = (_m: object) => true;
  async run(_m: object, w: World) {
    if (!w.members.has(this.who)) return;
    const p = w.people[this.who] as Person;
    const reply = this.replyTo === null ? undefined : pick(w.sent, this.replyTo)?.seq;
    const id = `m-${crypto.randomUUID()}`;
    await attempt(async () => {
      const { message } = await p.client.messages.send(w.roomId, {
        clientMsgId: id,
        body: `from ${this.who}`,
        ...(reply ? { replyTo: reply } : {}),
      });
      w.sent.push({ seq: message.seq, by: this.who });
    });
  }
  toString = () => `send(${this.who}${this.replyTo === null ? "" : `, reply ${this.replyTo}`})`;
}

class Change implements Cmd {
  constructor(
    readonly who: number,
    readonly target: number,
    readonly what: "edit" | "delete" | "react" | "unreact" | "pin" | "unpin" | "read",
    readonly emoji: string,
  ) {}
  check = (_m: object) => true;
  async run(_m: object, w: World) {
    if (!w.members.has(this.who)) return;
    const msg = pick(w.sent, this.target);
    if (!msg) return;
    const api = (w.people[this.who] as Person).client.messages;
    const conn = (w.people[this.who] as Person).conn;
    switch (this.what) {
      case "edit":
        return attempt(() => api.edit(w.roomId, msg.seq, `edited by ${this.who}`));
      case "delete":
        return attempt(() => api.delete(w.roomId, msg.seq));
      case "react":
      case "unreact":
        // Over the socket when it is open (the frames' path), else REST.
        if (conn?.state === "open") return conn.react(msg.seq, this.emoji, this.what === "react");
        return attempt(() =>
          this.what === "react" ? api.react(w.roomId, msg.seq, this.emoji) : api.unreact(w.roomId, msg.seq, this.emoji),
        );
      case "pin":
        return attempt(() => api.pin(w.roomId, msg.seq));
      case "unpin":
        return attempt(() => api.unpin(w.roomId, msg.seq));
      case "read":
        return attempt(() => api.read(w.roomId, msg.seq));
    }
  }
  toString = () => `${this.what}(${this.who}, #${this.target}${this.what.includes("react") ? ` ${this.emoji}` : ""})`;
}

class Membership implements Cmd {
  constructor(readonly who: number) {}
  check = (_m: object) => true;
  async run(_m: object, w: World) {
    if (this.who === 0) return;
    const p = w.people[this.who] as Person;
    if (w.members.has(this.who)) {
      p.conn?.close();
      p.conn = null;
      await p.client.rooms.leave(w.roomId);
      w.members.delete(this.who);
    } else {
      await w.owner.client.rooms.invite(w.roomId, p.userId);
      w.members.add(this.who);
      connect(p, w.roomId);
    }
  }
  toString = () => `toggle membership(${this.who})`;
}

class Drop implements Cmd {
  constructor(readonly who: number) {}
  check = (_m: object) => true;
  async run(_m: object, w: World) {
    (w.people[this.who] as Person).sockets.at(-1)?.drop();
  }
  toString = () => `drop socket(${this.who})`;
}

class Evict implements Cmd {
  check = (_m: object) => true;
  async run(_m: object, w: World) {
    // Evicting an object that is not running (evicted a moment ago, nothing since) is refused: wake it.
    const stub = stubFor(w.roomId);
    await stub.stats();
    await evictDurableObject(stub);
    // The fault's override lives in the object's memory: a new instance needs it again.
    if (w.fault && w.cut) await w.fault.reapply();
  }
  toString = () => "evict room";
}

class PostgresCut implements Cmd {
  constructor(readonly on: boolean) {}
  check = (_m: object) => true;
  async run(_m: object, w: World) {
    w.fault ??= await isolatedPostgresFault(stubFor(w.roomId));
    await w.fault.reapply();
    await (this.on ? w.fault.cut() : w.fault.restore());
    w.cut = this.on;
  }
  toString = () => (this.on ? "cut Postgres" : "restore Postgres");
}

const PEOPLE = 4;
const who = fc.integer({ min: 0, max: PEOPLE - 1 });
const commands = fc.commands(
  [
    fc.tuple(who, fc.option(fc.nat(), { nil: null })).map(([w, r]) => new Send(w, r)),
    fc
      .tuple(
        who,
        fc.nat(),
        fc.constantFrom("edit", "delete", "react", "unreact", "pin", "unpin", "read" as const),
        fc.constantFrom("👍", "❤️", "🎉"),
      )
      .map(([w, t, what, e]) => new Change(w, t, what as Change["what"], e)),
    fc.integer({ min: 1, max: PEOPLE - 1 }).map((w) => new Membership(w)),
    who.map((w) => new Drop(w)),
    fc.constant(new Evict()),
    fc.boolean().map((on) => new PostgresCut(on)),
  ],
  { maxCommands: 25 },
);

/** Postgres' view of the room, in the snapshot's terms (reactions as counts per emoji). */
async function postgresView(roomId: string) {
  const rows = await db().select().from(messages).where(eq(messages.roomId, roomId)).orderBy(asc(messages.seq));
  const reactions = await db().select().from(messageReactions).where(eq(messageReactions.roomId, roomId));
  const pinned = new Set((await db().select().from(pins).where(eq(pins.roomId, roomId))).map((p) => p.seq));
  return rows.map((r) => {
    const counts: Record<string, number> = {};
    for (const x of reactions.filter((x) => x.seq === r.seq)) counts[x.emoji] = (counts[x.emoji] ?? 0) + 1;
    return {
      seq: r.seq,
      body: r.deletedAt ? null : r.body,
      deleted: r.deletedAt !== null,
      edited: r.editedAt !== null,
      reactions: Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1))),
      pinned: pinned.has(r.seq),
    };
  });
}

function essentials(s: RoomSnapshot) {
  return s.messages.map((m) => ({
    seq: m.seq,
    body: m.body,
    deleted: m.deletedAt !== null,
    edited: m.editedAt !== null,
    reactions: m.reactions,
    pinned: m.pinned,
  }));
}

describe("conversation sync, model-based", () => {
  it(
    "every client ends with the same state as every other, a fresh load, and Postgres",
    async () => {
      await fc.assert(
        fc.asyncProperty(commands, async (cmds) => {
          const people = await Promise.all(Array.from({ length: PEOPLE }, (_, i) => person(`p${i}`)));
          const owner = people[0] as Person;
          const room = await owner.client.rooms.create({ name: "model" });
          for (const p of people.slice(1)) await owner.client.rooms.invite(room.id, p.userId);
          const world: World = {
            roomId: room.id,
            owner,
            people,
            members: new Set(people.map((_, i) => i)),
            sent: [],
            fault: null,
            cut: false,
          };
          for (const p of people) connect(p, room.id);
          await fc.asyncModelRun(() => ({ model: {}, real: world }), cmds);

          // Heal: Postgres back, every socket allowed to reconnect, the outbox drained.
          if (world.fault) {
            await world.fault.reapply();
            await world.fault.restore();
            world.cut = false;
          }
          while ((await stubFor(room.id).drainOutbox()).depth > 0) await new Promise((r) => setTimeout(r, 50));
          const version = (await owner.client.rooms.get(room.id)).version;
          const live = people.filter((_, i) => world.members.has(i));
          await until(() => live.every((p) => loaded(p, version)));
          const f = await person("fresh");
          await owner.client.rooms.invite(room.id, f.userId);
          connect(f, room.id);
          const after = (await owner.client.rooms.get(room.id)).version;
          await until(() => [...live, f].every((p) => loaded(p, after)));

          const want = (live[0] as Person).conn?.snapshot() as RoomSnapshot;
          for (const p of [...live.slice(1), f]) expect(p.conn?.snapshot()).toEqual(want);
          expect(essentials(want)).toEqual(await postgresView(room.id));
          for (const p of [...people, f]) p.conn?.close();
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    },
    Math.max(240_000, RUNS * 30_000),
  );
});
