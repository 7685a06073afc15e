/**
 * The one socket fixture: every WebSocket a test opens, raw or through the SDK, comes from a pool that
 * closes it after the test, so a failing test cannot leave sockets that keep a room awake for the next.
 */
import { exports } from "cloudflare:workers";
import { afterEach } from "vitest";
import type { SocketLike } from "../../src/client";

export type Frame = { type: string; [k: string]: unknown };

/** A client socket with a frame inbox, so tests can await the next frame of a given type. */
export class TestSocket {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.accept();
    ws.addEventListener("message", (e) => {
      this.frames.push(JSON.parse(e.data as string) as Frame);
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Resolves with (and removes) the first frame of this type, waiting up to timeoutMs for it. */
  async next(type: string, timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0] as Frame;
      if (Date.now() > deadline)
        throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await this.wait(deadline - Date.now());
    }
  }

  /** Resolves with the index of the first frame matching `test` once it has arrived, leaving frames in place. */
  async until(test: (f: Frame) => boolean, timeoutMs = 3000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(test);
      if (i >= 0) return i;
      if (Date.now() > deadline)
        throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await this.wait(deadline - Date.now());
    }
  }

  async waitClosed(timeoutMs = 3000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket did not close");
      await this.wait(deadline - Date.now());
    }
    return this.closed;
  }

  close(): void {
    try {
      this.ws.close(1000, "test done");
    } catch {
      // already closed
    }
  }

  // Woken by the next frame or close, so a wait costs no polling and ends as soon as anything arrives.
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(ms, 1));
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

type Listener = (event: never) => void;

/**
 * A SocketLike for the SDK inside the test runtime: upgrades through the worker's fetch (no TCP port
 * exists here), and can fail the way networks do: `drop()` is a connection the client sees die (1006)
 * while the server does not, `blackhole()` a network that silently stops carrying frames.
 */
export class UpgradeSocket implements SocketLike {
  readyState = 0;
  private ws: WebSocket | null = null;
  private blackholed = false;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(url: string) {
    exports.default
      .fetch(url.replace(/^ws/, "http"), { headers: { Upgrade: "websocket" } })
      .then((res) => {
        if (res.status !== 101 || !res.webSocket)
          return this.fire("close", { code: 1006, reason: `HTTP ${res.status}` });
        const ws = res.webSocket;
        this.ws = ws;
        ws.accept();
        this.readyState = 1;
        this.fire("open", {});
        ws.addEventListener("message", (e) => {
          if (!this.blackholed) this.fire("message", { data: e.data });
        });
        ws.addEventListener("close", (e) => this.closed(e.code, e.reason));
      })
      .catch((err: Error) => this.closed(1006, err.message));
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    if (!this.blackholed) this.ws?.send(data);
  }

  close(code?: number, reason?: string): void {
    try {
      this.ws?.close(code, reason);
    } catch {
      // already closed
    }
    this.closed(code ?? 1000, reason ?? "");
  }

  /** The client sees the connection die; the server keeps its end until its own sweep. */
  drop(): void {
    this.blackholed = true;
    this.closed(1006, "network dropped");
  }

  /** Frames stop flowing both ways and no close ever comes. */
  blackhole(): void {
    this.blackholed = true;
  }

  private closed(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.fire("close", { code, reason });
  }

  private fire(type: string, event: unknown): void {
    for (const l of this.listeners.get(type) ?? []) (l as (e: unknown) => void)(event);
  }
}

/** The upgrade request as a client sends it; answers whatever the worker answers (101 or a refusal). */
export async function upgrade(roomId: string, headers: Record<string, string>, query = ""): Promise<Response> {
  return exports.default.fetch(`http://edgechat.test/api/rooms/${roomId}/ws${query}`, {
    headers: { Upgrade: "websocket", ...headers },
  });
}

/** Sockets and SDK objects opened by a test, all closed by `closeAll` (see `useSocketPool`). */
export class SocketPool {
  private readonly sockets: { close(): void }[] = [];
  private readonly owners: { close(): void }[] = [];

  /** A member's socket, open but not yet past its welcome frame. */
  async connect(roomId: string, token: string, headers: Record<string, string> = {}, query = ""): Promise<TestSocket> {
    const res = await upgrade(roomId, { Authorization: `Bearer ${token}`, ...headers }, query);
    if (res.status !== 101 || !res.webSocket) throw new Error(`expected 101, got ${res.status}: ${await res.text()}`);
    return this.adopt(res.webSocket);
  }

  /** A member's socket after its welcome frame: in the room's online set, seen by everyone else. */
  async join(roomId: string, token: string): Promise<TestSocket> {
    const socket = await this.connect(roomId, token);
    await socket.next("welcome");
    return socket;
  }

  /** A protocol-2 socket that has the room up to `since`: its catch-up starts at once. */
  async since(roomId: string, token: string, since: number): Promise<TestSocket> {
    return this.connect(roomId, token, {}, `?since=${since}`);
  }

  /** Takes over a socket a test upgraded itself (with a ticket, say). */
  adopt(ws: WebSocket): TestSocket {
    const socket = new TestSocket(ws);
    this.sockets.push(socket);
    return socket;
  }

  /** A socket factory for the SDK's `webSocket` option. */
  sdkSocket(url: string): UpgradeSocket {
    const socket = new UpgradeSocket(url);
    this.sockets.push(socket);
    return socket;
  }

  /** An SDK client or room connection, closed before any socket so it cannot reconnect during cleanup. */
  track<T extends { close(): void }>(owner: T): T {
    this.owners.push(owner);
    return owner;
  }

  closeAll(): void {
    for (const o of this.owners.splice(0)) o.close();
    for (const s of this.sockets.splice(0)) s.close();
  }
}

/** A pool for the calling test file, emptied after each of its tests. */
export function useSocketPool(): SocketPool {
  const pool = new SocketPool();
  afterEach(() => pool.closeAll());
  return pool;
}
