import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashPassword } from "../src/auth/password";
import {
  type ApiResponse,
  api,
  expectError,
  logIn,
  markVerified,
  STRONG_PASSWORD,
  signUp,
  type TestUser,
  uniqueIp,
  uniqueName,
} from "./helpers";

const LOGIN = "/api/v1/auth/login";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const WRONG_PASSWORD = "not-the-right-password-42";
const LOCKOUT_WINDOW_MS = 15 * 60 * 1000;

let phoneCounter = 0;
/** A phone number no other test in this file uses (E.164, +44 7…). */
const uniquePhone = () => `+447${(100_000_000 + ++phoneCounter * 104_729 + Math.floor(Math.random() * 1000)).toString().slice(-9)}`;
const uniqueEmail = () => `${uniqueName("m")}@example.com`;

const login = (body: unknown, ip?: string) => api("POST", LOGIN, { body, ip });

/** The standard error envelope, plus: only the documented keys, and X-Request-Id equals requestId. */
function expectEnvelope(res: ApiResponse, status: number, code: string) {
  const error = expectError(res, status, code);
  expect(Object.keys(res.body)).toEqual(["error"]);
  for (const key of Object.keys(error)) expect(["code", "message", "details", "requestId"]).toContain(key);
  expect(res.headers.get("X-Request-Id")).toBe(error.requestId);
  return error;
}

function expectValidation(res: ApiResponse, path: string) {
  const error = expectEnvelope(res, 400, "validation_failed");
  expect(
    (error.details as { path: string }[]).map((d) => d.path),
    res.text,
  ).toContain(path);
  return error;
}

/** A successful sign-in of `user`: 200 with the account, fresh tokens and the new current session. */
function expectSignedIn(res: ApiResponse, user: TestUser) {
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(["newDevice", "session", "tokens", "user"]);
  expect(typeof res.body.newDevice).toBe("boolean");
  expect(res.body.user).toMatchObject({ id: user.id, username: user.username, role: "user" });
  expect(res.body.user.createdAt).toMatch(ISO_RE);
  expect(res.body.user).not.toHaveProperty("passwordHash");
  expect(res.body.tokens).toMatchObject({ tokenType: "Bearer", accessToken: expect.any(String), refreshToken: expect.any(String) });
  expect(res.body.session).toMatchObject({ id: expect.any(String), current: true, createdAt: expect.stringMatching(ISO_RE) });
  expect(res.body.session.id).not.toBe(user.sessionId);
  expect(res.body.tokens.refreshToken).not.toBe(user.refreshToken);
  return res.body as { user: any; tokens: any; session: any };
}

async function setStatus(userId: string, status: string) {
  await env.DB.prepare("UPDATE users SET status = ? WHERE id = ?").bind(status, userId).run();
}

async function storedHash(userId: string) {
  const row = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(userId).first<{ password_hash: string }>();
  return row!.password_hash;
}

async function failureRow(key: string) {
  return env.DB.prepare("SELECT count, window_start, expires_at FROM window_counters WHERE key = ?")
    .bind(key)
    .first<{ count: number; window_start: number; expires_at: number }>();
}

/** Move a lockout window into the past, as if 15 minutes had gone by. */
async function expireLockout(key: string) {
  const res = await env.DB.prepare(
    "UPDATE window_counters SET window_start = window_start - ?1, expires_at = expires_at - ?1 WHERE key = ?2",
  )
    .bind(LOCKOUT_WINDOW_MS + 1000, key)
    .run();
  expect(res.meta.changes).toBe(1);
}

/** Header names of a response, minus the ones that legitimately differ in value only. */
const headerNames = (res: ApiResponse) => [...res.headers.keys()].map((k) => k.toLowerCase()).sort();

/** The body minus its request id (which is unique per request). */
function withoutRequestId(body: any) {
  const { requestId: _requestId, ...error } = body.error;
  return { error };
}

/**
 * Run `fn` inside one fixed rate-limit window: if the window turned over while it ran (KV
 * limiter counters start again at window boundaries), run it again with fresh inputs.
 */
