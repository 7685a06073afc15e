/**
 * `npm run bench:memory -- [sockets]`: where an idle hibernated socket's memory goes in the worker runtime.
 * For edgechat's room and for a bare hibernating Durable Object in the same workerd (the runtime's own
 * floor): connect half the sockets, let the room hibernate, connect the other half, and take the RSS
 * growth per socket, so fixed costs cancel out. For edgechat it also splits that growth into the
 * JavaScript heap (the room's own objects, read through the inspector after a forced GC) and the rest.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cdp, inspectorUrl } from "./lib/inspector.ts";
import { usage } from "./lib/proc.ts";
import { Subscribers } from "./load/clients.ts";
import type { SocketSpec } from "./load/subscribers.ts";
import { startBareRoom } from "./servers/bare-room.ts";
import { seedRoom, startEdgechat } from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sockets = Number(process.argv[2] ?? 1000);
const SETTLE_MS = 15_000;
const THREADS = 2;

interface Sample {
  rss: number;
  heapUsed?: number;
  heapTotal?: number;
}

const progress = (line: string) => console.error(`[bench:memory] ${line}`);
const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));

/** The growth from half the sockets to all of them, per added socket. */
async function slope(specs: SocketSpec[], measure: () => Promise<Sample>) {
  const half = Math.floor(specs.length / 2);
  const first = new Subscribers(specs.slice(0, half), THREADS);
  await first.ready;
  const a = await measure();
  const second = new Subscribers(specs.slice(half), THREADS);
  const { connected, failed, firstError } = await second.ready;
  if (failed > 0) throw new Error(`${failed} sockets failed to connect: ${firstError}`);
  const b = await measure();
  await first.close();
  await second.close();
  const per = (x: number) => x / Math.max(1, connected) / 1024;
  return {
    connected,
    rssKb: per(b.rss - a.rss),
    heapUsedKb: per((b.heapUsed ?? 0) - (a.heapUsed ?? 0)),
    heapTotalKb: per((b.heapTotal ?? 0) - (a.heapTotal ?? 0)),
  };
}

async function bare() {
  const room = await startBareRoom();
  try {
    progress(`bare room: ${sockets} sockets`);
    const specs = Array.from({ length: sockets }, () => ({ url: room.url0, headers: {} }));
    return await slope(specs, async () => {
      await settle();
      return { rss: usage(room.runtimePids()).rssBytes };
    });
  } finally {
    await room.stop();
  }
}

async function edgechat() {
  const edge = await startEdgechat(path.join(ROOT, "bench/results/edgechat-dev.log"));
  try {
    const url = await inspectorUrl(edge.runtimePids());
    const inspector = cdp(url);
    await nudged(edge.directPort, inspector.opened);
    const call = (method: string) => nudged(edge.directPort, inspector.call(method));
    await call("HeapProfiler.enable");
    const seeded = await seedRoom(edge, sockets, edge.directPort);
    progress(`edgechat: seeded ${sockets} members`);
    const result = await slope(seeded.subscribers, async () => {
      await settle();
      await call("HeapProfiler.collectGarbage");
      const heap = (await call("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number };
      return { rss: usage(edge.runtimePids()).rssBytes, heapUsed: heap.usedSize, heapTotal: heap.totalSize };
    });
    inspector.close();
    return result;
  } finally {
    await edge.stop();
  }
}

/**
 * workerd reads inspector messages when the isolate next runs, so an idle (hibernated) runtime can leave
 * a call unanswered; a request to /health every 100 ms until the reply comes wakes it.
 */
async function nudged<T>(port: number, reply: Promise<T>): Promise<T> {
  let done = false;
  void reply.finally(() => {
    done = true;
  });
  while (!done) {
    await Promise.race([reply, new Promise((r) => setTimeout(r, 100))]);
    if (!done)
      await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) }).catch((e) =>
        progress(`nudge: ${e}`),
      );
  }
  return reply;
}

async function main() {
  const floor = await bare();
  const edge = await edgechat();
  const kb = (x: number) => `${x.toFixed(1).padStart(7)} KB`;
  console.log(`Idle hibernated socket, memory per socket in workerd (${edge.connected} sockets added to one room):`);
  console.log(`  bare hibernating Durable Object   RSS ${kb(floor.rssKb)}`);
  console.log(
    `  edgechat ChatRoom                 RSS ${kb(edge.rssKb)}  (${(edge.rssKb / floor.rssKb).toFixed(2)}x bare)`,
  );
  console.log(`    of which JS heap used           ${kb(edge.heapUsedKb)}  (heap reserved ${kb(edge.heapTotalKb)})`);
  console.log(`    of which native (rest)          ${kb(edge.rssKb - edge.heapTotalKb)}`);
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
