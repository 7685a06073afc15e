/**
 * `npm run bench:connect -- [rooms] [members] [rate] [--seed sql|api] [--reconnect N]`: connect storms into
 * edgechat straight to the worker runtime: every member of every room opens its socket at a fixed arrival
 * rate (open loop), twice: "first" (nobody connected before: each room asks Postgres once per member it
 * has not seen, and each session's state is read from Postgres once) and, after every socket closed,
 * "again" (steady state: the rooms vouch for their members, the sessions are cached in Redis). Prints
 * connect p50/p99/max, failures, and the servers' CPU per connect by process (from /proc). `--seed sql`
 * (default) writes the rooms straight into Postgres; `--seed api` makes them through POST /api/rooms, so
 * each room recorded its members before anyone connects (locally this also wakes an inbox object per
 * user, three open files each: keep rooms × members × 5 under the open-files limit). `--reconnect N`:
 * afterwards, N sockets of one room drop and reconnect at once (a deploy), and the time until all are
 * welcomed again.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { summarize } from "./lib/histogram.ts";
import { breakdown, snapshot } from "./lib/proc.ts";
import { Subscribers } from "./load/clients.ts";
import { pinLoadGenerator, type SeededRoom, seedRooms, seedRoomsThroughApi, startEdgechat } from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const positional = argv.filter((a, i) => !a.startsWith("--") && !/^--(seed|reconnect)$/.test(argv[i - 1] ?? ""));
const rooms = Number(positional[0] ?? 700);
const members = Number(positional[1] ?? 10);
const rate = Number(positional[2] ?? 500);
const seed = option("seed", "sql");
const reconnect = Number(option("reconnect", "0"));
const log = (line: string) => console.error(`[bench:connect] ${line}`);

async function main() {
  pinLoadGenerator();
  const edge = await startEdgechat(path.join(ROOT, "bench/results/edgechat-dev.log"));
  try {
    log(`seeding ${rooms} rooms × ${members} (${seed})`);
    const seeded: SeededRoom[] =
      seed === "sql"
        ? await seedRooms(edge, rooms, members, edge.directPort)
        : await seedRoomsThroughApi(edge, rooms, members, edge.directPort);
    const sockets = seeded.flatMap((r) => r.members);
    for (const phase of ["first", "again"] as const) {
      const before = snapshot(edge.pids());
      const started = performance.now();
      const subs = new Subscribers(sockets, 2, { connectRate: rate });
      const { connected, failed, firstError, connect } = await subs.ready;
      const wallMs = performance.now() - started;
      const cpu = breakdown(before, edge.pids());
      const c = summarize(connect);
      console.log(
        `\n${phase}: ${sockets.length} sockets into ${rooms} rooms at ${rate}/s (${seed} rooms): ` +
          `connected ${connected}, failed ${failed}${firstError ? ` (${firstError})` : ""}, ` +
          `connect p50 ${c.p50} ms, p99 ${c.p99} ms, max ${c.max} ms, storm took ${Math.round(wallMs)} ms`,
      );
      const per = Object.entries(cpu)
        .filter(([, ms]) => ms > 0)
        .map(([name, ms]) => `${name} ${Math.round((ms * 1000) / Math.max(1, connected))}`);
      const total = Object.values(cpu).reduce((n, ms) => n + ms, 0);
      console.log(
        `Server CPU per connect (µs): ${Math.round((total * 1000) / Math.max(1, connected))} in all: ${per.join(", ")}`,
      );
      await subs.close();
      // Let the rooms see the closes before the next storm.
      await new Promise((r) => setTimeout(r, 5000));
    }

    if (reconnect > 0) {
      const one = await seedRoomsThroughApi(edge, 1, reconnect, edge.directPort);
      const first = new Subscribers((one[0] as SeededRoom).members, 2);
      await first.ready;
      await first.close();
      const t0 = performance.now();
      const again = new Subscribers((one[0] as SeededRoom).members, 2, { connectRate: 1_000_000 });
      const r = await again.ready;
      const all = performance.now() - t0;
      const rc = summarize(r.connect);
      console.log(
        `Reconnect wave: ${reconnect} sockets of one room at once: connected ${r.connected}, failed ${r.failed}, ` +
          `p50 ${rc.p50} ms, p99 ${rc.p99} ms, all in ${Math.round(all)} ms`,
      );
      await again.close();
    }
  } finally {
    await edge.stop();
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