async function withinOneWindow<T>(windowSeconds: number, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const before = Math.floor(Date.now() / 1000 / windowSeconds);
    const result = await fn();
    if (Math.floor(Date.now() / 1000 / windowSeconds) === before || attempt >= 2) return result;
  }
}

describe("POST /auth/login: success", () => {
  it("signs in by username in any case, with a new session each time", async () => {
    const user = await signUp();
    const ip = uniqueIp();
    const first = expectSignedIn(await login({ identifier: user.username, password: STRONG_PASSWORD }, ip), user);
    expect(first.session.ip).toBe(ip);
    const second = expectSignedIn(await logIn(user.username.toUpperCase()), user);
    const third = expectSignedIn(await logIn(`  ${user.username}  `), user);
    const ids = new Set([user.sessionId, first.session.id, second.session.id, third.session.id]);
    expect(ids.size).toBe(4);
    expect(new Set([first.tokens.refreshToken, second.tokens.refreshToken, third.tokens.refreshToken]).size).toBe(3);

    // Every session is live: the access tokens work and the session list shows them all.
    const sessions = await api("GET", "/api/v1/auth/sessions", { token: third.tokens.accessToken });
    expect(sessions.status, sessions.text).toBe(200);
    const listed = sessions.body.items.map((s: { id: string }) => s.id);
    for (const id of ids) expect(listed).toContain(id);
    const current = sessions.body.items.filter((s: { current: boolean }) => s.current);
    expect(current.map((s: { id: string }) => s.id)).toEqual([third.session.id]);

    const me = await api("GET", "/api/v1/auth/me", { token: first.tokens.accessToken });
    expect(me.status, me.text).toBe(200);
    expect(me.body.user.id).toBe(user.id);
  });

  it("signs in by a verified email in any case", async () => {
    const email = uniqueEmail();
    const user = await signUp({ email });
    await markVerified(user);
    const body = expectSignedIn(await logIn(email.toUpperCase()), user);
    expect(body.user.email).toBe(email);
    expectSignedIn(await logIn(` ${email} `), user);
  });

  it("signs in by a verified phone, formatted or not", async () => {
    const phone = uniquePhone();
    const user = await signUp({ phone });
    await markVerified(user);
    const body = expectSignedIn(await logIn(phone), user);
    expect(body.user.phone).toBe(phone);
    const formatted = `${phone.slice(0, 3)} (${phone.slice(3, 6)}) ${phone.slice(6, 9)}-${phone.slice(9)}`;
    expectSignedIn(await logIn(formatted), user);
  });

  it("keeps the device id and name the client sends", async () => {
    const user = await signUp();
    const a = expectSignedIn(await logIn(user.username, STRONG_PASSWORD, { deviceId: "laptop-77", deviceName: "Work laptop" }), user);
    expect(a.session).toMatchObject({ deviceId: "laptop-77", deviceName: "Work laptop" });
    const b = expectSignedIn(await logIn(user.username, STRONG_PASSWORD, { deviceId: "laptop-77" }), user);
    expect(b.session.deviceId).toBe("laptop-77");
    expect(b.session.id).not.toBe(a.session.id);
    const devices = await api("GET", "/api/v1/auth/devices", { token: b.tokens.accessToken });
    expect(devices.status, devices.text).toBe(200);
    expect(devices.body.items.filter((d: { id: string }) => d.id === "laptop-77")).toHaveLength(1);
  });

  it("does not sign in with a wrong password, nor with the password's case changed", async () => {
    const user = await signUp();
    expectEnvelope(await logIn(user.username, WRONG_PASSWORD), 401, "invalid_credentials");
    expectEnvelope(await logIn(user.username, STRONG_PASSWORD.toUpperCase()), 401, "invalid_credentials");
    expectEnvelope(await logIn(user.username, `${STRONG_PASSWORD} `), 401, "invalid_credentials");
  });
});

