// ms per argon2id hash at production cost, three implementations in one run: native libargon2 in
// this Node process (the `argon2` package, a devDependency used only here) as the reference, and,
// inside workerd, the WebAssembly libargon2 the app uses (src/auth/argon2id-wasm.ts) and the
// pure-JS @noble/hashes argon2id it used before, both in the bench-only Worker of bench/argon2.
// The three take turns hash by hash, so they share whatever else the machine is doing.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ms, stats, table } from "./lib.mjs";
import { ROOT } from "./server.mjs";

const RUNS = 20;
const PASSWORD = "violet-harbor-73-lantern";
/** Target of issue 9: the WebAssembly hash within 2× native libargon2 (p50, same run). */
const TARGET_RATIO = 2;

/** The installed version of a package (read from its package.json: not every package exports that file). */
const version = (pkg) => JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;

/** One native libargon2 hash (node-argon2's prebuilt binding): raw 32 bytes, fresh 16-byte salt; ms. */
async function nativeHash(argon2, cost) {
  const salt = Buffer.from(crypto.getRandomValues(new Uint8Array(16)));
  const started = performance.now();
  await argon2.hash(PASSWORD, {
    type: argon2.argon2id,
    memoryCost: cost.m,
    timeCost: cost.t,
    parallelism: cost.p,
    hashLength: 32,
    salt,
    raw: true,
  });
  return performance.now() - started;
}

/**
 * One hash in the bench Worker by `impl` (`wasm` or `noble`): `{ isolate, request }`, the time
 * inside the isolate (performance.now() around the derivation; locally it advances during
 * computation) and the request's round trip as seen from here.
 */
async function workerdHash(hashUrl, impl, cost) {
  const started = performance.now();
  const res = await fetch(`${hashUrl}/hash?impl=${impl}&m=${cost.m}&t=${cost.t}&p=${cost.p}&n=1`, { signal: AbortSignal.timeout(30_000) });
  if (res.status !== 200) throw new Error(`bench worker /hash?impl=${impl}: ${res.status} ${await res.text()}`);
  const body = await res.json();
  return { isolate: body.ms[0], request: performance.now() - started };
}

/** RUNS rounds of native, WebAssembly, @noble, one hash each, after one warm-up round. */
async function rounds(hashUrl, cost) {
  const { default: argon2 } = await import("argon2"); // loaded here: the other bench areas never need the native addon
  const samples = { native: [], wasm: [], wasmRequest: [], noble: [], nobleRequest: [] };
  for (let i = -1; i < RUNS; i++) {
    const native = await nativeHash(argon2, cost);
    const wasm = await workerdHash(hashUrl, "wasm", cost); // the first instantiates and grows memory to m KiB
    const noble = await workerdHash(hashUrl, "noble", cost);
    if (i < 0) continue; // warm-up
    samples.native.push(native);
    samples.wasm.push(wasm.isolate);
    samples.wasmRequest.push(wasm.request);
    samples.noble.push(noble.isolate);
    samples.nobleRequest.push(noble.request);
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
}

/** Time the three implementations at `cost`; returns `{ markdown, warnings, wasm }` (wasm: in-isolate stats). */
export async function runArgon2Timing(hashUrl, cost, log = console.log) {
  const warnings = [];
  log(`auth (a): argon2id m=${cost.m} KiB, t=${cost.t}, p=${cost.p}: native (Node ${process.version}), WebAssembly and @noble (workerd) …`);
  const { native, wasm, wasmRequest, noble, nobleRequest } = await rounds(hashUrl, cost);
  for (const [name, s] of Object.entries({ native, wasm, noble })) {
    log(`  ${name}: p50 ${ms(s.p50)} ms, mean ${ms(s.mean)}, p99 ${ms(s.p99)} (n=${s.n})`);
  }

  const wasmVsNative = wasm.p50 / native.p50;
  const nobleVsWasm = noble.p50 / wasm.p50;
  const meets = wasmVsNative <= TARGET_RATIO;
  if (!meets) warnings.push(`WebAssembly argon2id p50 is ${wasmVsNative.toFixed(2)}× native libargon2 (target ≤ ${TARGET_RATIO}×).`);
  if (!(wasm.p50 > 0)) warnings.push("The isolate's clock did not advance during a hash: the in-isolate times are meaningless.");

  const row = (what, s) => [what, s.n, ms(s.mean), ms(s.p50), ms(s.p99), ms(s.max)];
  const markdown = [
    `### Password hashing: argon2id m=${cost.m} KiB, t=${cost.t}, p=${cost.p}, one 32-byte hash`,
    "",
    `${RUNS} rounds after a warm-up round, each one hash per implementation in turn, so all three share the machine's load:`,
    "native libargon2 in this Node process, then the WebAssembly and the @noble implementation inside workerd (one hash per",
    "request to the bench-only Worker of `bench/argon2`, timed inside the isolate; the request rows add the local HTTP round trip).",
    "",
    table(
      ["What", "Runs", "Mean ms", "p50 ms", "p99 ms", "Max ms"],
      [
        row(`native libargon2, Node ${process.version} (\`argon2\` ${version("argon2")}, reference)`, native),
        row(`WebAssembly libargon2 in workerd (\`@phi-ag/argon2\` ${version("@phi-ag/argon2")} .wasm; the app now)`, wasm),
        row(`pure JS \`@noble/hashes\` ${version("@noble/hashes")} argon2id in workerd (the app before)`, noble),
        row("WebAssembly, per request (hash + local HTTP)", wasmRequest),
        row("@noble, per request (hash + local HTTP)", nobleRequest),
      ],
    ),
    "",
    table(
      ["Ratio (p50, this run)", "Value", "Target", "Result"],
      [
        ["WebAssembly / native", `${wasmVsNative.toFixed(2)}×`, `≤ ${TARGET_RATIO}×`, meets ? "PASS" : "FAIL"],
        ["@noble / WebAssembly (speed-up)", `${nobleVsWasm.toFixed(2)}×`, "", ""],
        ["@noble / native", `${(noble.p50 / native.p50).toFixed(2)}×`, "", ""],
      ],
    ),
  ].join("\n");
  return { markdown, warnings, wasm };
}
