/**
 * `npm run bench:connect -- [rooms] [members] [rate] [--seed api|sql] [--warm] [--reconnect N]`: a connect
 * storm into edgechat straight to the worker runtime: every member of every room opens its socket at a
 * fixed arrival rate (open loop). Prints connect p50/p99/max, failures, and the servers' CPU per connect
 * by process (from /proc). `--seed api` (default) makes the rooms through POST /api/rooms, so each room
 * recorded its members and vouches for them at upgrade; `--seed sql` writes them straight into Postgres
 * (the room asks Postgres once per member). `--warm`: each user made one REST request first, so their
 * session state is cached in Redis (steady state). `--reconnect N`: afterwards, N sockets of one room
 * drop and reconnect at once (a deploy), and the time until all are welcomed again.
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
const seed = option("seed", "api");
const warm = argv.includes("--warm");
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
    if (warm) {
      log("warming sessions (one REST request per user)");
      const users = seeded.flatMap((r) => r.members.map((m) => ({ room: r.id, headers: m.headers })));
      const queue = [...users];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let u = queue.shift(); u; u = queue.shift())
            await fetch(`http://127.0.0.1:${edge.directPort}/api/rooms/${u.room}`, { headers: u.headers }).then((r) =>
              r.arrayBuffer(),
            );
        }),
      );
    }
    const sockets = seeded.flatMap((r) => r.members);
    const before = snapshot(edge.pids());
    const started = performance.now();
    const subs = new Subscribers(sockets, 2, { connectRate: rate });
    const { connected, failed, firstError, connect } = await subs.ready;
    const wallMs = performance.now() - started;
    const cpu = breakdown(before, edge.pids());
    const c = summarize(connect);
    console.log(
      `\n${sockets.length} sockets into ${rooms} rooms at ${rate}/s (${seed} rooms${warm ? ", sessions warm" : ""}): ` +
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