describe("POST /auth/login: no account enumeration", () => {
  it("answers unknown accounts and wrong passwords identically", async () => {
    const user = await signUp({ email: uniqueEmail() });
    await markVerified(user);
    const wrong = await logIn(user.username, WRONG_PASSWORD);
    const unknown = await logIn(uniqueName("ghost"), WRONG_PASSWORD);
    const wrongEmail = await logIn(user.email!, WRONG_PASSWORD);
    const unknownEmail = await logIn(uniqueEmail(), WRONG_PASSWORD);

    for (const res of [wrong, unknown, wrongEmail, unknownEmail]) {
      const error = expectEnvelope(res, 401, "invalid_credentials");
      expect(error.details).toBeUndefined();
    }
    expect(withoutRequestId(unknown.body)).toEqual(withoutRequestId(wrong.body));
    expect(withoutRequestId(unknownEmail.body)).toEqual(withoutRequestId(wrongEmail.body));
    expect(withoutRequestId(wrong.body)).toEqual(withoutRequestId(wrongEmail.body));
    expect(headerNames(unknown)).toEqual(headerNames(wrong));
    expect(headerNames(unknownEmail)).toEqual(headerNames(wrongEmail));
    expect(unknown.headers.get("content-type")).toBe(wrong.headers.get("content-type"));
    expect(unknown.headers.get("RateLimit-Remaining")).toBe(wrong.headers.get("RateLimit-Remaining"));
    expect(unknown.body.error.requestId).not.toBe(wrong.body.error.requestId);
  });

  it("does not reveal a suspended account's status without its password", async () => {
    const user = await signUp();
    await setStatus(user.id, "suspended");
    const wrong = await logIn(user.username, WRONG_PASSWORD);
    const unknown = await logIn(uniqueName("ghost"), WRONG_PASSWORD);
    expectEnvelope(wrong, 401, "invalid_credentials");
    expect(withoutRequestId(wrong.body)).toEqual(withoutRequestId(unknown.body));
  });

  it("treats a deleted account like an unknown one", async () => {
    const user = await signUp();
    await setStatus(user.id, "deleted");
    const res = await logIn(user.username);
    expectEnvelope(res, 401, "invalid_credentials");
    expect(withoutRequestId(res.body)).toEqual(withoutRequestId((await logIn(uniqueName("ghost"))).body));
  });
});

describe("POST /auth/login: account status", () => {
  it("refuses a suspended account with 403 account_suspended", async () => {
    const user = await signUp();
    await setStatus(user.id, "suspended");
    const error = expectEnvelope(await logIn(user.username), 403, "account_suspended");
    expect(error.message).toMatch(/suspended/i);
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(sessions!.n).toBe(1); // only the one from sign-up

    await setStatus(user.id, "active");
    expectSignedIn(await logIn(user.username), user);
  });

  it("refuses a banned account with 403 account_banned", async () => {
    const user = await signUp({ email: uniqueEmail() });
    await markVerified(user);
    await setStatus(user.id, "banned");
    const error = expectEnvelope(await logIn(user.username), 403, "account_banned");
    expect(error.message).toMatch(/banned/i);
    expectEnvelope(await logIn(user.email!), 403, "account_banned");
  });
});

