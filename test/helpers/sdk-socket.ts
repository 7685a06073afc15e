/**
 * A SocketLike for the SDK inside the test runtime: upgrades through the worker's fetch (no TCP port
 * exists here), and can fail the way networks do: `drop()` is a connection the client sees die (1006)
 * while the server does not, `blackhole()` a network that silently stops carrying frames.
 */
import { exports } from "cloudflare:workers";
import type { SocketLike } from "../../src/client";

type Listener = (event: never) => void;

export class UpgradeSocket implements SocketLike {
  static all: UpgradeSocket[] = [];
  readyState = 0;
  private ws: WebSocket | null = null;
  private blackholed = false;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(url: string) {
    UpgradeSocket.all.push(this);
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
