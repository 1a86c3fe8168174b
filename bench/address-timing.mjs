// Auth (d): does an email that has an account take longer to answer than one that has none?
// Register, login, forgot-password and OTP send are timed with a used address and with an unused
// one, interleaved sample by sample so drift hits both alike; the table gives the p50 of each and
// their ratio (1.00 = indistinguishable). Every sample uses addresses of its own, so the per-address
// limits (login 10/min, lockout 5/15 min, code sends 3/15 min) never fire; every request comes
// from its own client IP. The unit tests (test/address-enumeration.test.ts) check the answers
// themselves; this checks their time.
import { expectStatus, ms, postJson, request, stats, table } from "./lib.mjs";

const AUTH = "/api/v1/auth";
const PASSWORD = "violet-harbor-73-lantern";
const WRONG_PASSWORD = "not-the-right-password-42";
const SAMPLES = 8;
const RATIO_WARN = [0.8, 1.25];

/** Register an account holding `email`; with `verify`, prove it through the dev outbox. */
async function holder(baseUrl, username, email, verify) {
  const { tokens } = expectStatus(
    await postJson(baseUrl, `${AUTH}/register`, { username, password: PASSWORD, email }),
    201,
    `register ${username}`,
  );
  if (!verify) return;
  const token = tokens.accessToken;
  expectStatus(
    await request(baseUrl, "POST", `${AUTH}/otp/send`, { token, body: { identifier: email, channel: "email", purpose: "verify" } }),
    202,
    "verify send",
  );
  const box = expectStatus(await request(baseUrl, "GET", `/api/v1/dev/outbox?to=${encodeURIComponent(email)}`), 200, "dev outbox");
  const code = /\b(\d{6})\b/.exec(box.items.find((m) => m.kind === "otp.verify")?.text ?? "")?.[1];
  if (!code) throw new Error(`no verify code for ${email} (is the server in development, with its dev outbox?)`);
  expectStatus(
    await request(baseUrl, "POST", `${AUTH}/otp/verify`, { token, body: { purpose: "verify", identifier: email, code } }),
    204,
    "verify",
  );
}

/**
 * Time `call(address)` for an unused address and for each used kind, SAMPLES times, alternating
 * which goes first. `expected` is the status every answer must have (the same for all of them).
 */
async function compare(addresses, call, expected, what) {
  const times = Object.fromEntries(Object.keys(addresses).map((k) => [k, []]));
  for (let i = 0; i < SAMPLES; i++) {
    const kinds = Object.keys(addresses);
    if (i % 2) kinds.reverse();
    for (const kind of kinds) {
      const res = await call(addresses[kind][i]);
      expectStatus(res, expected, `${what} (${kind})`);
      times[kind].push(res.ms);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stats(v)]));
}

/** Run section (d) against `baseUrl`: `{ markdown, warnings }`. */
export async function runAddressTiming(baseUrl, log = console.log) {
  const run = Date.now().toString(36);
  const addr = (tag, i) => `bench_${run}_${tag}${i}@example.com`;
  const list = (tag) => Array.from({ length: SAMPLES }, (_, i) => addr(tag, i));
  const name = (() => {
    let n = 0;
    return () => `bench_${run}_r${n++}`;
  })();

  log(`auth (d): ${SAMPLES * 3} accounts holding addresses (a third verified) …`);
  const held = { unverified: list("u"), verified: list("v"), forCodes: list("c") };
  for (let i = 0; i < SAMPLES; i++) {
    await holder(baseUrl, name(), held.unverified[i], false);
    await holder(baseUrl, name(), held.verified[i], true);
    await holder(baseUrl, name(), held.forCodes[i], false);
  }

  log("auth (d): used vs unused addresses …");
  const rows = [];
  const add = (path, used, unusedStats, usedStats) => {
    const ratio = usedStats.p50 / unusedStats.p50;
    rows.push({ path, used, unusedStats, usedStats, ratio });
    log(`  ${path}, ${used}: unused p50 ${ms(unusedStats.p50)} ms, used p50 ${ms(usedStats.p50)} ms, ratio ${ratio.toFixed(2)}`);
  };
  const register = (email) => postJson(baseUrl, `${AUTH}/register`, { username: name(), password: PASSWORD, email });
  const reg = await compare({ unused: list("ru"), unverified: held.unverified, verified: held.verified }, register, 201, "register");
  add("register", "held unverified", reg.unused, reg.unverified);
  add("register", "held verified", reg.unused, reg.verified);

  const loginWith = (password) => (email) => postJson(baseUrl, `${AUTH}/login`, { identifier: email, password });
  const asHolder = await compare({ unused: list("lu"), used: held.unverified }, loginWith(PASSWORD), 401, "login");
  add("login (the holder's password)", "held unverified", asHolder.unused, asHolder.used);
  const wrong = await compare({ unused: list("lw"), used: held.verified }, loginWith(WRONG_PASSWORD), 401, "login");
  add("login (a wrong password)", "held verified", wrong.unused, wrong.used);

  const forgot = (email) => postJson(baseUrl, `${AUTH}/forgot-password`, { identifier: email });
  const f = await compare({ unused: list("fu"), used: held.forCodes }, forgot, 202, "forgot-password");
  add("forgot-password", "held unverified", f.unused, f.used);
  const otp = (email) => postJson(baseUrl, `${AUTH}/otp/send`, { identifier: email, channel: "email", purpose: "login" });
  const o = await compare({ unused: list("ou"), used: held.forCodes }, otp, 202, "otp send");
  add("OTP send (login)", "held unverified", o.unused, o.used);

  const warnings = rows
    .filter((r) => r.ratio < RATIO_WARN[0] || r.ratio > RATIO_WARN[1])
    .map(
      (r) =>
        `${r.path} with an address ${r.used}: p50 ratio ${r.ratio.toFixed(2)} (outside ${RATIO_WARN.join("–")}); rerun on a quiet machine before reading anything into it.`,
    );
  const markdown = [
    `### Used vs unused addresses (${SAMPLES} interleaved samples per row)`,
    "",
    "Whether an email has an account must not show in how long an answer takes. Each row times one path with",
    "an address nobody holds and with one another account holds; the ratio is used p50 / unused p50.",
    "Forgot-password and OTP send to a *verified* address also hand a message to the provider: deployed that",
    "runs after the answer (`waitUntil`), in development the answer waits for the dev outbox, so those are",
    "not timed here.",
    "",
    table(
      ["Path", "Used address", "Unused p50 ms", "Used p50 ms", "Unused p99 ms", "Used p99 ms", "Ratio (p50)"],
      rows.map((r) => [
        r.path,
        r.used,
        ms(r.unusedStats.p50),
        ms(r.usedStats.p50),
        ms(r.unusedStats.p99),
        ms(r.usedStats.p99),
        r.ratio.toFixed(2),
      ]),
    ),
  ].join("\n");
  return { markdown, warnings };
}
