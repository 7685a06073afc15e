import type { Server } from "node:http";
import net from "node:net";

/** True when something accepts TCP connections on host:port within timeoutMs. */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** A port the OS reports free right now (for helpers we spawn ourselves, like redis-server). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export class PortInUseError extends Error {
  readonly port: number;
  constructor(port: number, what: string, envVar: string) {
    super(
      `Port ${port} is already in use, so the ${what} cannot start. Stop whatever holds it (\`ss -ltnp 'sport = :${port}'\` shows it) or set ${envVar} to another port.`,
    );
    this.name = "PortInUseError";
    this.port = port;
  }
}

/** Listens on 127.0.0.1 only (these bridges trust their callers) and turns EADDRINUSE into a readable error. */
export function listen(server: Server, port: number, what: string, envVar: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(err.code === "EADDRINUSE" ? new PortInUseError(port, what, envVar) : err);
    };
    server.once("error", onError);
    // The worker runtime keeps connections alive and reuses them; Node closing an idle one after its
    // default 5 s races with that reuse and the runtime sees "Network connection lost" (seen under the
    // benchmark's connect storm). Outlive the client's idle timeout instead.
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 125_000;
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}
