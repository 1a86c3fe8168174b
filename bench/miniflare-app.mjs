// The app on Miniflare alone: the Worker `wrangler deploy --dry-run` bundles, with the bindings
// wrangler.toml gives `wrangler dev` (wrangler's unstable_getMiniflareWorkerOptions) and a fresh
// local D1 migrated by wrangler, run by the Miniflare and workerd wrangler pins, but without
// `wrangler dev` around it (its proxy Worker in front, its reloading). The rooms bench uses it
// for the one figure `wrangler dev` loses on the way: how many of 1,000 simultaneous client Close
// frames the room answers within 1 s (bench only; never deployed).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { freePort, ROOT, WRANGLER } from "./server.mjs";

function wrangler(args, what) {
  const run = spawnSync(process.execPath, [WRANGLER, ...args], { cwd: ROOT, encoding: "utf8", timeout: 180_000 });
  if (run.status !== 0) throw new Error(`${what} failed:\n${run.stdout}\n${run.stderr}`);
}

/**
 * Start it with `vars` over wrangler.toml's; resolves to `{ baseUrl, stop() }` once `/health`
 * answers. The state (bench/.state/miniflare-app) is fresh every time.
 */
export async function startMiniflareApp(vars = {}, preferredPort = 8781) {
  const dir = join(ROOT, "bench/.state/miniflare-app");
  const bundle = join(dir, "bundle");
  const data = join(dir, "data");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  wrangler(["deploy", "--dry-run", "--outdir", bundle], "bundling the Worker");
  wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", data], "migrations");

  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"));
  const wasm = readdirSync(bundle).filter((f) => f.endsWith(".wasm"));
  const port = await freePort(preferredPort);
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port,
      handleStructuredLogs: () => {}, // the app's request logs: this run reads only the sockets
      resourcePersistencePath: join(data, "v3"), // where `wrangler d1 migrations apply --persist-to` wrote
      workers: [
        {
          ...workerOptions,
          name: "edge-messenger",
          modulesRoot: bundle,
          modules: [
            { type: "ESModule", path: join(bundle, "index.js") },
            ...wasm.map((f) => ({ type: "CompiledWasm", path: join(bundle, f) })),
          ],
          bindings: { ...workerOptions.bindings, ...vars },
        },
      ],
    }),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await mf.ready;
    const health = await fetch(`${baseUrl}/health`);
    if (!health.ok) throw new Error(`/health answered ${health.status}`);
  } catch (err) {
    await mf.dispose();
    throw err;
  }
  return { baseUrl, stop: () => mf.dispose() };
}
