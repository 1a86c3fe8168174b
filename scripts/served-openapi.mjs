// The OpenAPI document the Worker actually serves. The document is built by the app at runtime (from
// its zod routes), which needs workerd, so this starts a private `wrangler dev` on a free 127.0.0.1
// port with throwaway local state, reads GET /openapi.json and stops wrangler again. No network is
// needed. OPENAPI_URL=http://127.0.0.1:8787 reads what a running server serves instead.
// Used by `npm run lint:openapi` (scripts/openapi-lint.mjs) and `npm run client:types`.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const ENV = { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
const START_TIMEOUT_MS = 90_000;

/** A port nobody listens on right now (127.0.0.1). */
function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** GET `url` until it answers 200 (the server is still starting), then its body as text. */
async function fetchWhenUp(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`wrangler dev exited early (code ${child.exitCode})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return await res.text();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

/** Start `wrangler dev` in its own process group; returns its base URL and a stop() for the whole group. */
async function startWrangler(workDir) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const logFile = join(workDir, "wrangler.log");
  const args = [WRANGLER, "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort)];
  args.push("--persist-to", join(workDir, "state"), "--show-interactive-dev-session=false");
  // detached: own process group, so stop() ends wrangler and the workerd it spawns together.
  // wrangler refuses to start without the static assets' folder (wrangler.toml [assets]); the
  // document does not need the web build, so an empty folder does when it was never built.
  mkdirSync(join(ROOT, "dist/web"), { recursive: true });
  const child = spawn(process.execPath, args, { cwd: ROOT, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const log = createWriteStream(logFile);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise((r) => child.once("exit", r));
  const kill = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  // Ctrl-C or a CI timeout must not leave wrangler and workerd running.
  const onSignal = () => {
    kill("SIGKILL");
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const stop = async () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (child.exitCode === null && child.signalCode === null) {
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    kill("SIGKILL"); // workerd children that outlived wrangler
  };
  const logTail = () => readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n");
  return { baseUrl: `http://127.0.0.1:${port}`, child, stop, logTail };
}

/** The served document, parsed: from OPENAPI_URL if set, else from a throwaway wrangler dev started here. */
export async function fetchServedDocument() {
  if (process.env.OPENAPI_URL) {
    return JSON.parse(await fetchWhenUp(`${process.env.OPENAPI_URL.replace(/\/+$/, "")}/openapi.json`, null, 10_000));
  }
  const workDir = mkdtempSync(join(tmpdir(), "served-openapi-"));
  const server = await startWrangler(workDir);
  try {
    return JSON.parse(await fetchWhenUp(`${server.baseUrl}/openapi.json`, server.child, START_TIMEOUT_MS));
  } catch (err) {
    throw new Error(`${err.message}\n--- wrangler dev (tail) ---\n${server.logTail()}`);
  } finally {
    await server.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}
