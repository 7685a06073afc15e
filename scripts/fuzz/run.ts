/**
 * `npm run fuzz -- --frames 100000 --rest 3000`: fast-check fuzzing of the room's frame parser and
 * dispatch, and of every REST route's body and query string. Starts `npm run dev` on spare ports with
 * its own database (or uses --base-url with --log, the running stack's captured output), then checks
 * that the server still answers, the room's seqs are gapless, and the log holds no uncaught error.
 */
import "../chaos/ts-resolve.ts";
import { mkdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { startDevServer } from "../local-stack/dev-server.ts";

const { values } = parseArgs({
  options: {
    frames: { type: "string", default: process.env.FUZZ_FRAMES ?? "100000" },
    rest: { type: "string", default: process.env.FUZZ_REST ?? "3000" },
    sockets: { type: "string", default: "4" },
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    "base-url": { type: "string" },
    log: { type: "string" },
    /** Routes to leave out, e.g. "PUT /api/attachments/:id/content", while a known crash is being fixed. */
    skip: { type: "string", default: "" },
  },
});
const frames = Number(values.frames);
const restCount = Number(values.rest);
const seed = Number(values.seed);
/** The database outlives a run; accounts of this run must not collide with a previous one's. */
const runId = crypto.randomUUID().slice(0, 8);
const t0 = Date.now();
const log = (line: string) => console.log(`[fuzz ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const figure = (name: string, value: string | number) => console.log(`${name.padEnd(44)} ${value}`);

// Imported after the resolve hook is in place (static imports would be resolved before it).
const { fuzzFrames } = await import("./frames.ts");
const { fuzzRest } = await import("./rest.ts");
const { routeTargets } = await import("./targets.ts");
const { EdgechatClient } = await import("../../src/client/index.ts");

let stop = async () => {};
let baseUrl = values["base-url"];
let logFile = values.log;
if (!baseUrl) {
  mkdirSync("test-artifacts", { recursive: true });
  logFile = "test-artifacts/fuzz-dev-server.log";
  log(`starting npm run dev (log: ${logFile})`);
  const server = await startDevServer({
    database: process.env.PGDATABASE_FUZZ ?? "edgechat_fuzz",
    logFile,
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: "1000000",
      RATE_LIMIT_IP_PER_MINUTE: "10000000",
      RATE_LIMIT_USER_PER_MINUTE: "10000000",
      THROTTLE_MESSAGES: "1000000",
      ADMIN_EMAILS: `fuzz-admin-${runId}@example.test`,
    },
  });
  baseUrl = `http://127.0.0.1:${server.port}`;
  stop = server.stop;
  // The dev server runs in its own process group: a Ctrl-C or a kill of this script must take it along.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => void server.stop().then(() => process.exit(130)));
  }
}
const logAtStart = logFile ? readFileSync(logFile, "utf8").length : 0;

const signUp = async (who: string) => {
  const c = new EdgechatClient({ baseUrl: baseUrl as string });
  const user = await c.register({
    email: `${who}-${runId}@example.test`,
    displayName: who,
    password: "correct horse battery",
  });
  return { c, user };
};

