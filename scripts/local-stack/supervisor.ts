/**
 * Keeps one child process running (for `npm run dev`: wrangler) while everything around it stays up. Wrangler
 * exits on errors that are no fault of the stack (a client that hangs up mid-body ends it: workers-sdk #15203,
 * #15447), and restarting it is cheap, whereas restarting Postgres, Redis and the bridges loses connections and
 * state. Each child runs in its own process group, so workerd and anything else it starts go with it.
 */
import type { ChildProcess } from "node:child_process";

export interface SupervisorOptions {
  start: () => ChildProcess;
  /** One line per event, e.g. "wrangler exited (signal SIGKILL); restarting it …". */
  log: (line: string) => void;
  /** What the child is, for the log lines. */
  name: string;
  /** A child that ran at least this long is counted as healthy: its death restarts it at once. */
  healthyAfterMs?: number;
  /** Quick deaths in a row back off from this delay, doubling… */
  firstBackoffMs?: number;
  /** …up to this one. */
  maxBackoffMs?: number;
  /** After this many quick deaths in a row the child is given up on (a broken config will not mend itself). */
  maxQuickDeaths?: number;
  /** Called once when the supervisor gives up, with the last exit code. */
  onGiveUp: (code: number) => void;
}

export interface Supervisor {
  /** The child now running (or the last one, between restarts). */
  current(): ChildProcess;
  restarts(): number;
  /** Stops the child's whole process group and restarts nothing after. */
  stop(): Promise<void>;
}

export function supervise(opts: SupervisorOptions): Supervisor {
  const healthyAfterMs = opts.healthyAfterMs ?? 10_000;
  const firstBackoffMs = opts.firstBackoffMs ?? 1000;
  const maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  const maxQuickDeaths = opts.maxQuickDeaths ?? 5;
  let stopping = false;
  let quickDeaths = 0;
  let restarts = 0;
  let timer: NodeJS.Timeout | undefined;
  let child = launch();

  function launch(): ChildProcess {
    const started = Date.now();
    const c = opts.start();
    c.once("exit", (code, signal) => {
      // workerd (or whatever else the child started) may outlive it and hold the port the next one needs.
      if (c.pid) signalGroup(c.pid, "SIGKILL");
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      quickDeaths = Date.now() - started < healthyAfterMs ? quickDeaths + 1 : 0;
      if (quickDeaths >= maxQuickDeaths) {
        opts.log(`${opts.name} exited (${how}) ${quickDeaths} times in a row within seconds of starting; giving up`);
        opts.onGiveUp(code ?? 1);
        return;
      }
      const delay = quickDeaths === 0 ? 0 : Math.min(maxBackoffMs, firstBackoffMs * 2 ** (quickDeaths - 1));
      opts.log(
        `${opts.name} exited (${how}); restarting it${delay ? ` in ${(delay / 1000).toFixed(1)} s` : ""}, the rest of the stack stays up`,
      );
      timer = setTimeout(() => {
        timer = undefined;
        if (stopping) return;
        restarts++;
        child = launch();
      }, delay);
    });
    return c;
  }

  return {
    current: () => child,
    restarts: () => restarts,
    stop: async () => {
      stopping = true;
      if (timer) clearTimeout(timer);
      await stopGroup(child);
    },
  };
}

/** SIGTERM to the group, SIGKILL if it has not gone in 5 s, and SIGKILL to whatever of the group is left. */
export function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return Promise.resolve();
  if (child.exitCode !== null || child.signalCode !== null) {
    signalGroup(pid, "SIGKILL");
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const force = setTimeout(() => signalGroup(pid, "SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(force);
      signalGroup(pid, "SIGKILL");
      resolve();
    });
    signalGroup(pid, "SIGTERM");
  });
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // group already gone
  }
}
