/**
 * Where a room connection keeps sends the room has not acknowledged yet, so they survive a reload and
 * go out again with the same clientMsgId (the room acks a resend with the original seq and stores
 * nothing twice: delivered once, however many times the page was reloaded). Browsers use IndexedDB;
 * Node and Workers use memory unless the app passes a storage of its own.
 */
import type { CustomData } from "../protocol/frames";

/** One unacknowledged send, as it goes on the wire again. */
export interface StoredSend {
  clientMsgId: string;
  body: string;
  replyTo?: number;
  attachments?: string[];
  custom?: CustomData;
  /** Epoch ms when the app made the send, and a tie-breaker: sends go out in this order. */
  createdAt: number;
  order: number;
}

/** Keyed per user and room (`<userId>:<roomId>`), so two accounts in one browser never mix. */
export interface OutboxStorage {
  load(key: string): Promise<StoredSend[]>;
  put(key: string, send: StoredSend): Promise<void>;
  delete(key: string, clientMsgId: string): Promise<void>;
}

/** Sends in the order they were made. */
export function inOrder(sends: StoredSend[]): StoredSend[] {
  return [...sends].sort((a, b) => a.createdAt - b.createdAt || a.order - b.order);
}

/** Keeps sends in memory for as long as this object lives (share one between connections to test reloads). */
export function memoryOutboxStorage(): OutboxStorage {
  const rooms = new Map<string, Map<string, StoredSend>>();
  return {
    load: async (key) => inOrder([...(rooms.get(key)?.values() ?? [])]),
    put: async (key, send) => {
      const sends = rooms.get(key) ?? new Map<string, StoredSend>();
      sends.set(send.clientMsgId, structuredClone(send));
      rooms.set(key, sends);
    },
    delete: async (key, clientMsgId) => {
      rooms.get(key)?.delete(clientMsgId);
    },
  };
}

// --- IndexedDB ------------------------------------------------------------------------------------

/** The parts of IndexedDB used here (the SDK is typed for Workers, which have none). */
interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
}
interface IdbStore {
  put(value: unknown): IdbRequest<unknown>;
  delete(key: unknown): IdbRequest<unknown>;
  index(name: string): { getAll(query: unknown): IdbRequest<unknown[]> };
  createIndex(name: string, keyPath: string): unknown;
}
interface IdbTransaction {
  objectStore(name: string): IdbStore;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  error: unknown;
}
interface IdbDatabase {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string, opts: { keyPath: string[] }): IdbStore;
  transaction(store: string, mode: "readonly" | "readwrite"): IdbTransaction;
}
interface IdbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

const DB_NAME = "edgechat";
const STORE = "outbox";

/** IndexedDB when this runtime has it (browsers), else null. */
export function indexedDbOutboxStorage(): OutboxStorage | null {
  const idb = (globalThis as { indexedDB?: IdbFactory }).indexedDB;
  if (!idb) return null;
  let opened: Promise<IdbDatabase> | null = null;
  const db = () => {
    opened ??= new Promise<IdbDatabase>((resolve, reject) => {
      const req = idb.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        const store = req.result.objectStoreNames.contains(STORE)
          ? null
          : req.result.createObjectStore(STORE, { keyPath: ["key", "clientMsgId"] });
        store?.createIndex("key", "key");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => {
        opened = null;
        reject(req.error);
      };
    });
    return opened;
  };
  /** Runs `fn` in one transaction and resolves once it has committed (a put is on disk then). */
  const run = async <T>(mode: "readonly" | "readwrite", fn: (store: IdbStore) => IdbRequest<T>): Promise<T> => {
    const tx = (await db()).transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    return new Promise<T>((resolve, reject) => {
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  };
  return {
    load: async (key) => {
      const rows = (await run("readonly", (s) => s.index("key").getAll(key))) as (StoredSend & { key: string })[];
      return inOrder(rows.map(({ key: _k, ...send }) => send));
    },
    put: async (key, send) => {
      await run("readwrite", (s) => s.put({ ...send, key }));
    },
    delete: async (key, clientMsgId) => {
      await run("readwrite", (s) => s.delete([key, clientMsgId]));
    },
  };
}
