// Starts and stops the server the benchmarks measure: a private `wrangler dev` on 127.0.0.1 with
// its own local state (bench/.state/<name>, migrated first), by default fresh and with production
// argon2id parameters (`vars`, `keepState` change that per area). It runs a snapshot of the app
// copied at start (or taken from a git commit, `gitRef`), so edits to src/ during a run cannot
// reload the Worker mid-measurement. With BENCH_URL set, no app is started and that server is
// used as it is; the bench-only Workers (`worker`) are always started here.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** wrangler's CLI, run under this Node (22). */
export const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const ENV = { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

/** What the Worker is built from (no .dev.vars: the bench must not depend on local overrides). */
const APP_FILES = ["src", "migrations", "wrangler.toml", "package.json", "tsconfig.json"];
/** The static assets' folder (wrangler.toml [assets] directory), built, not committed. */
const WEB_BUILD = "dist/web";
/** Bench-only Workers, never deployed: the files of their snapshots (paths kept). No D1, nothing to migrate. */
const BENCH_WORKERS = {
  // The bare Durable Object the rooms are compared against.
  bare: ["bench/bare/worker.ts", "bench/bare/wrangler.toml"],
  // The argon2id implementations side by side; it imports the app's WebAssembly binding.
  argon2: ["bench/argon2/worker.ts", "bench/argon2/wrangler.toml", "src/auth/argon2id-wasm.ts"],
};

/**
 * coreutils' stdbuf library, where installed: preloaded into wrangler and workerd it makes their
 * stdout line-buffered, so V8's GC trace lines reach the bench as they happen (see `traceGc`).
 */
const LINE_BUFFERING = ["/usr/libexec/coreutils/libstdbuf.so", "/usr/lib/x86_64-linux-gnu/coreutils/libstdbuf.so"].find((f) =>
  existsSync(f),
);
/** One collection in V8's --trace-gc-nvp output: its fields as JSON after "GC: ". */
const GC_LINE = / GC: (\{.*\})\s*$/;
/** The `gc` kinds of --trace-gc-nvp that are major (mark-compact) collections; "s" is a scavenge. */
const MAJOR_GC_KINDS = new Set(["mc", "mmc"]);

/** Production argon2id cost (src/auth/password.ts PRODUCTION_ARGON2), forced on in development. */
export const PROD_VARS = { ARGON2_MEMORY_KIB: "19456", ARGON2_ITERATIONS: "2" };

/** `preferred` when it is free on 127.0.0.1, else any free port. */
export async function freePort(preferred = 0) {
  const tryListen = (port) =>
    new Promise((ok) => {
      const srv = createServer();
      srv.once("error", () => ok(null));
      srv.listen(port, "127.0.0.1", () => {
        // Read the port while listening: once closed, address() is null (and port 0 meant "any").
        const bound = srv.address()?.port ?? port;
        srv.close(() => ok(bound));
      });
    });
  return (preferred && (await tryListen(preferred))) || (await tryListen(0));
}

async function waitForHealth(baseUrl, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`wrangler dev exited early (code ${child.exitCode})`);
    try {
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${baseUrl}/health did not answer within ${timeoutMs / 1000} s`);
}

/** Write the app's files (APP_FILES) as they were at commit `ref` into `dir`. */
function extractCommit(ref, dir) {
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync("git", ["-C", ROOT, "archive", "--format=tar", ref, "--", ...APP_FILES], { maxBuffer: 256 * 2 ** 20 });
  if (archive.status !== 0) throw new Error(`git archive ${ref} failed: ${archive.stderr}`);
  const untar = spawnSync("tar", ["-x", "-C", dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
}

/** CPU seconds used so far by every process of a process group (wrangler and its workerd; Linux only, else null). */
function groupCpuSeconds(pgid) {
  try {
    let ticks = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      // After "pid (comm) ": state, ppid, pgrp, …, utime (14th field), stime (15th), in clock ticks.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
    }
    return ticks / 100; // USER_HZ
  } catch {
    return null;
  }
}

/**
 * Returns `{ baseUrl, stop(), external, reloads(), stateDir, pid, cpuSeconds() }` (`pid`: the wrangler process). Starts wrangler dev unless BENCH_URL
 * is set (for the app); `stop` kills wrangler's whole process group and is safe to call twice. `vars` are passed
 * as `--var` (default: production argon2id); `worker` runs a bench-only Worker of BENCH_WORKERS (`"bare"`,
 * `"argon2"`) instead of the app; `gitRef` runs the app as it was at that commit (`git archive`);
 * `embedBare` adds the bare Durable Object of bench/bare to the snapshot of the app (at `/rooms/{id}/ws`,
 * in the same Worker and isolate as the rooms; never in src/); `seedRooms` makes the snapshot's ChatRoom the subclass of
 * bench/seed/room.ts (a seeding RPC and the index's size, at `/__bench/rooms/{chatId}/…`; never in src/); `keepState` keeps the local D1/KV/DO data of earlier
 * runs (the app snapshot is always fresh). `traceGc` turns on V8's GC trace in workerd (Miniflare's
 * MINIFLARE_WORKERD_V8_FLAGS, `--trace-gc-nvp`) and stamps each major collection as its line arrives:
 * `majorGcs(from, to)` lists those between two Date.now() times, as `{ at, pauseMs, markMs,
 * incremental, liveBytes }` (the pause, its marking part, whether marking had run alongside the
 * code before it, the heap's objects left after it), or null when stdout could not be made
 * line-buffered, as the times would then be those of a full buffer.
 */
export async function startServer(
  name,
  {
    port = 8799,
    vars = PROD_VARS,
    keepState = false,
    worker = null,
    gitRef = null,
    embedBare = false,
    seedRooms = false,
    traceGc = false,
  } = {},
) {
  if (process.env.BENCH_URL && !worker && !gitRef) {
    const baseUrl = process.env.BENCH_URL.replace(/\/+$/, "");
    await waitForHealth(baseUrl, null, 10_000);
    return { baseUrl, external: true, stop: async () => {}, reloads: () => 0 };
  }

  const stateDir = join(ROOT, "bench/.state", name);
  if (!keepState) rmSync(stateDir, { recursive: true, force: true }); // a fresh database every run
  mkdirSync(stateDir, { recursive: true });
  const logFile = join(stateDir, "wrangler.log");
  const dataDir = join(stateDir, "data");
  // The snapshot imports packages from ROOT/node_modules: module resolution walks up from it.
  const appDir = join(stateDir, "app");
  rmSync(appDir, { recursive: true, force: true });
  if (worker) {
    for (const entry of BENCH_WORKERS[worker]) cpSync(join(ROOT, entry), join(appDir, entry));
  } else {
    if (gitRef) extractCommit(gitRef, appDir);
    else for (const entry of APP_FILES) cpSync(join(ROOT, entry), join(appDir, entry), { recursive: true });
    // The web app's build (wrangler.toml [assets]; `npm run build:web`, which `npm test` runs first):
    // the built one where there is one, else an empty folder, so wrangler starts either way.
    if (!gitRef && existsSync(join(ROOT, WEB_BUILD))) cpSync(join(ROOT, WEB_BUILD), join(appDir, WEB_BUILD), { recursive: true });
    else mkdirSync(join(appDir, WEB_BUILD), { recursive: true });
    if (embedBare && seedRooms) throw new Error("embedBare and seedRooms each replace the entry: pick one");
    if (embedBare) embedBareRoom(appDir);
    if (seedRooms) embedSeedRoom(appDir);
    const migrate = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", dataDir], {
      cwd: appDir,
      env: ENV,
      encoding: "utf8",
      timeout: 120_000,
    });
    if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
  }

  const httpPort = await freePort(port);
  const inspectorPort = await freePort();
  const args = [WRANGLER, "dev", "--ip", "127.0.0.1", "--port", String(httpPort), "--inspector-port", String(inspectorPort)];
  args.push("--persist-to", dataDir, "--show-interactive-dev-session=false");
  if (worker) args.push("--config", `bench/${worker}/wrangler.toml`);
  const varArgs = Object.entries(vars).map(([k, v]) => `${k}:${v}`);
  if (varArgs.length) args.push("--var", ...varArgs);

  const log = createWriteStream(logFile);
  // detached: own process group, so stop() can end wrangler and the workerd it spawns together.
  const env = traceGc
    ? { ...ENV, MINIFLARE_WORKERD_V8_FLAGS: "--trace-gc-nvp", ...(LINE_BUFFERING ? { LD_PRELOAD: LINE_BUFFERING, _STDBUF_O: "L" } : {}) }
    : ENV;
  const child = spawn(process.execPath, args, { cwd: appDir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const majorGcs = traceGc && LINE_BUFFERING ? watchMajorGcs(child.stdout) : null;
  const exited = new Promise((r) => child.once("exit", r));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const kill = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    kill("SIGKILL"); // workerd children that outlived wrangler
  };

  const baseUrl = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForHealth(baseUrl, child, 90_000);
  } catch (err) {
    await stop();
    const tail = readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n");
    throw new Error(`${err.message}\n--- ${logFile} (tail) ---\n${tail}`);
  }
  // Should stay 0: wrangler dev reloads the Worker when the (snapshot) sources change.
  const reloads = () => (readFileSync(logFile, "utf8").match(/Reloading local server/g) ?? []).length;
  return {
    baseUrl,
    external: false,
    stop,
    logFile,
    reloads,
    stateDir,
    inspectorPort,
    pid: child.pid,
    cpuSeconds: () => groupCpuSeconds(child.pid),
    majorGcs: majorGcs && ((from, to) => majorGcs.filter((gc) => gc.at >= from && gc.at <= to)),
  };
}

/** The fields of a --trace-gc-nvp line, or null for any other line (or one cut short or mixed with another's output). */
function parseGcLine(line) {
  const json = GC_LINE.exec(line)?.[1];
  if (json === undefined) return null;
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
}

/** The major collections (every isolate of the process: they share its thread) in a GC-traced stdout, stamped on arrival. */
function watchMajorGcs(stdout) {
  const seen = [];
  let partial = "";
  stdout.on("data", (chunk) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop();
    const at = Date.now();
    for (const line of lines) {
      const gc = parseGcLine(line);
      if (!gc || !MAJOR_GC_KINDS.has(gc.gc)) continue;
      seen.push({ at, pauseMs: gc.pause, markMs: gc.mark ?? 0, incremental: Boolean(gc.is_incremental), liveBytes: gc.end_object_size });
    }
  });
  return seen;
}

/**
 * Put bench/bare's object into the app's snapshot (not into src/): a bench entry re-exports the
 * app, adds BareRoom, and routes `/rooms/{id}/ws` to it, so the bare object and the rooms share one
 * Worker, one isolate and one heap; only what the room does differs.
 */
function embedBareRoom(appDir) {
  cpSync(join(ROOT, "bench/bare/worker.ts"), join(appDir, "src/bench-bare-room.ts"));
  writeFileSync(
    join(appDir, "src/bench-entry.ts"),
    [
      'import app from "./index";',
      'import bare from "./bench-bare-room";',
      'export * from "./index";',
      'export { BareRoom } from "./bench-bare-room";',
      "export default {",
      "  ...app,",
      "  fetch(request: Request, env: any, ctx: ExecutionContext) {",
      '    return new URL(request.url).pathname.startsWith("/rooms/") ? bare.fetch(request, env) : app.fetch(request, env, ctx);',
      "  },",
      "};",
      "",
    ].join("\n"),
  );
  const toml = join(appDir, "wrangler.toml");
  const config = benchEntry(readFileSync(toml, "utf8"), "/rooms/*");
  const extra =
    '\n[[durable_objects.bindings]]\nname = "BARE_ROOM"\nclass_name = "BareRoom"\n\n[[migrations]]\ntag = "bench-bare"\nnew_sqlite_classes = ["BareRoom"]\n';
  // Top-level tables must come before [env.*] sections.
  const at = config.indexOf("\n[env.");
  writeFileSync(toml, at < 0 ? config + extra : config.slice(0, at) + extra + config.slice(at));
}

/**
 * Put bench/seed/room.ts into the app's snapshot (not into src/): a bench entry re-exports the app
 * with its ChatRoom replaced by the subclass that can be seeded, and routes `/__bench/rooms/…` to it.
 */
function embedSeedRoom(appDir) {
  cpSync(join(ROOT, "bench/seed/room.ts"), join(appDir, "bench/seed/room.ts"));
  writeFileSync(
    join(appDir, "src/bench-entry.ts"),
    [
      'import app from "./index";',
      'import { seedRoutes } from "../bench/seed/room";',
      'export * from "./index";',
      "// An explicit export wins over the star export: the binding's ChatRoom is the seedable subclass.",
      'export { ChatRoom } from "../bench/seed/room";',
      "export default {",
      "  ...app,",
      "  fetch(request: Request, env: any, ctx: ExecutionContext) {",
      "    return seedRoutes(request, env) ?? app.fetch(request, env, ctx);",
      "  },",
      "};",
      "",
    ].join("\n"),
  );
  const toml = join(appDir, "wrangler.toml");
  writeFileSync(toml, benchEntry(readFileSync(toml, "utf8"), "/__bench/*"));
}

/**
 * The snapshot's wrangler.toml with src/bench-entry.ts as its entry, and `path` among the routes
 * the Worker answers before the static assets (which would answer it with the web app otherwise).
 */
function benchEntry(config, path) {
  if (!config.includes("run_worker_first = [")) throw new Error("wrangler.toml: [assets] run_worker_first not found");
  return config
    .replace('main = "src/index.ts"', 'main = "src/bench-entry.ts"')
    .replace("run_worker_first = [", `run_worker_first = ["${path}", `);
}
