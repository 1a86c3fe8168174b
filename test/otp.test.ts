import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import { sha256Hex } from "../src/lib/crypto";
import {
  type ApiResponse,
  api,
  BASE,
  expectError,
  expectInvalid,
  observable,
  signUp,
  type TestUser,
  uniqueIp,
  uniqueName,
} from "./helpers";

const AUTH = "/api/v1/auth";
const MINUTE = 60_000;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let phoneCounter = 0;
const uniqueEmail = () => `${uniqueName("o")}@example.com`;
const uniquePhone = () => `+4477${String(++phoneCounter).padStart(3, "0")}${String(Math.floor(Math.random() * 1e5)).padStart(5, "0")}`;

const send = (body: unknown, token?: string) => api("POST", `${AUTH}/otp/send`, { body, token });
const verify = (body: unknown, token?: string) => api("POST", `${AUTH}/otp/verify`, { body, token });
const me = (token: string) => api("GET", `${AUTH}/me`, { token });

async function outbox(to: string): Promise<any[]> {
  const res = await api("GET", `/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

/** The code in the newest message of `kind` to `to`. */
async function latestCode(to: string, kind: string): Promise<string> {
  const message = (await outbox(to)).find((m) => m.kind === kind);
  expect(message, `no ${kind} message to ${to}`).toBeDefined();
  const match = /\b(\d{6})\b/.exec(message.text);
  expect(match, message.text).not.toBeNull();
  return match![1]!;
}

/** A different well-formed code. */
const wrong = (code: string) => String((Number(code) + 1) % 1e6).padStart(6, "0");

async function expectAccepted(res: ApiResponse) {
  expect(res.status, res.text).toBe(202);
  expect(res.body).toEqual({ expiresIn: 300 });
}

/** Prove the user's email (or phone) through the public API. */
async function verifyContact(u: TestUser, identifier: string, channel: "email" | "sms") {
  await expectAccepted(await send({ identifier, channel, purpose: "verify" }, u.accessToken));
  const code = await latestCode(identifier, "otp.verify");
  const res = await verify({ purpose: "verify", identifier, code }, u.accessToken);
  expect(res.status, res.text).toBe(204);
}

async function userWithVerifiedEmail(): Promise<TestUser & { email: string }> {
  const u = await signUp({ email: uniqueEmail() });
  await verifyContact(u, u.email!, "email");
  return u as TestUser & { email: string };
}

/** Setup shortcut for tests that are not about verification (keeps the identifier's send budget whole). */
async function markVerified(userId: string) {
  await env.DB.prepare("UPDATE users SET email_verified_at = ?, phone_verified_at = ? WHERE id = ?")
    .bind(Date.now(), Date.now(), userId)
    .run();
}

async function codeRows(target: string) {
  const { results } = await env.DB.prepare("SELECT * FROM otp_codes WHERE target = ? ORDER BY created_at, id").bind(target).all<any>();
  return results;
}

describe("passwordless login: POST /otp/send + /otp/verify (purpose login)", () => {
  it("sends a code to a verified email and signs in with it, once", async () => {
    const u = await userWithVerifiedEmail();
    await expectAccepted(await send({ identifier: u.email.toUpperCase(), channel: "email", purpose: "login" }));

    const [message] = await outbox(u.email);
    expect(message).toMatchObject({ channel: "email", to: u.email, kind: "otp.login", subject: "Your sign-in code" });
    expect(message.text).toContain("5 minutes");
    const code = await latestCode(u.email, "otp.login");

    // Stored hashed, bound to its row id: never the code itself.
    const row = (await codeRows(u.email)).find((r) => r.purpose === "login");
    expect(row).toMatchObject({ user_id: u.id, channel: "email", attempts: 0, consumed_at: null });
    expect(row.code_hash).toBe(sha256Hex(`${row.id}:${code}`));
    expect(row.code_hash).not.toContain(code);
    expect(row.expires_at - row.created_at).toBe(5 * MINUTE);

    const res = await verify({ purpose: "login", identifier: u.email, code: `${code.slice(0, 3)} ${code.slice(3)}`, deviceName: "Laptop" });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user).toMatchObject({ id: u.id, email: u.email, emailVerified: true });
    expect(res.body.tokens).toMatchObject({ tokenType: "Bearer", accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(res.body.session).toMatchObject({ current: true, deviceName: "Laptop", createdAt: expect.stringMatching(ISO_RE) });
    expect(res.body.session.id).not.toBe(u.sessionId);
    expect((await me(res.body.tokens.accessToken)).body.user.id).toBe(u.id);
    const event = await env.DB.prepare("SELECT details FROM security_events WHERE user_id = ? AND type LIKE 'login%' ORDER BY id DESC")
      .bind(u.id)
      .first<{ details: string }>();
    expect(JSON.parse(event!.details).method).toBe("otp");

    // Single use.
    const again = await verify({ purpose: "login", identifier: u.email, code });
    expect(expectError(again, 400, "invalid_code").details).toBeUndefined();
  });

  it("works by SMS for a verified phone", async () => {
    const phone = uniquePhone();
    const u = await signUp({ phone });
    await verifyContact(u, phone, "sms");
    // Separators are dropped: the same E.164 number.
    await expectAccepted(await send({ identifier: `${phone.slice(0, 3)} ${phone.slice(3)}`, channel: "sms", purpose: "login" }));
    const [message] = await outbox(phone);
    expect(message).toMatchObject({ channel: "sms", to: phone, kind: "otp.login" });
    const res = await verify({ purpose: "login", identifier: phone, code: await latestCode(phone, "otp.login") });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user).toMatchObject({ id: u.id, phoneVerified: true });
  });

  it("sends nothing to an unverified email, yet answers the same", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
    expect(await outbox(u.email!)).toEqual([]);
    const rows = await codeRows(u.email!);
    expect(rows).toHaveLength(1);
    expect(rows[0].user_id).toBeNull();
    expectError(await verify({ purpose: "login", identifier: u.email, code: "000000" }), 400, "invalid_code");
  });

  it("answers the 2FA challenge instead of tokens when 2FA is on", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    await env.DB.prepare("UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXP', totp_enabled_at = ? WHERE id = ?")
      .bind(Date.now(), u.id)
      .run();
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
    const res = await verify({ purpose: "login", identifier: u.email, code: await latestCode(u.email!, "otp.login") });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), expiresIn: 300 });
    const sessions = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(u.id).first<{ n: number }>();
    expect(sessions!.n).toBe(1);
  });

  it("does not let suspended or banned accounts in", async () => {
    for (const [status, code] of [
      ["suspended", "account_suspended"],
      ["banned", "account_banned"],
    ] as const) {
      const u = await signUp({ email: uniqueEmail() });
      await markVerified(u.id);
      await env.DB.prepare("UPDATE users SET status = ? WHERE id = ?").bind(status, u.id).run();
      await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
      const res = await verify({ purpose: "login", identifier: u.email, code: await latestCode(u.email!, "otp.login") });
      expect(res.body.tokens).toBeUndefined();
      expectError(res, 403, code);
    }
  });

  it("refuses an expired code", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
    const code = await latestCode(u.email!, "otp.login");
    const past = Date.now() - 6 * MINUTE;
    await env.DB.prepare("UPDATE otp_codes SET created_at = ?, expires_at = ? WHERE target = ?")
      .bind(past, past + 5 * MINUTE, u.email)
      .run();
    const res = await verify({ purpose: "login", identifier: u.email, code });
    expect(expectError(res, 400, "invalid_code").details).toBeUndefined();
    expect(res.body.tokens).toBeUndefined();
  });

  it("kills a code after 3 wrong tries, counting down attemptsLeft", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
    const code = await latestCode(u.email!, "otp.login");
    const body = { purpose: "login", identifier: u.email, code: wrong(code) };
    expect(expectError(await verify(body), 400, "invalid_code").details).toEqual({ attemptsLeft: 2 });
    expect(expectError(await verify(body), 400, "invalid_code").details).toEqual({ attemptsLeft: 1 });
    const last = expectError(await verify(body), 400, "invalid_code");
    expect(last.details).toBeUndefined();
    // Dead: even the right code no longer works, with the same message.
    const right = expectError(await verify({ ...body, code }), 400, "invalid_code");
    expect(right).toMatchObject({ message: last.message });
    expect(right.details).toBeUndefined();
    expect((await codeRows(u.email!))[0].attempts).toBe(3);
  });

  it("counts tries exactly under concurrent guessing", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
    const code = await latestCode(u.email!, "otp.login");
    const guesses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        verify({ purpose: "login", identifier: u.email, code: String((Number(code) + 1 + i) % 1e6).padStart(6, "0") }),
      ),
    );
    for (const res of guesses) expectError(res, 400, "invalid_code");
    // Exactly 3 tries were counted: two of them still had tries left, the rest met a dead code.
    expect(
      guesses
        .filter((r) => r.body.error.details)
        .map((r) => r.body.error.details.attemptsLeft)
        .sort(),
    ).toEqual([1, 2]);
    expect((await codeRows(u.email!))[0].attempts).toBe(3);
    expectError(await verify({ purpose: "login", identifier: u.email, code }), 400, "invalid_code");
  });

  it("a new code replaces the previous one", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
    const first = await latestCode(u.email!, "otp.login");
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
    const second = await latestCode(u.email!, "otp.login");
    const rows = await codeRows(u.email!);
    expect(rows.map((r) => r.consumed_at === null)).toEqual([false, true]);
    if (first !== second) expectError(await verify({ purpose: "login", identifier: u.email, code: first }), 400, "invalid_code");
    expect((await verify({ purpose: "login", identifier: u.email, code: second })).status).toBe(200);
  });

  it("allows 3 sends per identifier per 15 minutes, known or not", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    for (const identifier of [u.email!, uniqueEmail()]) {
      for (let i = 0; i < 3; i++) await expectAccepted(await send({ identifier, channel: "email", purpose: "login" }));
      const res = await send({ identifier, channel: "email", purpose: "login" });
      const error = expectError(res, 429, "rate_limited");
      const retryAfter = Number(res.headers.get("Retry-After"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      expect(error.details).toEqual({ retryAfter });
      // The window passes (moved into the past rather than waited for): sending works again.
      await env.DB.prepare("UPDATE window_counters SET window_start = window_start - ?1, expires_at = expires_at - ?1 WHERE key = ?2")
        .bind(15 * MINUTE, `otp-send:${identifier}`)
        .run();
      await expectAccepted(await send({ identifier, channel: "email", purpose: "login" }));
    }
    expect((await outbox(u.email!)).filter((m) => m.kind === "otp.login")).toHaveLength(4);
  });

  it("looks the same for existing and unknown identifiers", async () => {
    const known = await signUp({ email: uniqueEmail() });
    await markVerified(known.id);
    const unverified = await signUp({ email: uniqueEmail() });
    const unknown = uniqueEmail();
    const sends = await Promise.all(
      [known.email, unverified.email, unknown].map((identifier) => send({ identifier, channel: "email", purpose: "login" })),
    );
    expect(observable(sends[0]!).status).toBe(202);
    expect(observable(sends[1]!)).toEqual(observable(sends[0]!));
    expect(observable(sends[2]!)).toEqual(observable(sends[0]!));

    const code = await latestCode(known.email!, "otp.login");
    const tries = [];
    for (const identifier of [known.email, unverified.email, unknown])
      tries.push(await verify({ purpose: "login", identifier, code: wrong(code) }));
    expectError(tries[0]!, 400, "invalid_code");
    expect(tries[0]!.body.error.details).toEqual({ attemptsLeft: 2 });
    expect(observable(tries[1]!)).toEqual(observable(tries[0]!));
    expect(observable(tries[2]!)).toEqual(observable(tries[0]!));
    // An identifier that never had a code answers the same as a wrong code without tries left.
    const never = await verify({ purpose: "login", identifier: uniqueEmail(), code: "123456" });
    expect(never.body.error.message).toBe(tries[0]!.body.error.message);
  });

  it("a verify code cannot sign in", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "verify" }, u.accessToken));
    const code = await latestCode(u.email!, "otp.verify");
    expectError(await verify({ purpose: "login", identifier: u.email, code }), 400, "invalid_code");
  });
});

describe("verifying my email or phone (purpose verify)", () => {
  it("marks the email verified, once, and records email_verified", async () => {
    const u = await signUp({ email: uniqueEmail() });
    expect((await me(u.accessToken)).body.user.emailVerified).toBe(false);
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "verify" }, u.accessToken));
    const [message] = await outbox(u.email!);
    expect(message).toMatchObject({ channel: "email", kind: "otp.verify", subject: "Your verification code" });
    const code = await latestCode(u.email!, "otp.verify");
    const res = await verify({ purpose: "verify", identifier: u.email, code }, u.accessToken);
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");
    expect((await me(u.accessToken)).body.user).toMatchObject({ emailVerified: true, phoneVerified: false });
    expectError(await verify({ purpose: "verify", identifier: u.email, code }, u.accessToken), 400, "invalid_code");

    // Verifying again is harmless and not recorded twice.
    await verifyContact(u, u.email!, "email");
    const { results } = await env.DB.prepare("SELECT type, details FROM security_events WHERE user_id = ? AND type = 'email_verified'")
      .bind(u.id)
      .all<{ type: string; details: string }>();
    expect(results).toHaveLength(1);
    expect(JSON.parse(results[0]!.details)).toEqual({ channel: "email" });
  });

  it("marks the phone verified by SMS and records phone_verified", async () => {
    const phone = uniquePhone();
    const u = await signUp({ phone, email: uniqueEmail() });
    await verifyContact(u, phone, "sms");
    expect((await me(u.accessToken)).body.user).toMatchObject({ phoneVerified: true, emailVerified: false });
    const event = await env.DB.prepare("SELECT count(*) AS n FROM security_events WHERE user_id = ? AND type = 'phone_verified'")
      .bind(u.id)
      .first<{ n: number }>();
    expect(event!.n).toBe(1);
  });

  it("needs a bearer token", async () => {
    const u = await signUp({ email: uniqueEmail() });
    expectError(await send({ identifier: u.email, channel: "email", purpose: "verify" }), 401, "unauthorized");
    expectError(await verify({ purpose: "verify", identifier: u.email, code: "123456" }), 401, "unauthorized");
    expectError(await verify({ purpose: "verify", identifier: u.email, code: "123456" }, "not-a-token"), 401, "unauthorized");
    expect(await outbox(u.email!)).toEqual([]);
  });

  it("refuses another user's email or phone, and another user's code", async () => {
    const phone = uniquePhone();
    const alice = await signUp({ email: uniqueEmail(), phone });
    const bob = await signUp({ email: uniqueEmail() });
    expectError(await send({ identifier: alice.email, channel: "email", purpose: "verify" }, bob.accessToken), 400, "not_your_identifier");
    expectError(await send({ identifier: phone, channel: "sms", purpose: "verify" }, bob.accessToken), 400, "not_your_identifier");
    expect(await outbox(alice.email!)).toEqual([]);

    await expectAccepted(await send({ identifier: alice.email, channel: "email", purpose: "verify" }, alice.accessToken));
    const code = await latestCode(alice.email!, "otp.verify");
    expectError(await verify({ purpose: "verify", identifier: alice.email, code }, bob.accessToken), 400, "not_your_identifier");
    expect((await me(alice.accessToken)).body.user.emailVerified).toBe(false);
    // The code was not spent by Bob's attempt.
    expect((await verify({ purpose: "verify", identifier: alice.email, code }, alice.accessToken)).status).toBe(204);
  });
});

describe("OTP input checks", () => {
  it("the channel must fit the identifier", async () => {
    const phone = uniquePhone();
    const cases: [unknown, string][] = [
      [{ identifier: uniqueEmail(), channel: "sms", purpose: "login" }, "channel_mismatch"],
      [{ identifier: phone, channel: "email", purpose: "login" }, "channel_mismatch"],
      [{ identifier: "some_username", channel: "email", purpose: "login" }, "channel_mismatch"],
    ];
    for (const [body, code] of cases) {
      const error = expectError(await send(body), 400, code);
      expect(error.details).toMatchObject({ channel: (body as { channel: string }).channel });
    }
    expectInvalid(await send({ identifier: "not-an-email@", channel: "email", purpose: "login" }), "body.identifier");
    expectInvalid(await send({ identifier: "+12", channel: "sms", purpose: "login" }), "body.identifier");
    expectInvalid(await verify({ purpose: "login", identifier: "some_username", code: "123456" }), "body.identifier");
  });

  it("POST /otp/send rejects bad bodies", async () => {
    const ok = { identifier: uniqueEmail(), channel: "email", purpose: "login" };
    expectInvalid(await send({ channel: "email", purpose: "login" }), "body.identifier");
    expectInvalid(await send({ ...ok, channel: 5 }), "body.channel");
    expectInvalid(await send({ ...ok, channel: "pigeon" }), "body.channel");
    expectInvalid(await send({ ...ok, purpose: "reset" }), "body.purpose");
    expectInvalid(await send({ ...ok, identifier: "" }), "body.identifier");
    expectError(await send({ ...ok, admin: true }), 400, "validation_failed");
    const malformed = await api("POST", `${AUTH}/otp/send`, { raw: "{not json", headers: { "content-type": "application/json" } });
    expectError(malformed, 400, "malformed_json");
    const plain = await api("POST", `${AUTH}/otp/send`, { raw: JSON.stringify(ok), headers: { "content-type": "text/plain" } });
    expectError(plain, 415, "unsupported_media_type");
    expect(await codeRows(ok.identifier)).toEqual([]);
  });

  it("POST /otp/verify rejects bad bodies", async () => {
    const ok = { purpose: "login", identifier: uniqueEmail(), code: "123456" };
    expectInvalid(await verify({ purpose: "login", identifier: ok.identifier }), "body.code");
    expectInvalid(await verify({ ...ok, code: 123456 }), "body.code");
    expectInvalid(await verify({ ...ok, code: "12345" }), "body.code");
    expectInvalid(await verify({ ...ok, code: "abcdef" }), "body.code");
    expectError(await verify({ identifier: ok.identifier, code: "123456" }), 400, "validation_failed");
    expectError(await verify({ ...ok, extra: 1 }), 400, "validation_failed");
    // Device fields belong to sign-in only.
    expectError(await verify({ ...ok, purpose: "verify", deviceName: "x" }), 400, "validation_failed");
    const malformed = await api("POST", `${AUTH}/otp/verify`, { raw: '{"purpose":', headers: { "content-type": "application/json" } });
    expectError(malformed, 400, "malformed_json");
  });
});

describe("GET /api/v1/dev/outbox", () => {
  it("lists captured messages newest first, filtered by recipient, with a limit", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "verify" }, u.accessToken));
    await expectAccepted(await send({ identifier: u.email, channel: "email", purpose: "login" }));
    const items = await outbox(u.email!);
    expect(items.map((m) => m.kind)).toEqual(["otp.login", "otp.verify"]);
    expect(Object.keys(items[0]).sort()).toEqual(["channel", "createdAt", "id", "kind", "subject", "text", "to"]);
    expect(items[0].createdAt).toMatch(ISO_RE);
    expect(items.every((m) => m.to === u.email)).toBe(true);

    const one = await api("GET", `/api/v1/dev/outbox?to=${encodeURIComponent(u.email!.toUpperCase())}&limit=1`);
    expect(one.body.items).toEqual([items[0]]);
    const all = await api("GET", "/api/v1/dev/outbox?limit=100");
    expect(all.status).toBe(200);
    expect(all.body.items.length).toBeGreaterThanOrEqual(2);
  });

  it("accepts a phone whose + arrived as a space", async () => {
    const phone = uniquePhone();
    const u = await signUp({ phone });
    await expectAccepted(await send({ identifier: phone, channel: "sms", purpose: "verify" }, u.accessToken));
    const res = await api("GET", `/api/v1/dev/outbox?to=${phone}`); // unencoded '+'
    expect(res.body.items.map((m: any) => m.to)).toEqual([phone]);
  });

  it("rejects bad queries", async () => {
    expectInvalid(await api("GET", "/api/v1/dev/outbox?limit=0"), "query.limit");
    expectInvalid(await api("GET", "/api/v1/dev/outbox?limit=abc"), "query.limit");
    expectInvalid(await api("GET", `/api/v1/dev/outbox?to=${"a".repeat(300)}`), "query.to");
  });
});

/** The app as deployed: another ENVIRONMENT and providers, with background work awaited. */
async function fetchWithEnv(overrides: Record<string, unknown>, method: string, path: string, body?: unknown) {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = { "cf-connecting-ip": uniqueIp() };
  if (body !== undefined) headers["content-type"] = "application/json";
  const req = new Request(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const res = await app.fetch(req, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers, text } as ApiResponse;
}

describe("outside development", () => {
  const PROD = { ENVIRONMENT: "production", JWT_SECRET: "a-real-production-secret-of-more-than-32-chars!" };
  const RESEND = { ...PROD, EMAIL_PROVIDER: "resend", EMAIL_API_KEY: "re_test_key", EMAIL_FROM: "Edge <no-reply@example.com>" };
  afterEach(() => vi.unstubAllGlobals());

  /** Replace the outbound fetch; records what the providers send and answers `status`. */
  function fakeProviders(status = 200) {
    const sent: Request[] = [];
    vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
      sent.push(new Request(input, init));
      return new Response("{}", { status });
    });
    return sent;
  }

  it("the dev outbox does not exist (404 like an unknown route, whatever the query)", async () => {
    for (const path of ["/api/v1/dev/outbox", "/api/v1/dev/outbox?limit=abc"]) {
      const res = await fetchWithEnv(PROD, "GET", path);
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: "not_found", message: "No such route" });
    }
    const unknown = await fetchWithEnv(PROD, "GET", "/api/v1/dev/nothing-here");
    expect(unknown.body.error.message).toBe("No such route");
  });

  it("sends through the HTTP provider after answering, only to real accounts, and the code signs in", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    const sent = fakeProviders();
    const known = await fetchWithEnv(RESEND, "POST", `${AUTH}/otp/send`, { identifier: u.email, channel: "email", purpose: "login" });
    const unknown = await fetchWithEnv(RESEND, "POST", `${AUTH}/otp/send`, {
      identifier: uniqueEmail(),
      channel: "email",
      purpose: "login",
    });
    await expectAccepted(known);
    expect(observable(unknown)).toEqual(observable(known));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.url).toBe("https://api.resend.com/emails");
    const payload = (await sent[0]!.json()) as { to: string[]; text: string };
    expect(payload.to).toEqual([u.email]);
    const code = /\b(\d{6})\b/.exec(payload.text)![1];
    expect(await outbox(u.email!)).toEqual([]); // nothing captured outside development

    const res = await fetchWithEnv(RESEND, "POST", `${AUTH}/otp/verify`, { purpose: "login", identifier: u.email, code });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.id).toBe(u.id);
  });

  it("a failing provider does not change the answer", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    const sent = fakeProviders(500);
    const res = await fetchWithEnv(RESEND, "POST", `${AUTH}/otp/send`, { identifier: u.email, channel: "email", purpose: "login" });
    await expectAccepted(res);
    expect(sent).toHaveLength(1);
  });

  it("a channel without a provider answers 503 for every identifier alike", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await markVerified(u.id);
    const known = await fetchWithEnv(PROD, "POST", `${AUTH}/otp/send`, { identifier: u.email, channel: "email", purpose: "login" });
    const unknown = await fetchWithEnv(PROD, "POST", `${AUTH}/otp/send`, { identifier: uniqueEmail(), channel: "email", purpose: "login" });
    expect(known.body.error.code).toBe("server_misconfigured");
    expect(known.status).toBe(503);
    expect(observable(unknown)).toEqual(observable(known));
    expect(await codeRows(u.email!)).toEqual([]);
  });
});
