// Auth benchmarks: (a) ms per argon2id password hash at production cost: native libargon2 in Node,
// and the WebAssembly and @noble/hashes implementations inside workerd (argon2-timing.mjs), then end
// to end as sequential registers and logins (one argon2 hash / verify each); (b) login throughput
// and latency at concurrency 2/4/8, also against the app as it was at BENCH_BEFORE (a git ref)
// when set, alternating level by level; (c) authenticated GET /api/v1/auth/me under load with
// autocannon; (d) used vs unused email addresses on register, login, forgot-password and OTP send
// (address-timing.mjs). Every request carries its own `cf-connecting-ip`, and logins rotate over a
// pool of accounts, so the per-IP and per-identifier rate limits never fire; any non-2xx answer is
// counted and reported.
import autocannon from "autocannon";
import { runAddressTiming } from "./address-timing.mjs";
import { runArgon2Timing } from "./argon2-timing.mjs";
import { expectStatus, ms, pool, postJson, stats, table } from "./lib.mjs";

const AUTH = "/api/v1/auth";
const ARGON2 = { m: 19456, t: 2, p: 1 }; // PRODUCTION_ARGON2 in src/auth/password.ts
const PASSWORD = "violet-harbor-73-lantern";
const SEQ_LOGINS = 10;
const LOGIN_CONCURRENCY = [2, 4, 8];
const LOGIN_LIMITS = { maxRequests: 100, maxSeconds: 8 }; // per concurrency level, whichever first
const ME_CONNECTIONS = [10, 50];
const ME_SECONDS = 10;
// login:identifier allows 10 per 60 s window: enough accounts that none is used more than 9 times.
const USERS = Math.ceil((1 + SEQ_LOGINS + LOGIN_CONCURRENCY.length * LOGIN_LIMITS.maxRequests) / 9);

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

/** An app to sign in to: its account pool, a `login()` rotating over it, a first access token, sequential login times. */
async function prepareApp(label, baseUrl, log) {
  log(`auth: ${label}: registering ${USERS} accounts …`);
  const reg = await registerPool(baseUrl, log);
  let turn = 0;
  const login = () => postJson(baseUrl, `${AUTH}/login`, { identifier: reg.names[turn++ % reg.names.length], password: PASSWORD });
  log(`auth (a): ${label}: ${SEQ_LOGINS} sequential logins …`);
  const token = expectStatus(await login(), 200, "warm-up login").tokens.accessToken;
  const samples = [];
  for (let i = 0; i < SEQ_LOGINS; i++) {
    const res = await login();
    expectStatus(res, 200, "sequential login");
    samples.push(res.ms);
  }
  const seq = stats(samples);
  log(`  login (sequential): mean ${ms(seq.mean)} ms, p50 ${ms(seq.p50)}, p99 ${ms(seq.p99)}`);
  return { label, login, token, register: reg.stats, seq, loads: [] };
}

/** One concurrency level of logins: logins/s over the wall time, latency of the 200s, other statuses. */
async function loginLoad(login, concurrency, log, label) {
  const { results, seconds } = await pool({ concurrency, ...LOGIN_LIMITS }, () => login());
  const ok = results.filter((r) => r.status === 200);
  const other = results.length - ok.length;
  const s = stats(ok.map((r) => r.ms));
  const row = { concurrency, n: results.length, seconds, perSecond: ok.length / seconds, stats: s, other };
  log(
    `  ${label} c=${concurrency}: ${ok.length}/${results.length} ok in ${seconds.toFixed(1)} s → ${row.perSecond.toFixed(2)} logins/s, ` +
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

/**
 * Run every auth benchmark against `baseUrl`, hashing in the bench Worker at `hashUrl`; with
 * `before` (`{ baseUrl, ref }`, the app at an earlier commit) logins are measured on both.
 * Returns `{ markdown, warnings }`.
 */
export async function runAuthBench(baseUrl, { hashUrl, before = null }, log = console.log) {
  const warnings = [];
  const hashing = await runArgon2Timing(hashUrl, ARGON2, log);
  warnings.push(...hashing.warnings);

  const apps = [await prepareApp("now", baseUrl, log)];
  if (before) apps.push(await prepareApp(`before (${before.ref})`, before.baseUrl, log));
  const [app] = apps;
  if (app.seq.p50 < hashing.wasm.p50 / 2) {
    warnings.push(
      `Login p50 (${ms(app.seq.p50)} ms) is far below one WebAssembly argon2 hash (${ms(hashing.wasm.p50)} ms): ` +
        "the server is probably not using production argon2 parameters.",
    );
  }

  log("auth (b): concurrent logins …");
  for (const c of LOGIN_CONCURRENCY) for (const a of apps) a.loads.push(await loginLoad(a.login, c, log, a.label));
  for (const a of apps)
    for (const l of a.loads)
      if (l.other) warnings.push(`${a.label}: concurrent logins at c=${l.concurrency}: ${l.other} answers were not 200.`);
  const token = app.token;

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

  const endToEnd = apps.flatMap((a) => [
    [a.label, "register (hash + zxcvbn + D1 writes)", a.register],
    [a.label, "login (one argon2 verify + D1/KV)", a.seq],
  ]);
  const markdown = [
    hashing.markdown,
    "",
    "### Register and login, end to end (sequential)",
    "",
    before
      ? `"now" is this tree (WebAssembly argon2id); "before (${before.ref})" is the app at that commit (BENCH_BEFORE), on its own server.`
      : "Set `BENCH_BEFORE=<git ref>` to measure the app at an earlier commit alongside.",
    "",
    table(
      ["App", "What", "Runs", "Mean ms", "p50 ms", "p99 ms", "Max ms"],
      endToEnd.map(([label, what, s]) => [label, what, s.n, ms(s.mean), ms(s.p50), ms(s.p99), ms(s.max)]),
    ),
    "",
    `### Login throughput (each level stops after ${LOGIN_LIMITS.maxRequests} logins or ${LOGIN_LIMITS.maxSeconds} s)`,
    "",
    `Each login comes from its own client IP and the logins rotate over ${USERS} accounts per app, so no rate limit fires.`,
    "A hash runs as one synchronous block in the isolate (WebAssembly now; @noble's synchronous `argon2id` before), so",
    "the concurrent logins of one isolate take turns; `wrangler dev` runs one isolate on this 2-core machine, with the",
    `load generator beside it.${before ? " The two apps alternate level by level." : ""}`,
    "",
    table(
      ["App", "Concurrency", "Logins", "Seconds", "Logins/s", "p50 ms", "p99 ms", "Not 200"],
      LOGIN_CONCURRENCY.flatMap((_, i) =>
        apps.map((a) => {
          const l = a.loads[i];
          return [a.label, l.concurrency, l.n, l.seconds.toFixed(1), l.perSecond.toFixed(2), ms(l.stats.p50), ms(l.stats.p99), l.other];
        }),
      ),
    ),
    ...(before
      ? [
          "",
          table(
            ["Concurrency", "Logins/s before", "Logins/s now", "Now / before"],
            LOGIN_CONCURRENCY.map((c, i) => {
              const [now, then] = [apps[0].loads[i].perSecond, apps[1].loads[i].perSecond];
              return [c, then.toFixed(2), now.toFixed(2), `${(now / then).toFixed(2)}×`];
            }),
          ),
        ]
      : []),
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
