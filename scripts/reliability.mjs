// `npm run reliability [-- --no-bench]`: runs the reliability suites of issue 18 and rewrites the
// figures block of RELIABILITY.md (between its `figures:start` and `figures:end` markers; the prose
// around it is written by hand). First the Workers-runtime suites through vitest, with a fresh
// random FUZZ_SEED (or the one given) and FUZZ_RUNS cases per operation (default 10, CI runs 4);
// then the bench areas `restart`, `socket-abuse` and `soak` through bench/run.mjs (each on its own
// private wrangler dev), whose figures bench/run.mjs leaves in bench/.state/figures/ (with
// `--no-bench`, the figures of their last runs there are reported, with their dates).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPORT = join(ROOT, "RELIABILITY.md");
const SUITES = ["test/fuzz-operations.test.ts", "test/authorization-matrix.test.ts", "test/socket-abuse.test.ts"];
const AREAS = ["restart", "socket-abuse", "soak"];
const withBench = !process.argv.includes("--no-bench");
const seed = process.env.FUZZ_SEED || String(Math.floor(Math.random() * 2 ** 31));
const runs = process.env.FUZZ_RUNS || "10"; // 25 passes but leaves vitest hanging (RELIABILITY.md, "Open")

const started = Date.now();
const load = loadavg()[0].toFixed(2);
console.log(`reliability: vitest (FUZZ_SEED=${seed} FUZZ_RUNS=${runs}) …`);
const jsonFile = join(mkdtempSync(join(tmpdir(), "reliability-")), "vitest.json");
const vitest = spawnSync(
  process.execPath,
  [
    join(ROOT, "node_modules/vitest/vitest.mjs"),
    "run",
    "--project",
    "workers",
    ...SUITES,
    "--silent=false",
    // The json reporter alone prints no console output, and the suites report their figures there.
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${jsonFile}`,
  ],
  { cwd: ROOT, env: { ...process.env, FUZZ_SEED: seed, FUZZ_RUNS: runs }, encoding: "utf8", maxBuffer: 1024 * 2 ** 20 },
);
const figures = {};
for (const match of `${vitest.stdout}\n${vitest.stderr}`.matchAll(/RELIABILITY-FIGURES (\w+) (\{.*\})/g))
  figures[match[1]] = JSON.parse(match[2]);
const report = existsSync(jsonFile) ? JSON.parse(readFileSync(jsonFile, "utf8")) : null;
const failures = (report?.testResults ?? []).flatMap((file) =>
  file.assertionResults
    .filter((a) => a.status === "failed")
    .map((a) => `${a.fullName}: ${(a.failureMessages[0] ?? "").split("\n").slice(0, 12).join("\n")}`),
);
console.log(`reliability: vitest ${report ? `${report.numPassedTests} passed, ${report.numFailedTests} failed` : "wrote no report"}`);

let benchStatus = null;
if (withBench) {
  console.log(`reliability: npm run bench -- ${AREAS.join(" ")} …`);
  benchStatus = spawnSync(process.execPath, [join(ROOT, "bench/run.mjs"), ...AREAS], { cwd: ROOT, stdio: "inherit" }).status;
}
const bench = Object.fromEntries(
  AREAS.map((a) => [a, join(ROOT, `bench/.state/figures/${a}.json`)])
    .filter(([, f]) => existsSync(f))
    .map(([a, f]) => [a, JSON.parse(readFileSync(f, "utf8"))]),
);

const fuzz = figures.fuzz;
const authz = figures.authz;
const lines = [
  `Last run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, \`npm run reliability\`${withBench ? "" : " -- --no-bench"}, load average ${load} at the start, ${Math.round((Date.now() - started) / 1000)} s.`,
  "",
  "| suite | figure |",
  "|---|---|",
  fuzz
    ? `| fuzzing (FUZZ_SEED=${fuzz.seed}, ${fuzz.runsPerOperation} cases × ${fuzz.operations} operations) | ${fuzz.requests} requests fuzzed; by kind ${JSON.stringify(fuzz.byKind)}; answers ${JSON.stringify(fuzz.byStatusClass)}; **5xx = ${fuzz.fiveHundreds}** (plus ${fuzz.configuration503} documented \`503 push_not_configured\` for FCM without a service account); contract problems ${fuzz.problems} |`
    : "| fuzzing | did not report (see failures) |",
  authz
    ? `| authorization matrix | ${authz.calls} calls by ${authz.actors} kinds of other user (stranger, removed, banned, blocked, suspended) on every operation with an id; **leaks = ${authz.leaks}**; ${authz.allowList} operations on the allow-list |`
    : "| authorization matrix | did not report (see failures) |",
  `| socket abuse (workerd) | ${report ? (report.testResults.find((f) => f.name.endsWith("socket-abuse.test.ts"))?.assertionResults.filter((a) => a.status === "passed").length ?? 0) : 0} tests passed |`,
];
if (bench.restart) {
  const r = bench.restart;
  lines.push(
    `| restart without loss (${r.date}, load ${r.loadAverage}) | ${r.restarts} kill -9 restarts and ${r.evictions} evictions; ${r.acked} messages acked; **messages lost = ${r.lost}**, stored twice ${r.duplicated}, out of order ${r.outOfOrder}, events missed ${r.missedEvents}, seq holes ${r.seqHoles}, re-sent by sync ${r.replayedDuplicates} |`,
  );
}
if (bench["socket-abuse"]) {
  const s = bench["socket-abuse"];
  const phases = Object.entries(s).filter(([, v]) => v && typeof v === "object" && "p50Ratio" in v);
  lines.push(
    `| socket abuse timing (load ${s.loadAverage}) | ${phases.map(([k, v]) => `${k}: p50 ${v.p50Ratio}×, p99 ${v.p99Ratio}×${"pass" in v ? (v.pass ? " PASS" : " FAIL") : " (the room's own share)"}`).join("; ")} (target ≤ 2× the quiet room) |`,
  );
}
if (bench.soak) {
  const s = bench.soak;
  lines.push(
    `| soak (${s.seconds} s, ${s.date}, load ${s.loadAverage}) | ${s.messages} messages, ${s.reactions} reactions, ${s.uploads} uploads; lost ${s.lost}, stored twice ${s.duplicated}; RSS ${s.rssStartMiB.toFixed(0)} → ${s.rssEndMiB.toFixed(0)} MiB, memory ${s.memoryBounded ? "within the bound" : "**growing**"}${s.rssSlopeMiBPerMinute === undefined ? "" : ` (trend of the second half ${s.rssSlopeMiBPerMinute} MiB/min)`}${s.heapSlopeMiBPerMinute === undefined ? "" : `; JS heap ${s.heapStartMiB} → ${s.heapEndMiB} MiB (trend ${s.heapSlopeMiBPerMinute} MiB/min)`}; D1 tables growing with traffic: ${s.d1Unbounded} |`,
  );
}
if (failures.length) lines.push("", "**Failures of this run**", "", ...failures.map((f) => `- ${f.replace(/\n/g, "\n  ")}`));
if (benchStatus) lines.push("", `bench/run.mjs exited with ${benchStatus}: see bench/RESULTS.md for its warnings.`);

const text = readFileSync(REPORT, "utf8");
const start = text.indexOf("<!-- figures:start -->");
const end = text.indexOf("<!-- figures:end -->");
if (start < 0 || end < start) throw new Error("RELIABILITY.md has no figures:start / figures:end block");
writeFileSync(REPORT, `${text.slice(0, start)}<!-- figures:start -->\n${lines.join("\n")}\n${text.slice(end)}`);
console.log(`reliability: wrote ${REPORT}`);
process.exit(vitest.status || benchStatus || 0);