describe("POST /auth/login: lockout after 5 failed attempts", () => {
  it("locks the account on the 6th attempt, across identifiers, and unlocks when the window passes", async () => {
    const email = uniqueEmail();
    const phone = uniquePhone();
    const user = await signUp({ email, phone });
    await markVerified(user);
    const key = `user:${user.id}`;

    // Distinct IPs, so the per-IP limiter plays no part.
    for (let i = 1; i <= 5; i++) {
      const res = await login({ identifier: user.username, password: `${WRONG_PASSWORD}${i}` }, uniqueIp());
      expectEnvelope(res, 401, "invalid_credentials");
    }
    expect((await failureRow(key))?.count).toBe(5);

    // The 6th attempt is refused even with the right password.
    const locked = await login({ identifier: user.username, password: STRONG_PASSWORD }, uniqueIp());
    const error = expectEnvelope(locked, 429, "too_many_attempts");
    const retryAfter = Number(locked.headers.get("Retry-After"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(error.details).toEqual({ retryAfter });
    expect(error.message).toMatch(/try again in \d+ min/);

    // Another identifier of the same account is locked as well.
    expectEnvelope(await login({ identifier: email.toUpperCase(), password: STRONG_PASSWORD }, uniqueIp()), 429, "too_many_attempts");
    expectEnvelope(await login({ identifier: phone, password: STRONG_PASSWORD }, uniqueIp()), 429, "too_many_attempts");
    // No session was created while locked.
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(sessions!.n).toBe(1);

    // The window passes: the right password works and the counter is gone.
    await expireLockout(key);
    expectSignedIn(await login({ identifier: user.username, password: STRONG_PASSWORD }, uniqueIp()), user);
    expect(await failureRow(key)).toBeNull();

    // The count starts from zero again: 5 more failures are each 401, the 6th attempt 429.
    for (let i = 1; i <= 5; i++) {
      expectEnvelope(await login({ identifier: phone, password: `${WRONG_PASSWORD}${i}` }, uniqueIp()), 401, "invalid_credentials");
    }
    expectEnvelope(await login({ identifier: email, password: STRONG_PASSWORD }, uniqueIp()), 429, "too_many_attempts");
  });

  it("a success before the limit clears the counter", async () => {
    const user = await signUp({ email: uniqueEmail() });
    await markVerified(user);
    const key = `user:${user.id}`;
    for (let i = 0; i < 4; i++) expectEnvelope(await logIn(user.username, WRONG_PASSWORD), 401, "invalid_credentials");
    expectSignedIn(await logIn(user.email!), user);
    expect(await failureRow(key)).toBeNull();
    for (let i = 0; i < 5; i++) expectEnvelope(await logIn(user.email!, WRONG_PASSWORD), 401, "invalid_credentials");
    expectEnvelope(await logIn(user.email!), 429, "too_many_attempts");
  });

  it("an expired window restarts the count on the next failure", async () => {
    const user = await signUp();
    const key = `user:${user.id}`;
    for (let i = 0; i < 5; i++) expectEnvelope(await logIn(user.username, WRONG_PASSWORD), 401, "invalid_credentials");
    await expireLockout(key);
    expectEnvelope(await logIn(user.username, WRONG_PASSWORD), 401, "invalid_credentials");
    const row = await failureRow(key);
    expect(row?.count).toBe(1);
    expect(Math.abs(row!.window_start - Date.now())).toBeLessThan(60_000);
    expect(row!.expires_at - row!.window_start).toBe(LOCKOUT_WINDOW_MS);
  });

  it("locks an unknown identifier the same way, so lockout does not reveal existence", async () => {
    const ghost = uniqueName("ghost");
    const user = await signUp();
    const unknownAnswers: ApiResponse[] = [];
    const knownAnswers: ApiResponse[] = [];
    for (let i = 0; i < 6; i++) {
      unknownAnswers.push(await login({ identifier: ghost, password: WRONG_PASSWORD }, uniqueIp()));
      knownAnswers.push(await login({ identifier: user.username, password: WRONG_PASSWORD }, uniqueIp()));
    }
    for (let i = 0; i < 5; i++) {
      expectEnvelope(unknownAnswers[i]!, 401, "invalid_credentials");
      expectEnvelope(knownAnswers[i]!, 401, "invalid_credentials");
    }
    const unknownLocked = expectEnvelope(unknownAnswers[5]!, 429, "too_many_attempts");
    const knownLocked = expectEnvelope(knownAnswers[5]!, 429, "too_many_attempts");
    expect(unknownLocked.message).toBe(knownLocked.message);
    expect(Number(unknownAnswers[5]!.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(Number(unknownAnswers[5]!.headers.get("Retry-After"))).toBeLessThanOrEqual(900);
    expect(headerNames(unknownAnswers[5]!)).toEqual(headerNames(knownAnswers[5]!));
    // Case and whitespace variants of the unknown name share its counter.
    expectEnvelope(await login({ identifier: ` ${ghost.toUpperCase()} `, password: WRONG_PASSWORD }, uniqueIp()), 429, "too_many_attempts");
    expect((await failureRow(`id:${ghost}`))?.count).toBe(7);
  });

  it("locks one account without touching another", async () => {
    const victim = await signUp();
    const bystander = await signUp();
    for (let i = 0; i < 6; i++) await logIn(victim.username, WRONG_PASSWORD);
    expectEnvelope(await logIn(victim.username), 429, "too_many_attempts");
    expectSignedIn(await logIn(bystander.username), bystander);
  });
});

describe("POST /auth/login: password rehash", () => {
  it("upgrades a hash made with other argon2 parameters on a good login", async () => {
    const password = "amber-kettle-58-horizon";
    const user = await signUp({ password });
    const oldHash = await hashPassword(password, { m: 32, t: 1, p: 1 });
    expect(oldHash.startsWith("$argon2id$v=19$m=32,t=1,p=1$")).toBe(true);
    await env.DB.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(oldHash, user.id).run();

    // A wrong password does not touch the stored hash.
    expectEnvelope(await logIn(user.username, WRONG_PASSWORD), 401, "invalid_credentials");
    expect(await storedHash(user.id)).toBe(oldHash);

    expectSignedIn(await logIn(user.username, password), user);
    const upgraded = await storedHash(user.id);
    expect(upgraded).not.toBe(oldHash);
    // The current parameters come from vitest.config.ts: ARGON2_MEMORY_KIB=64, ARGON2_ITERATIONS=1.
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(upgraded).not.toContain(password);

    // The new hash verifies, and is not rewritten again (its parameters are current).
    expectSignedIn(await logIn(user.username, password), user);
    expect(await storedHash(user.id)).toBe(upgraded);
    expectEnvelope(await logIn(user.username, WRONG_PASSWORD), 401, "invalid_credentials");
  });

  it("does not rehash for a suspended account that cannot sign in", async () => {
    const password = "amber-kettle-58-horizon";
    const user = await signUp({ password });
    const oldHash = await hashPassword(password, { m: 32, t: 1, p: 1 });
    await env.DB.prepare("UPDATE users SET password_hash = ?, status = 'suspended' WHERE id = ?").bind(oldHash, user.id).run();
    expectEnvelope(await logIn(user.username, password), 403, "account_suspended");
    expect(await storedHash(user.id)).toBe(oldHash);
  });

  it("refuses a stored hash that is not a valid argon2id PHC string", async () => {
    const user = await signUp();
    await env.DB.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(STRONG_PASSWORD, user.id).run();
    expectEnvelope(await logIn(user.username), 401, "invalid_credentials");
  });
});

describe("POST /auth/login: rate limits", () => {
  it("answers the 11th login from one IP with 429 rate_limited, whatever the identifier", async () => {
    const user = await signUp();
    const { ip, responses } = await withinOneWindow(60, async () => {
      const ip = uniqueIp();
      const responses: ApiResponse[] = [];
      for (let i = 0; i < 10; i++) responses.push(await login({ identifier: uniqueName("ipl"), password: WRONG_PASSWORD }, ip));
      responses.push(await login({ identifier: user.username, password: STRONG_PASSWORD }, ip));
      return { ip, responses };
    });
    responses.slice(0, 10).forEach((res, _i) => {
      expectEnvelope(res, 401, "invalid_credentials");
      expect(res.headers.get("RateLimit-Limit")).toBe("10");
    });
    const blocked = responses[10]!;
    const error = expectEnvelope(blocked, 429, "rate_limited");
    const retryAfter = Number(blocked.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(blocked.headers.get("RateLimit-Limit")).toBe("10");
    expect(blocked.headers.get("RateLimit-Remaining")).toBe("0");
    expect(error.details).toEqual({ retryAfter });

    // The right password from a blocked IP created no session and counted no lockout attempt.
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(sessions!.n).toBe(1);
    expect(await failureRow(`user:${user.id}`)).toBeNull();

    // The same IP stays blocked; another IP signs in fine.
    expectEnvelope(await login({ identifier: user.username, password: STRONG_PASSWORD }, ip), 429, "rate_limited");
    expectSignedIn(await login({ identifier: user.username, password: STRONG_PASSWORD }, uniqueIp()), user);
  });

  it("answers the 11th login for one identifier with 429 rate_limited, even from fresh IPs", async () => {
    const { user, responses } = await withinOneWindow(60, async () => {
      // A fresh account per try: a retried sequence must not inherit the identifier's count.
      const user = await signUp({ email: uniqueEmail() });
      await markVerified(user);
      const responses: ApiResponse[] = [];
      // Successful logins: the lockout counter is cleared each time, so only the limiter can refuse.
      for (let i = 0; i < 10; i++) responses.push(await login({ identifier: user.username, password: STRONG_PASSWORD }, uniqueIp()));
      responses.push(await login({ identifier: user.username.toUpperCase(), password: STRONG_PASSWORD }, uniqueIp()));
      return { user, responses };
    });
    responses.slice(0, 10).forEach((res, i) => {
      expectSignedIn(res, user);
      expect(res.headers.get("RateLimit-Limit")).toBe("10");
      // Fresh IPs: this is the per-identifier budget counting down.
      expect(res.headers.get("RateLimit-Remaining")).toBe(String(9 - i));
    });
    const blocked = responses[10]!;
    expectEnvelope(blocked, 429, "rate_limited");
    expect(Number(blocked.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(blocked.headers.get("RateLimit-Remaining")).toBe("0");

    // Separate from the per-IP limit and from the account: another identifier of the same account still works.
    expectSignedIn(await login({ identifier: user.email!, password: STRONG_PASSWORD }, uniqueIp()), user);
  });

  it("counts formatting variants of one identifier as the same identifier", async () => {
    // "+447…" written eleven ways: spaces, dashes, dots and parentheses are not a new identifier.
    const spellings = (phone: string) => [
      phone,
      `${phone.slice(0, 3)} ${phone.slice(3)}`,
      `${phone.slice(0, 3)}-${phone.slice(3)}`,
      `${phone.slice(0, 3)}.${phone.slice(3)}`,
      `${phone.slice(0, 3)} (${phone.slice(3, 6)}) ${phone.slice(6)}`,
      `${phone.slice(0, 6)} ${phone.slice(6)}`,
      `${phone.slice(0, 6)}-${phone.slice(6)}`,
      `${phone.slice(0, 6)}.${phone.slice(6)}`,
      `${phone.slice(0, 9)} ${phone.slice(9)}`,
      `${phone.slice(0, 9)}-${phone.slice(9)}`,
      `${phone.slice(0, 3)} ${phone.slice(3, 6)} ${phone.slice(6, 9)} ${phone.slice(9)}`,
    ];
    expect(new Set(spellings(uniquePhone())).size).toBe(11);
    const { user, responses } = await withinOneWindow(60, async () => {
      // A fresh account per try: a retried sequence must not inherit the identifier's count.
      const phone = uniquePhone();
      const user = await signUp({ phone });
      await markVerified(user);
      const variants = spellings(phone);
      const responses: ApiResponse[] = [];
      for (const identifier of variants) responses.push(await login({ identifier, password: STRONG_PASSWORD }, uniqueIp()));
      return { user, responses };
    });
    for (const res of responses.slice(0, 10)) expectSignedIn(res, user);
    expectEnvelope(responses[10]!, 429, "rate_limited");
  });

  it("keeps the per-identifier budget separate from the per-IP one", async () => {
    const { a, b, responses } = await withinOneWindow(60, async () => {
      const [a, b] = [await signUp(), await signUp()];
      const ip = uniqueIp();
      const responses: ApiResponse[] = [];
      // 5 logins each for two identifiers from one IP: 10 from the IP, 5 per identifier.
      for (let i = 0; i < 5; i++) {
        responses.push(await login({ identifier: a.username, password: STRONG_PASSWORD }, ip));
        responses.push(await login({ identifier: b.username, password: STRONG_PASSWORD }, ip));
      }
      // The IP is spent, though neither identifier is.
      responses.push(await login({ identifier: a.username, password: STRONG_PASSWORD }, ip));
      // From a fresh IP, identifier a still has budget left (5 of 10 used).
      responses.push(await login({ identifier: a.username, password: STRONG_PASSWORD }, uniqueIp()));
      return { a, b, responses };
    });
    for (let i = 0; i < 10; i++) expectSignedIn(responses[i]!, i % 2 === 0 ? a : b);
    expectEnvelope(responses[10]!, 429, "rate_limited");
    const fresh = expectSignedIn(responses[11]!, a);
    expect(fresh.user.id).toBe(a.id);
    expect(responses[11]!.headers.get("RateLimit-Remaining")).toBe("4");
  });
});

describe("POST /auth/login: bad input", () => {
  it("requires identifier and password", async () => {
    expectValidation(await login({ password: STRONG_PASSWORD }), "body.identifier");
    expectValidation(await login({ identifier: uniqueName() }), "body.password");
    const both = expectValidation(await login({}), "body.identifier");
    expect((both.details as { path: string }[]).map((d) => d.path)).toContain("body.password");
  });

  it("rejects wrong types", async () => {
    expectValidation(await login({ identifier: 123, password: STRONG_PASSWORD }), "body.identifier");
    expectValidation(await login({ identifier: uniqueName(), password: 12345678 }), "body.password");
    expectValidation(await login({ identifier: [uniqueName()], password: STRONG_PASSWORD }), "body.identifier");
    expectValidation(await login({ identifier: uniqueName(), password: null }), "body.password");
  });

  it("rejects an empty password and a blank identifier", async () => {
    expectValidation(await login({ identifier: uniqueName(), password: "" }), "body.password");
    expectValidation(await login({ identifier: "   ", password: STRONG_PASSWORD }), "body.identifier");
    expectValidation(await login({ identifier: uniqueName(), password: "x".repeat(129) }), "body.password");
  });

  it("rejects unknown fields and does not sign in", async () => {
    const user = await signUp();
    const res = await login({ identifier: user.username, password: STRONG_PASSWORD, role: "admin" });
    const error = expectEnvelope(res, 400, "validation_failed");
    expect(JSON.stringify(error.details)).toContain("role");
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(sessions!.n).toBe(1);
  });

  it("rejects a bad device id", async () => {
    const user = await signUp();
    expectValidation(await logIn(user.username, STRONG_PASSWORD, { deviceId: "has space/slash" }), "body.deviceId");
    expectValidation(await logIn(user.username, STRONG_PASSWORD, { deviceName: "x".repeat(65) }), "body.deviceName");
  });

  it("answers malformed JSON, other content types and oversize bodies with their codes", async () => {
    expectEnvelope(
      await api("POST", LOGIN, { raw: '{"identifier":', headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    const json = JSON.stringify({ identifier: uniqueName(), password: STRONG_PASSWORD });
    expectEnvelope(await api("POST", LOGIN, { raw: json, headers: { "content-type": "text/plain" } }), 415, "unsupported_media_type");
    const big = JSON.stringify({ identifier: uniqueName(), password: "x".repeat(300 * 1024) });
    expectEnvelope(await api("POST", LOGIN, { raw: big, headers: { "content-type": "application/json" } }), 413, "payload_too_large");
  });
});

describe("POST /auth/login: rate-limit headers with two limits", () => {
  it("shows the limit closest to running out", async () => {
    const user = await signUp();
    const { res } = await withinOneWindow(60, async () => {
      const ip = uniqueIp();
      // Spend 7 of this IP's 10 logins on unknown identifiers; then a fresh identifier from the same IP.
      for (let i = 0; i < 7; i++) await login({ identifier: uniqueName("ghost"), password: "wrong-password-1" }, ip);
      return { res: await login({ identifier: user.username, password: STRONG_PASSWORD }, ip) };
    });
    expect(res.status).toBe(200);
    // Per identifier 9 remain, per IP only 2: the headers must tell the client about the IP budget.
    expect(res.headers.get("RateLimit-Remaining")).toBe("2");
    expect(res.headers.get("RateLimit-Limit")).toBe("10");
  });
});
