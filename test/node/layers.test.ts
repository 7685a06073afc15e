import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const biome = path.join(root, "node_modules/@biomejs/biome/bin/biome");

/** Lints one throw-away file placed in `folder`; returns Biome's report (and whether it refused). */
async function lintProbe(folder: string, source: string): Promise<{ refused: boolean; report: string }> {
  const file = path.join(root, folder, `layer-probe-${process.pid}-${Date.now()}.ts`);
  fs.writeFileSync(file, source);
  try {
    await run(process.execPath, [biome, "lint", file], { cwd: root });
    return { refused: false, report: "" };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { refused: true, report: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe("layers point one way (lint)", () => {
  it("refuses an import from the room folder into the worker", async () => {
    const { refused, report } = await lintProbe(
      "src/durable-objects",
      'import { app } from "../worker/app";\n\nexport const probe = app;\n',
    );
    expect(refused).toBe(true);
    expect(report).toContain("noRestrictedImports");
  });

  it("refuses src/lib importing the room objects, and the SDK importing src/lib", async () => {
    expect(
      (
        await lintProbe(
          "src/lib",
          'import { RoomStore } from "../durable-objects/room-store";\n\nexport const probe = RoomStore;\n',
        )
      ).report,
    ).toContain("noRestrictedImports");
    expect(
      (await lintProbe("src/client", 'import { logJson } from "../lib/log";\n\nexport const probe = logJson;\n'))
        .report,
    ).toContain("noRestrictedImports");
  });

  it("allows the room folder its own layers below it", async () => {
    const { refused, report } = await lintProbe(
      "src/durable-objects",
      'import { logJson } from "../lib/log";\nimport type { Actor } from "../protocol/identity";\n\nexport const probe: [typeof logJson, Actor | null] = [logJson, null];\n',
    );
    expect(report).toBe("");
    expect(refused).toBe(false);
  });
});
