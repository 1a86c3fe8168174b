// `npm run lint:openapi`: lints the OpenAPI document the Worker actually serves. The document is
// built by the app at runtime (from its zod routes), which needs workerd, so this starts a private
// `wrangler dev` on a free 127.0.0.1 port with throwaway local state, saves GET /openapi.json to a
// temporary file, stops wrangler and runs `redocly lint` (rules in redocly.yaml) on the file.
// Exits non-zero on any lint error or when the document cannot be produced; warnings are printed
// but allowed. No network is needed. Arguments go to redocly (`npm run lint:openapi -- --format=stylish`);
// OPENAPI_URL=http://127.0.0.1:8787 lints what a running server serves instead.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const REDOCLY = join(ROOT, "node_modules/@redocly/cli/bin/cli.js");
const ENV = { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", REDOCLY_TELEMETRY: "off", NO_COLOR: "1" };
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

/** The served document as text: from OPENAPI_URL if set, else from a wrangler dev started here. */
async function fetchDocument(workDir) {
  if (process.env.OPENAPI_URL) {
    return fetchWhenUp(`${process.env.OPENAPI_URL.replace(/\/+$/, "")}/openapi.json`, null, 10_000);
  }
  const server = await startWrangler(workDir);
  try {
    return await fetchWhenUp(`${server.baseUrl}/openapi.json`, server.child, START_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`${err.message}\n--- wrangler dev (tail) ---\n${server.logTail()}`);
  } finally {
    await server.stop();
  }
}

const workDir = mkdtempSync(join(tmpdir(), "openapi-lint-"));
let status = 1;
try {
  const doc = JSON.parse(await fetchDocument(workDir));
  const docFile = join(workDir, "openapi.json");
  // Pretty-printed, so the lines and columns in lint messages point somewhere readable.
  writeFileSync(docFile, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`Linting /openapi.json (${Object.keys(doc.paths ?? {}).length} paths) with redocly.yaml`);
  const lint = spawnSync(process.execPath, [REDOCLY, "lint", docFile, "--config", join(ROOT, "redocly.yaml"), ...process.argv.slice(2)], {
    cwd: ROOT,
    env: ENV,
    stdio: "inherit",
  });
  status = lint.status ?? 1;
} catch (err) {
  console.error(`lint:openapi: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(status);
