import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ApiResponse, api, expectError, expectInvalid, logIn, observable, STRONG_PASSWORD, signUp, uniqueName } from "./helpers";

const AUTH = "/api/v1/auth";
const MINUTE = 60_000;
const NEW_PASSWORD = "amber-quartz-51-meadow-kite";

let phoneCounter = 0;
const uniqueEmail = () => `${uniqueName("r")}@example.com`;
const uniquePhone = () => `+4478${String(++phoneCounter).padStart(3, "0")}${String(Math.floor(Math.random() * 1e5)).padStart(5, "0")}`;

const forgot = (body: unknown) => api("POST", `${AUTH}/forgot-password`, { body });
const reset = (body: unknown) => api("POST", `${AUTH}/reset-password`, { body });
const me = (token: string) => api("GET", `${AUTH}/me`, { token });
const refresh = (refreshToken: string) => api("POST", `${AUTH}/refresh`, { body: { refreshToken } });

async function outbox(to: string): Promise<any[]> {
  const res = await api("GET", `/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

async function resetCode(to: string): Promise<string> {
  const message = (await outbox(to)).find((m) => m.kind === "password.reset");
  expect(message, `no reset message to ${to}`).toBeDefined();
  return /\b(\d{6})\b/.exec(message.text)![1]!;
}

const wrong = (code: string) => String((Number(code) + 1) % 1e6).padStart(6, "0");

async function expectAccepted(res: ApiResponse) {
  expect(res.status, res.text).toBe(202);
  expect(res.body).toEqual({ expiresIn: 300 });
}

async function verifyColumns(userId: string, columns: ("email" | "phone")[]) {
  for (const col of columns) {
    await env.DB.prepare(`UPDATE users SET ${col}_verified_at = ? WHERE id = ?`).bind(Date.now(), userId).run();
  }
}

async function resetRow(target: string) {
  return env.DB.prepare("SELECT * FROM otp_codes WHERE target = ? AND purpose = 'reset' ORDER BY created_at DESC, id DESC")
    .bind(target)
    .first<any>();
}

describe("password reset: POST /forgot-password + /reset-password", () => {
  it("resets with the emailed code: new password works, every session ends, event recorded, single use", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await verifyColumns(u.id, ["email"]);
    const other = await logIn(u.username);
    expect(other.status).toBe(200);

    await expectAccepted(await forgot({ identifier: u.email }));
    const [message] = await outbox(u.email!);
    expect(message).toMatchObject({ channel: "email", to: u.email, kind: "password.reset", subject: "Reset your password" });
    expect(message.text).toContain("5 minutes");
    const code = await resetCode(u.email!);

    const res = await reset({ identifier: u.email, code, newPassword: NEW_PASSWORD });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");

    expectError(await me(u.accessToken), 401, "session_revoked");
    expectError(await me(other.body.tokens.accessToken), 401, "session_revoked");
    expectError(await refresh(u.refreshToken), 401, "session_revoked");
    expectError(await logIn(u.username, STRONG_PASSWORD), 401, "invalid_credentials");
    expect((await logIn(u.username, NEW_PASSWORD)).status).toBe(200);

    const event = await env.DB.prepare("SELECT details FROM security_events WHERE user_id = ? AND type = 'password_reset'")
      .bind(u.id)
      .first<{ details: string }>();
    expect(JSON.parse(event!.details)).toEqual({ sessionsEnded: 2 });

    expectError(await reset({ identifier: u.email, code, newPassword: "another-fine-password-99-otter" }), 400, "invalid_code");
    expect((await logIn(u.username, NEW_PASSWORD)).status).toBe(200);
  });

  it("sends to the verified phone for a phone identifier", async () => {
    const phone = uniquePhone();
    const u = await signUp({ phone, email: uniqueEmail() });
    await verifyColumns(u.id, ["email", "phone"]);
    await expectAccepted(await forgot({ identifier: phone }));
    const [message] = await outbox(phone);
    expect(message).toMatchObject({ channel: "sms", to: phone, kind: "password.reset" });
    expect(await outbox(u.email!)).toEqual([]);
    expect((await reset({ identifier: phone, code: await resetCode(phone), newPassword: NEW_PASSWORD })).status).toBe(204);
  });

  it("for a username: the verified email, else the verified phone; the code belongs to that identifier", async () => {
    const phone = uniquePhone();
    const both = await signUp({ phone, email: uniqueEmail() });
    await verifyColumns(both.id, ["email", "phone"]);
    await expectAccepted(await forgot({ identifier: both.username.toUpperCase() }));
    expect((await outbox(both.email!)).map((m) => m.kind)).toEqual(["password.reset"]);
    expect(await outbox(phone)).toEqual([]);
    const code = await resetCode(both.email!);
    // Looked up by the identifier forgot-password was given, not by where it went.
    expectError(await reset({ identifier: both.email, code, newPassword: NEW_PASSWORD }), 400, "invalid_code");
    expect((await reset({ identifier: both.username, code, newPassword: NEW_PASSWORD })).status).toBe(204);

    const phoneOnly = uniquePhone();
    const p = await signUp({ phone: phoneOnly, email: uniqueEmail() });
    await verifyColumns(p.id, ["phone"]); // email unverified
    await expectAccepted(await forgot({ identifier: p.username }));
    expect(await outbox(p.email!)).toEqual([]);
    expect((await outbox(phoneOnly)).map((m) => m.channel)).toEqual(["sms"]);
  });

  it("sends nothing without a verified destination, and answers the same", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await expectAccepted(await forgot({ identifier: u.email }));
    await expectAccepted(await forgot({ identifier: u.username }));
    expect(await outbox(u.email!)).toEqual([]);
    expect((await resetRow(u.email!)).user_id).toBeNull();
    expectError(await reset({ identifier: u.email, code: "123456", newPassword: NEW_PASSWORD }), 400, "invalid_code");
    expect((await logIn(u.username)).status).toBe(200);
  });

  it("looks the same for existing and unknown identifiers", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await verifyColumns(u.id, ["email"]);
    const unknown = uniqueEmail();
    const [a, b, c] = await Promise.all([
      forgot({ identifier: u.email }),
      forgot({ identifier: unknown }),
      forgot({ identifier: uniqueName("nobody") }),
    ]);
    await expectAccepted(a!);
    expect(observable(b!)).toEqual(observable(a!));
    expect(observable(c!)).toEqual(observable(a!));

    const code = await resetCode(u.email!);
    const known = await reset({ identifier: u.email, code: wrong(code), newPassword: NEW_PASSWORD });
    const other = await reset({ identifier: unknown, code: wrong(code), newPassword: NEW_PASSWORD });
    expect(expectError(known, 400, "invalid_code").details).toEqual({ attemptsLeft: 2 });
    expect(observable(other)).toEqual(observable(known));
  });

  it("a weak new password does not use up the code or a try", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await verifyColumns(u.id, ["email"]);
    await expectAccepted(await forgot({ identifier: u.email }));
    const code = await resetCode(u.email!);

    const weak = expectError(await reset({ identifier: u.email, code, newPassword: "password123" }), 400, "weak_password");
    expect(weak.message).toMatch(/weak/i);
    expectError(await reset({ identifier: u.email, code, newPassword: `${u.username}1` }), 400, "weak_password");
    expectInvalid(await reset({ identifier: u.email, code, newPassword: "short" }), "body.newPassword");
    expect(await resetRow(u.email!)).toMatchObject({ attempts: 0, consumed_at: null });
    expectError(await logIn(u.username, "password123"), 401, "invalid_credentials");

    expect((await reset({ identifier: u.email, code, newPassword: NEW_PASSWORD })).status).toBe(204);
    expect((await logIn(u.username, NEW_PASSWORD)).status).toBe(200);
  });

  it("clears the failed-login lockout", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await verifyColumns(u.id, ["email"]);
    for (let i = 0; i < 5; i++) expectError(await logIn(u.username, "not-the-password-42"), 401, "invalid_credentials");
    expectError(await logIn(u.username, STRONG_PASSWORD), 429, "too_many_attempts");

    await expectAccepted(await forgot({ identifier: u.email }));
    expect((await reset({ identifier: u.email, code: await resetCode(u.email!), newPassword: NEW_PASSWORD })).status).toBe(204);
    const res = await logIn(u.username, NEW_PASSWORD);
    expect(res.status, res.text).toBe(200);
  });

  it("a code dies after 3 wrong tries and after 5 minutes", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await verifyColumns(u.id, ["email"]);
    await expectAccepted(await forgot({ identifier: u.email }));
    const code = await resetCode(u.email!);
    const bad = { identifier: u.email, code: wrong(code), newPassword: NEW_PASSWORD };
    expect(expectError(await reset(bad), 400, "invalid_code").details).toEqual({ attemptsLeft: 2 });
    expect(expectError(await reset(bad), 400, "invalid_code").details).toEqual({ attemptsLeft: 1 });
    expect(expectError(await reset(bad), 400, "invalid_code").details).toBeUndefined();
    expectError(await reset({ ...bad, code }), 400, "invalid_code");

    await expectAccepted(await forgot({ identifier: u.email }));
    const fresh = await resetCode(u.email!);
    const past = Date.now() - 6 * MINUTE;
    await env.DB.prepare("UPDATE otp_codes SET created_at = ?, expires_at = ? WHERE target = ? AND purpose = 'reset'")
      .bind(past, past + 5 * MINUTE, u.email)
      .run();
    expectError(await reset({ ...bad, code: fresh }), 400, "invalid_code");
    expect((await logIn(u.username, STRONG_PASSWORD)).status).toBe(200);
  });

  it("allows 3 codes per identifier per 15 minutes", async () => {
    const u = await signUp({ email: uniqueEmail() });
    await verifyColumns(u.id, ["email"]);
    for (let i = 0; i < 3; i++) await expectAccepted(await forgot({ identifier: u.email }));
    const res = await forgot({ identifier: u.email });
    expectError(res, 429, "rate_limited");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await outbox(u.email!)).toHaveLength(3);
    // Only the newest code is alive.
    const { results } = await env.DB.prepare("SELECT consumed_at FROM otp_codes WHERE target = ? ORDER BY created_at, id")
      .bind(u.email)
      .all<any>();
    expect(results.map((r) => r.consumed_at === null)).toEqual([false, false, true]);
  });

  it("one user's code does not reset another's password", async () => {
    const alice = await signUp({ email: uniqueEmail() });
    const bob = await signUp({ email: uniqueEmail() });
    await verifyColumns(alice.id, ["email"]);
    await verifyColumns(bob.id, ["email"]);
    await expectAccepted(await forgot({ identifier: alice.email }));
    await expectAccepted(await forgot({ identifier: bob.email }));
    const aliceCode = await resetCode(alice.email!);
    const bobCode = await resetCode(bob.email!);
    if (aliceCode !== bobCode) {
      expectError(await reset({ identifier: bob.email, code: aliceCode, newPassword: NEW_PASSWORD }), 400, "invalid_code");
    }
    expect((await reset({ identifier: alice.email, code: aliceCode, newPassword: NEW_PASSWORD })).status).toBe(204);
    // Bob is untouched: his session lives and his password is unchanged.
    expect((await me(bob.accessToken)).status).toBe(200);
    expect((await logIn(bob.username, STRONG_PASSWORD)).status).toBe(200);
    expect(await resetRow(bob.email!)).toMatchObject({ consumed_at: null });
  });
});

describe("password reset input checks", () => {
  it("POST /forgot-password rejects bad bodies", async () => {
    expectInvalid(await forgot({}), "body.identifier");
    expectInvalid(await forgot({ identifier: 42 }), "body.identifier");
    expectInvalid(await forgot({ identifier: "   " }), "body.identifier");
    expectError(await forgot({ identifier: uniqueEmail(), channel: "sms" }), 400, "validation_failed");
    const malformed = await api("POST", `${AUTH}/forgot-password`, { raw: "{", headers: { "content-type": "application/json" } });
    expectError(malformed, 400, "malformed_json");
    const plain = await api("POST", `${AUTH}/forgot-password`, { raw: "x", headers: { "content-type": "text/plain" } });
    expectError(plain, 415, "unsupported_media_type");
  });

  it("POST /reset-password rejects bad bodies", async () => {
    const ok = { identifier: uniqueEmail(), code: "123456", newPassword: NEW_PASSWORD };
    expectInvalid(await reset({ identifier: ok.identifier, newPassword: NEW_PASSWORD }), "body.code");
    expectInvalid(await reset({ identifier: ok.identifier, code: "123456" }), "body.newPassword");
    expectInvalid(await reset({ ...ok, identifier: undefined }), "body.identifier");
    expectInvalid(await reset({ ...ok, code: 123456 }), "body.code");
    expectInvalid(await reset({ ...ok, code: "1234567" }), "body.code");
    expectInvalid(await reset({ ...ok, newPassword: ["x"] }), "body.newPassword");
    expectError(await reset({ ...ok, userId: "someone" }), 400, "validation_failed");
    const malformed = await api("POST", `${AUTH}/reset-password`, { raw: '{"code": 1', headers: { "content-type": "application/json" } });
    expectError(malformed, 400, "malformed_json");
  });
});
