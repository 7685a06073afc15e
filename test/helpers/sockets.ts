import { exports } from "cloudflare:workers";

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

export async function upgrade(roomId: string, headers: Record<string, string>): Promise<Response> {
  return exports.default.fetch(`http://edgechat.test/api/rooms/${roomId}/ws`, {
    headers: { Upgrade: "websocket", ...headers },
  });
}

export async function connect(
  roomId: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<TestSocket> {
  const res = await upgrade(roomId, { Authorization: `Bearer ${token}`, ...headers });
  if (res.status !== 101 || !res.webSocket) throw new Error(`expected 101, got ${res.status}: ${await res.text()}`);
  return new TestSocket(res.webSocket);
}
