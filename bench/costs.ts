/**
 * `npm run bench:costs -- [messages] [members] [offline] [rate]`: the "what it costs" scenario of
 * `npm run bench` on its own (bench/scenarios/costs.ts): counts per 1,000 messages and their price.
 */

import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { costReport, costScenario } from "./scenarios/costs.ts";
import { pinLoadGenerator, startEdgechat } from "./servers/systems.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [messages = 1000, members = 100, offline = 20, rate = 20] = process.argv.slice(2).map(Number);

async function main() {
  pinLoadGenerator();
  const edge = await startEdgechat(path.join(ROOT, "bench/results/edgechat-dev.log"));
  try {
    const r = await costScenario(edge, { messages, members, offline, rate, bodyBytes: 200 });
    writeFileSync(path.join(ROOT, "bench/results/costs.json"), `${JSON.stringify(r, null, 2)}\n`);
    console.log(costReport(r).join("\n"));
  } finally {
    await edge.stop();
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
