// The bare object of bench/bare on workerd alone: the same binary and compatibility date wrangler
// dev runs, but without miniflare's local-dev wiring or wrangler's proxy in front. The rooms bench
// uses it for the one figure `wrangler dev` cannot give: how many of 1,000 simultaneous client
// Close frames the runtime itself answers within 1 s (bench only; never deployed).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import workerd from "workerd";
import { freePort, ROOT } from "./server.mjs";

/** The binary wrangler runs (the package is CommonJS: its path is `default` of the exports). */
const WORKERD = typeof workerd === "string" ? workerd : workerd.default;

/** Start it; resolves to `{ baseUrl, stop() }` once `/health` answers. */
export async function startPlainBare(preferredPort = 8796) {
  const dir = join(ROOT, "bench/.state/plain-bare");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "do"), { recursive: true });
  await build({
    entryPoints: [join(ROOT, "bench/bare/worker.ts")],
    bundle: true,
    format: "esm",
    external: ["cloudflare:*"],
    outfile: join(dir, "bare.js"),
    logLevel: "error",
  });
  const date = /compatibility_date\s*=\s*"([\d-]+)"/.exec(readFileSync(join(ROOT, "bench/bare/wrangler.toml"), "utf8"))[1];
  const port = await freePort(preferredPort);
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .bare), (name = "disk", disk = (path = "${join(dir, "do")}", writable = true))],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const bare :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "bare.js")],
  compatibilityDate = "${date}",
  durableObjectNamespaces = [(className = "BareRoom", uniqueKey = "bench-bare-room", enableSql = true)],
  durableObjectStorage = (localDisk = "disk"),
  bindings = [(name = "BARE_ROOM", durableObjectNamespace = "BareRoom")],
);
`,
  );
  const child = spawn(WORKERD, ["serve", join(dir, "config.capnp"), "--experimental"], { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited;
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    try {
      if ((await fetch(`${baseUrl}/health`)).ok) return { baseUrl, stop };
    } catch {
      // not listening yet
    }
    if (tries >= 100 || child.exitCode !== null) {
      await stop();
      throw new Error(`workerd did not start (${join(dir, "config.capnp")})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
