/**
 * What RoomConnection needs from a WebSocket. The default is the platform's global WebSocket (browsers,
 * Node >= 22, Workers); Node 20 users pass `(url) => new (require("ws"))(url)`; tests pass their own.
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
}

export type SocketFactory = (url: string) => SocketLike;

export const OPEN = 1;

export const defaultSocketFactory: SocketFactory = (url) => {
  const WS = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
  if (!WS) throw new Error("No global WebSocket here: pass `webSocket: (url) => new WebSocket(url)` (e.g. from ws)");
  return new WS(url);
};
