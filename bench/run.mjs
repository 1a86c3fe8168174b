// `npm run bench`: starts a private wrangler dev (production argon2 cost, fresh local state) or uses
// BENCH_URL, runs the benchmark areas (Auth for now), prints their tables and rewrites each area's
// section of bench/RESULTS.md. The server is stopped on success, failure, Ctrl-C and timeout.
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { runAuthBench } from "./auth.mjs";
import { writeSection } from "./lib.mjs";
import { ROOT, startServer } from "./server.mjs";

const RESULTS = join(ROOT, "bench/RESULTS.md");
const TIMEOUT_MS = 10 * 60_000; // the whole run; a hung server must not hang the bench

if (Number(process.versions.node.split(".")[0]) < 22) {
  console.error(`Node ${process.version}: run this through \`npm run bench\` so the project's Node 22 is used.`);
  process.exit(1);
}

const started = Date.now();
const loadAtStart = loadavg()[0].toFixed(2);
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? "unknown CPU"}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM`;
const command = process.env.BENCH_URL ? `BENCH_URL=${process.env.BENCH_URL} npm run bench` : "npm run bench";

let server;
let exiting = null;
/** Stop the server and exit; the first caller's exit code wins (a signal beats the error it causes). */
const shutdown = (code) =>
  (exiting ??= (async () => {
    await server?.stop();
    process.exit(code);
  })());
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    console.error(`bench: ${sig}, stopping`);
    shutdown(130);
  });
}
setTimeout(() => {
  console.error(`bench: timed out after ${TIMEOUT_MS / 60_000} min`);
  shutdown(1);
}, TIMEOUT_MS).unref();

try {
  console.log(process.env.BENCH_URL ? `bench: using ${process.env.BENCH_URL}` : "bench: starting wrangler dev …");
  server = await startServer("auth");
  const target = server.external
    ? `the server at ${server.baseUrl} (its own configuration)`
    : "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, fresh local D1/KV) with `--var ARGON2_MEMORY_KIB:19456 --var ARGON2_ITERATIONS:2`";
  console.log(`bench: server ${server.baseUrl}${server.logFile ? ` (log: ${server.logFile})` : ""}`);

  const auth = await runAuthBench(server.baseUrl);
  if (server.reloads()) {
    auth.warnings.push(`wrangler dev reloaded the Worker ${server.reloads()} time(s) during the run: rerun for clean numbers.`);
  }
  const date = new Date().toISOString().replace("T", " ").slice(0, 16);
  const header = [
    `Run ${date} UTC · machine: ${machine} · Node ${process.version} · command: \`${command}\``,
    `against ${target}. The load generator runs on the same machine; its 1-minute load average`,
    `was ${loadAtStart} when the run started (above ~0.5 means other work shared the CPUs: expect noise).`,
  ].join("\n");
  const notes = auth.warnings.length ? `\n\n**Warnings**\n\n${auth.warnings.map((w) => `- ${w}`).join("\n")}` : "";
  const section = `${header}\n\n${auth.markdown}${notes}`;
  writeSection(RESULTS, "Auth", section);

  console.log(`\n## Auth\n\n${section}\n`);
  console.log(`bench: wrote ${RESULTS} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await shutdown(auth.warnings.length ? 1 : 0);
} catch (err) {
  if (!exiting) console.error(`bench failed: ${err.stack ?? err}`);
  await shutdown(1);
}
