// Auth benchmarks: (a) ms per argon2id password hash at production cost, in Node 22 directly and
// end to end as sequential logins (one argon2 verify each); (b) login throughput and latency at
// concurrency 2/4/8; (c) authenticated GET /api/v1/auth/me under load with autocannon; (d) used vs
// unused email addresses on register, login, forgot-password and OTP send (address-timing.mjs).
// Every request carries its own `cf-connecting-ip`, and logins rotate over a pool of accounts, so
// the per-IP and per-identifier rate limits never fire; any non-2xx answer is counted and reported.
import { argon2idAsync } from "@noble/hashes/argon2.js";
import { randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import autocannon from "autocannon";
import { runAddressTiming } from "./address-timing.mjs";
import { expectStatus, ms, pool, postJson, stats, table } from "./lib.mjs";

const AUTH = "/api/v1/auth";
const ARGON2 = { m: 19456, t: 2, p: 1 }; // PRODUCTION_ARGON2 in src/auth/password.ts
const PASSWORD = "violet-harbor-73-lantern";
const NODE_HASH_RUNS = 12;
const SEQ_LOGINS = 10;
const LOGIN_CONCURRENCY = [2, 4, 8];
const LOGIN_LIMITS = { maxRequests: 100, maxSeconds: 8 }; // per concurrency level, whichever first
const ME_CONNECTIONS = [10, 50];
const ME_SECONDS = 10;
// login:identifier allows 10 per 60 s window: enough accounts that none is used more than 9 times.
const USERS = Math.ceil((1 + SEQ_LOGINS + LOGIN_CONCURRENCY.length * LOGIN_LIMITS.maxRequests) / 9);

/** argon2idAsync in this Node process, called exactly as src/auth/password.ts calls it. */
async function nodeHashes(log) {
  const hashOnce = async () => {
    const started = performance.now();
    await argon2idAsync(utf8ToBytes(PASSWORD), randomBytes(16), { ...ARGON2, dkLen: 32, maxmem: 2 ** 31 - 1 });
    return performance.now() - started;
  };
  await hashOnce(); // warm-up
  const samples = [];
  for (let i = 0; i < NODE_HASH_RUNS; i++) samples.push(await hashOnce());
  const s = stats(samples);
  log(`  Node argon2idAsync: mean ${ms(s.mean)} ms, p50 ${ms(s.p50)}, p99 ${ms(s.p99)} (n=${s.n})`);
  return s;
}

/** Register the account pool one at a time; each registration hashes once at the server's cost. */
async function registerPool(baseUrl, log) {
  const run = Date.now().toString(36);
  const names = [];
  const samples = [];
  for (let i = 0; i < USERS; i++) {
    const username = `bench_${run}_${i}`;
    const res = await postJson(baseUrl, `${AUTH}/register`, { username, password: PASSWORD });
    expectStatus(res, 201, `register ${username}`);
    names.push(username);
    samples.push(res.ms);
  }
  const s = stats(samples);
  log(`  register x${s.n}: mean ${ms(s.mean)} ms, p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`);
  return { names, stats: s };
}

/** One concurrency level of logins: logins/s over the wall time, latency of the 200s, other statuses. */
async function loginLoad(login, concurrency, log) {
  const { results, seconds } = await pool({ concurrency, ...LOGIN_LIMITS }, () => login());
  const ok = results.filter((r) => r.status === 200);
  const other = results.length - ok.length;
  const s = stats(ok.map((r) => r.ms));
  const row = { concurrency, n: results.length, seconds, perSecond: ok.length / seconds, stats: s, other };
  log(
    `  c=${concurrency}: ${ok.length}/${results.length} ok in ${seconds.toFixed(1)} s → ${row.perSecond.toFixed(2)} logins/s, ` +
      `p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms${other ? `, ${other} NOT 200: ${statusCounts(results)}` : ""}`,
  );
  return row;
}

const statusCounts = (results) =>
  Object.entries(
    results.reduce((acc, r) => {
      acc[r.status] = (acc[r.status] ?? 0) + 1;
      return acc;
    }, {}),
  )
    .map(([k, v]) => `${k}×${v}`)
    .join(", ");

/** autocannon on one GET route for ME_SECONDS at `connections` connections. */
async function getLoad(url, headers, connections, log) {
  const r = await autocannon({ url, connections, duration: ME_SECONDS, headers });
  const row = {
    connections,
    rps: r.requests.average,
    total: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
  log(
    `  c=${connections}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, max ${row.max} ms, ` +
      `non-2xx ${row.non2xx}, errors ${row.errors}`,
  );
  return row;
}

/** Run every auth benchmark against `baseUrl`; returns `{ markdown, warnings }`. */
export async function runAuthBench(baseUrl, log = console.log) {
  const warnings = [];
  log(`auth (a): argon2id m=${ARGON2.m} KiB, t=${ARGON2.t}, p=${ARGON2.p} in Node ${process.version} …`);
  const node = await nodeHashes(log);

  log(`auth: registering ${USERS} accounts …`);
  const reg = await registerPool(baseUrl, log);
  let turn = 0;
  const login = () => postJson(baseUrl, `${AUTH}/login`, { identifier: reg.names[turn++ % reg.names.length], password: PASSWORD });

  log(`auth (a): ${SEQ_LOGINS} sequential logins …`);
  const token = expectStatus(await login(), 200, "warm-up login").tokens.accessToken;
  const seqSamples = [];
  for (let i = 0; i < SEQ_LOGINS; i++) {
    const res = await login();
    expectStatus(res, 200, "sequential login");
    seqSamples.push(res.ms);
  }
  const seq = stats(seqSamples);
  log(`  login (sequential): mean ${ms(seq.mean)} ms, p50 ${ms(seq.p50)}, p99 ${ms(seq.p99)}`);
  if (seq.p50 < node.p50 / 3) {
    warnings.push(
      `Login p50 (${ms(seq.p50)} ms) is far below one Node argon2 hash (${ms(node.p50)} ms): ` +
        "the server is probably not using production argon2 parameters.",
    );
  }

  log("auth (b): concurrent logins …");
  const loads = [];
  for (const c of LOGIN_CONCURRENCY) loads.push(await loginLoad(login, c, log));
  for (const l of loads) if (l.other) warnings.push(`Concurrent logins at c=${l.concurrency}: ${l.other} answers were not 200.`);

  log(`auth (c): GET ${AUTH}/me with autocannon …`);
  const meUrl = `${baseUrl}${AUTH}/me`;
  const bearer = { authorization: `Bearer ${token}` };
  await autocannon({ url: meUrl, connections: 4, amount: 200, headers: bearer }); // warm-up
  const me = [];
  for (const c of ME_CONNECTIONS) me.push({ route: `GET ${AUTH}/me`, ...(await getLoad(meUrl, bearer, c, log)) });
  log("  baseline GET /health (no auth, no storage):");
  me.push({ route: "GET /health (baseline)", ...(await getLoad(`${baseUrl}/health`, {}, ME_CONNECTIONS[0], log)) });
  for (const m of me)
    if (m.non2xx || m.errors) warnings.push(`${m.route} at ${m.connections} connections: ${m.non2xx} non-2xx, ${m.errors} errors.`);

  const addresses = await runAddressTiming(baseUrl, log);
  warnings.push(...addresses.warnings);

  const markdown = [
    `### Password hashing: argon2id m=${ARGON2.m} KiB, t=${ARGON2.t}, p=${ARGON2.p}`,
    "",
    table(
      ["What", "Runs", "Mean ms", "p50 ms", "p99 ms", "Max ms"],
      [
        [`one hash, Node ${process.version}, @noble/hashes argon2idAsync`, node],
        ["register, end to end (sequential; hash + zxcvbn + D1 writes)", reg.stats],
        ["login, end to end (sequential; one argon2 verify + D1/KV)", seq],
      ].map(([what, s]) => [what, s.n, ms(s.mean), ms(s.p50), ms(s.p99), ms(s.max)]),
    ),
    "",
    `### Login throughput (each level stops after ${LOGIN_LIMITS.maxRequests} logins or ${LOGIN_LIMITS.maxSeconds} s)`,
    "",
    `Each login comes from its own client IP and the logins rotate over ${USERS} accounts, so no rate limit fires.`,
    "Locally `argon2idAsync` yields every 10 ms, so concurrent logins interleave in the one isolate; deployed,",
    "`Date.now()` only advances on I/O, so there each hash runs as one uninterrupted block.",
    "",
    table(
      ["Concurrency", "Logins", "Seconds", "Logins/s", "p50 ms", "p99 ms", "Not 200"],
      loads.map((l) => [l.concurrency, l.n, l.seconds.toFixed(1), l.perSecond.toFixed(2), ms(l.stats.p50), ms(l.stats.p99), l.other]),
    ),
    "",
    `### GET ${AUTH}/me under load (autocannon, ${ME_SECONDS} s per row, one access token)`,
    "",
    "`GET /health` (no auth, no D1/KV) is the ceiling of this server and load generator on this machine.",
    "",
    table(
      ["Route", "Connections", "Requests", "Req/s", "p50 ms", "p99 ms", "Max ms", "Non-2xx", "Errors"],
      me.map((m) => [m.route, m.connections, m.total, m.rps.toFixed(0), m.p50, m.p99, m.max, m.non2xx, m.errors]),
    ),
    "",
    addresses.markdown,
  ].join("\n");
  return { markdown, warnings };
}
