/**
 * Who may open a socket in this room, answered by the room itself so an upgrade in steady state needs no
 * Postgres query (issue 24). Postgres stays the truth; the room only remembers positive answers it can
 * trust, and any doubt sends the worker to Postgres:
 *
 * - the roster: members as the room recorded them from committed membership changes
 *   (commands/membership.ts), so a room whose members all came through the API knows every one of them;
 * - answers Postgres gave the worker for this room, remembered here (`confirm`);
 * - a revocation (removal, leave, ban) is announced to the room before Postgres commits it (`revoking`,
 *   which the route must get through or it commits nothing) and again after (`revoked`, with the sockets
 *   closed: disconnectUser). In between, and for good if the second call never arrives, the user is
 *   looked up in Postgres on every upgrade and nothing is remembered for them. After it, a Postgres answer
 *   is remembered only if no revocation happened since the worker was told to ask (an epoch the room
 *   bumps on each), so no answer read before a removal can be remembered after it.
 *
 * Never a negative: "gone", unknown, pending, stale or a moved epoch all mean "ask Postgres", so a room
 * that missed something can only cost a query, never let anyone in. Kept in the object's synchronous KV
 * storage (SQLite-backed, wiped with the room), apart from the room's own tables.
 */
import type { Role } from "../protocol/identity";

const EPOCH = "member:epoch";
const cached = (userId: string) => `member:role:${userId}`;
/** 1: a revocation is being committed in Postgres (`revoking`); 2: it was (`revoked`). */
const doubt = (userId: string) => `member:doubt:${userId}`;
const PENDING = 1;
const DONE = 2;

export type MembershipAnswer = { known: true; role: Role } | { known: false; epoch: number };

export interface RosterReader {
  /** The role the room last recorded for the user, "gone", or null when it never recorded them. */
  rosterRole(userId: string): string | null;
}

const ROLES = new Set<string>(["owner", "admin", "member"]);

export class MemberCache {
  private readonly kv: SyncKvStorage;
  private readonly roster: RosterReader;

  constructor(kv: SyncKvStorage, roster: RosterReader) {
    this.kv = kv;
    this.roster = roster;
  }

  epoch(): number {
    return this.kv.get<number>(EPOCH) ?? 0;
  }

  /** The user's role if the room can vouch for it, else the epoch the worker's Postgres answer must carry. */
  lookup(userId: string): MembershipAnswer {
    if (!this.kv.get(doubt(userId))) {
      const role = this.kv.get<string>(cached(userId)) ?? this.roster.rosterRole(userId);
      if (role && ROLES.has(role)) return { known: true, role: role as Role };
    }
    return { known: false, epoch: this.epoch() };
  }

  /**
   * Postgres said `role`, as the worker read it after the room told it `epoch`. "accept": open the socket
   * (and the answer is remembered); "accept-once": open it but remember nothing (a revocation of this user
   * is being committed: the disconnect that follows it closes this socket too); "retry": a revocation
   * came in between, so the answer may predate it: ask Postgres again.
   */
  confirm(userId: string, role: Role, epoch: number): "accept" | "accept-once" | "retry" {
    if (epoch !== this.epoch()) return "retry";
    if (this.kv.get(doubt(userId)) === PENDING) return "accept-once";
    this.kv.put(cached(userId), role);
    this.kv.delete(doubt(userId));
    return "accept";
  }

  /** Before Postgres removes or bans `userId` (the route stops if this fails). */
  revoking(userId: string): void {
    this.forget(userId, PENDING);
  }

  /** After Postgres removed, banned or re-roled `userId` (with their sockets closed). */
  revoked(userId: string): void {
    this.forget(userId, DONE);
  }

  private forget(userId: string, state: number): void {
    this.kv.delete(cached(userId));
    this.kv.put(doubt(userId), state);
    this.kv.put(EPOCH, this.epoch() + 1);
  }
}