let failed = false;
try {
  const member = await signUp("fuzz");
  const room = await member.c.rooms.create({ name: "fuzz frames" });
  const wsUrl = `${baseUrl.replace(/^http/, "ws")}/api/rooms/${room.id}/ws`;

  if (frames > 0) {
    log(`frames: ${frames} over ${values.sockets} sockets, seed ${seed}`);
    const f = await fuzzFrames({
      wsUrl,
      token: await member.c.accessToken(),
      count: frames,
      sockets: Number(values.sockets),
      seed,
      log,
    });
    figure("frames sent", f.sent);
    figure("frames valid / refused by the schema", `${f.valid} / ${f.invalid}`);
    figure("error frames received", f.errorFrames);
    figure("refused frames with no error frame", f.silent.length);
    figure("valid frames answered bad_frame", f.refusedValid.length);
    figure("answers that are not server frames", f.badAnswers.length);
    figure("hangs (probe unanswered 15 s)", f.hangs);
    figure("sockets closed by the room (code × n)", [...f.closes].map(([c, n]) => `${c}×${n}`).join(", ") || "none");
    figure("frames not judged (socket closed first)", f.unjudged);
    for (const t of f.silent.slice(0, 5)) console.log(`  silent: ${t}`);
    for (const t of f.refusedValid.slice(0, 5)) console.log(`  refused valid: ${t}`);
    for (const t of f.badAnswers.slice(0, 5)) console.log(`  bad answer: ${t}`);
    if (f.silent.length || f.refusedValid.length || f.badAnswers.length || f.hangs) failed = true;
  }

  if (restCount > 0) {
    const victim = await signUp("victim");
    const victimRoom = await member.c.rooms.create({ name: "fuzz rest" });
    await member.c.rooms.invite(victimRoom.id, victim.user.id);
    await member.c.messages.send(victimRoom.id, { clientMsgId: "fuzz-1", body: "first" });
    const tokens = [await member.c.accessToken()];
    if (!values["base-url"]) {
      const admin = new EdgechatClient({ baseUrl });
      await admin.register({
        email: `fuzz-admin-${runId}@example.test`,
        displayName: "admin",
        password: "correct horse battery",
      });
      tokens.push(await admin.accessToken());
    }
    const skip = new Set(
      (values.skip ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const targets = (await routeTargets()).filter((t) => !skip.has(`${t.method} ${t.path}`));
    log(`rest: ${restCount} requests over ${targets.length} routes, seed ${seed}`);
    const r = await fuzzRest({
      baseUrl,
      targets,
      ids: { tokens, ids: [victimRoom.id, victim.user.id], seqs: ["1", "2"] },
      count: restCount,
      concurrency: 4,
      seed,
      log,
    });
    figure("REST requests answered", r.sent);
    figure(
      "REST answers by status",
      [...r.byStatus]
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s}×${n}`)
        .join(" "),
    );
    figure("REST 5xx or dropped", r.failures.length);
    figure("REST 4xx without the JSON error shape", r.badErrors.length);
    if (r.died) {
      figure("REST: the server stopped answering", "after these requests (the last 8):");
      for (const t of r.died) console.log(`  before death: ${t}`);
    }
    for (const t of r.failures.slice(0, 8)) console.log(`  5xx: ${t}`);
    for (const t of r.badErrors.slice(0, 8)) console.log(`  bad 4xx: ${t}`);
    if (r.failures.length || r.badErrors.length || r.died) failed = true;
  }

  // After the run: the worker answers, a fresh socket still works, the room's seqs are gapless.
  const live = await fetch(`${baseUrl}/health/live`).then(
    (r) => r.status,
    () => 0,
  );
  const ack = await new Promise<string>((resolve) => {
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${member.c.session?.accessToken}` } });
    const timer = setTimeout(() => resolve("no answer in 10 s"), 10_000);
    ws.on("error", (e) => resolve(e.message));
    ws.on("message", (d) => {
      const m = JSON.parse(String(d)) as { type: string };
      if (m.type === "welcome")
        ws.send(JSON.stringify({ type: "send", clientMsgId: `after-${runId}`, body: "still here" }));
      if (m.type === "ack" || m.type === "error") {
        clearTimeout(timer);
        ws.close();
        resolve(m.type);
      }
    });
  });
  let gaps = 0;
  let last = 0;
  for (let page = 0; page < 5000; page++) {
    const { messages } = await member.c.messages.history(room.id, { after: last, limit: 100 });
    if (!messages.length) break;
    for (const m of messages) {
      if (m.seq !== last + 1) gaps += Math.max(1, m.seq - last - 1);
      last = Math.max(last, m.seq);
    }
  }
  const logText = logFile ? readFileSync(logFile, "utf8").slice(logAtStart) : "";
  const uncaught = logText.split("\n").filter((l) => /Uncaught|TypeError|RangeError/.test(l));
  figure("worker answers /health/live", live);
  figure("fresh socket: send answered with", ack);
  figure("room seqs in REST history (last / gaps)", `${last} / ${gaps}`);
  figure("log lines with Uncaught / TypeError", logFile ? uncaught.length : "no --log given");
  for (const l of uncaught.slice(0, 5)) console.log(`  log: ${l.slice(0, 240)}`);
  if (live !== 200 || ack !== "ack" || gaps || uncaught.length) failed = true;
} catch (err) {
  console.error(err);
  failed = true;
} finally {
  await stop();
}
console.log(failed ? "\nFUZZ FAILED" : "\nfuzz: every frame and request answered, room gapless, log clean");
process.exit(failed ? 1 : 0);
