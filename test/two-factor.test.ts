import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateTotp } from "../src/auth/two-factor/totp";
import { sha256Hex } from "../src/lib/crypto";
import { api, expectError, logIn, signUp, type TestUser } from "./helpers";

const AUTH = "/api/v1/auth";
const STEP_MS = 30_000;
const RECOVERY_RE = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{2}$/;

/** The code `steps` 30-second windows from now (0 = current, -1 = previous, 1 = next). */
const codeAt = (secret: string, steps = 0) => generateTotp(secret, Date.now() + steps * STEP_MS);

/** A well-formed code that is certainly not valid now (none of the codes within ±2 steps). */
function wrongCode(secret: string): string {
  const near = new Set([-2, -1, 0, 1, 2].map((k) => codeAt(secret, k)));
  for (let i = 0; ; i++) {
    const code = String(i).padStart(6, "0");
    if (!near.has(code)) return code;
  }
}

const setup = (token?: string) => api("POST", `${AUTH}/2fa/setup`, { token });
const enable = (token: string | undefined, body: unknown) => api("POST", `${AUTH}/2fa/enable`, { token, body });
const verify = (body: unknown) => api("POST", `${AUTH}/2fa/verify`, { body });
const disable = (token: string | undefined, body: unknown) => api("POST", `${AUTH}/2fa/disable`, { token, body });
const me = (token: string) => api("GET", `${AUTH}/me`, { token });

async function setupSecret(token: string): Promise<string> {
  const res = await setup(token);
  expect(res.status, res.text).toBe(200);
  return res.body.secret;
}

interface TwoFactorUser extends TestUser {
  secret: string;
  recoveryCodes: string[];
}

/** A new user with 2FA on, enabled with the previous step's code (so the current and next ones are fresh). */
async function twoFactorUser(overrides: Record<string, unknown> = {}): Promise<TwoFactorUser> {
  const u = await signUp(overrides);
  const secret = await setupSecret(u.accessToken);
  const res = await enable(u.accessToken, { code: codeAt(secret, -1) });
  expect(res.status, res.text).toBe(200);
  return { ...u, secret, recoveryCodes: res.body.recoveryCodes };
}

/** Password login of a 2FA user: asserts the MFA answer and returns its token. */
async function startLogin(u: TestUser, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await logIn(u.username, u.password, extra);
  expect(res.status, res.text).toBe(200);
  expect(res.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), expiresIn: 300 });
  return res.body.mfaToken;
}

async function userRow(id: string) {
  return env.DB.prepare("SELECT totp_secret, totp_pending_secret, totp_enabled_at, totp_last_step FROM users WHERE id = ?").bind(id).first<{
    totp_secret: string | null;
    totp_pending_secret: string | null;
    totp_enabled_at: number | null;
    totp_last_step: number | null;
  }>();
}

async function countRows(sql: string, ...binds: unknown[]): Promise<number> {
  return (await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>())!.n;
}

const sessionCount = (userId: string) => countRows("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", userId);

async function eventDetails(userId: string, type: string): Promise<Record<string, unknown>[]> {
  const { results } = await env.DB.prepare("SELECT details FROM security_events WHERE user_id = ? AND type = ? ORDER BY id")
    .bind(userId, type)
    .all<{ details: string | null }>();
  return results.map((r) => (r.details ? JSON.parse(r.details) : {}));
}

describe("POST /2fa/setup", () => {
  it("returns a 160-bit base32 secret, its otpauth URL and a QR code SVG; stores it as pending only", async () => {
    const u = await signUp();
    const res = await setup(u.accessToken);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["otpauthUrl", "qrSvg", "secret"]);
    expect(res.headers.get("cache-control")).toBe("no-store");

    const { secret, otpauthUrl, qrSvg } = res.body;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 32 base32 symbols = 160 bits = 20 bytes
    const url = new URL(otpauthUrl);
    expect(url.protocol).toBe("otpauth:");
    expect(url.host).toBe("totp");
    expect(decodeURIComponent(url.pathname)).toBe(`/Edge Messenger:${u.username}`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      secret,
      issuer: "Edge Messenger",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    expect(qrSvg.startsWith("<svg")).toBe(true);
    expect(qrSvg).toContain("</svg>");

    expect(await userRow(u.id)).toEqual({ totp_secret: null, totp_pending_secret: secret, totp_enabled_at: null, totp_last_step: null });
    expect((await me(u.accessToken)).body.user.twoFactorEnabled).toBe(false);
    await startOrSignIn(u); // sign-in is unchanged until enabled
  });

  it("a new setup replaces an unconfirmed one: only the newest secret's codes enable", async () => {
    const u = await signUp();
    const first = await setupSecret(u.accessToken);
    const second = await setupSecret(u.accessToken);
    expect(second).not.toBe(first);
    expectError(await enable(u.accessToken, { code: codeAt(first) }), 400, "invalid_code");
    const res = await enable(u.accessToken, { code: codeAt(second) });
    expect(res.status, res.text).toBe(200);
    expect((await userRow(u.id))!.totp_secret).toBe(second);
  });

  it("when 2FA is already on → 409 two_factor_already_enabled; the active secret stays", async () => {
    const u = await twoFactorUser();
    expectError(await setup(u.accessToken), 409, "two_factor_already_enabled");
    expect(await userRow(u.id)).toMatchObject({ totp_secret: u.secret, totp_pending_secret: null });
  });

  it("is rate limited per user (mfa-setup:user, 10 per 15 minutes)", async () => {
    const u = await signUp();
    for (let i = 0; i < 10; i++) expect((await setup(u.accessToken)).status).toBe(200);
    const err = expectError(await setup(u.accessToken), 429, "rate_limited");
    expect(err.details.retryAfter).toBeGreaterThan(0);
  });

  it("requires a token", async () => {
    expectError(await setup(), 401, "unauthorized");
    expectError(await setup("not-a-jwt"), 401, "unauthorized");
  });
});

/** Sign in with the password and expect tokens directly (2FA off). */
async function startOrSignIn(u: TestUser) {
  const res = await logIn(u.username, u.password);
  expect(res.status, res.text).toBe(200);
  expect(res.body.mfaRequired).toBeUndefined();
  expect(res.body.tokens.accessToken).toEqual(expect.any(String));
  return res;
}

describe("POST /2fa/enable", () => {
  it("wrong code → 400 invalid_code (still off); right code → 10 distinct recovery codes, stored hashed", async () => {
    const u = await signUp();
    const secret = await setupSecret(u.accessToken);
    expectError(await enable(u.accessToken, { code: wrongCode(secret) }), 400, "invalid_code");
    expect((await userRow(u.id))!.totp_enabled_at).toBeNull();

    const res = await enable(u.accessToken, { code: codeAt(secret) });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(Object.keys(res.body)).toEqual(["recoveryCodes"]);
    const codes: string[] = res.body.recoveryCodes;
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(RECOVERY_RE);
    expect(new Set(codes).size).toBe(10);

    const row = await userRow(u.id);
    expect(row).toEqual({
      totp_secret: secret,
      totp_pending_secret: null,
      totp_enabled_at: expect.any(Number),
      totp_last_step: Math.floor(Date.now() / STEP_MS), // the enabling code's step counts as used
    });
    const { results } = await env.DB.prepare("SELECT code_hash, used_at FROM recovery_codes WHERE user_id = ?").bind(u.id).all();
    expect(results).toHaveLength(10);
    expect(results.map((r) => r.code_hash).sort()).toEqual(codes.map((c) => sha256Hex(c.replaceAll("-", ""))).sort());
    expect(results.every((r) => r.used_at === null)).toBe(true);
    expect(JSON.stringify(results)).not.toContain(codes[0]!.replaceAll("-", ""));

    expect((await me(u.accessToken)).body.user).toMatchObject({ id: u.id, twoFactorEnabled: true });
    expect(await eventDetails(u.id, "two_factor_enabled")).toEqual([{ recoveryCodes: 10 }]);
  });

  it("accepts the previous step's code, refuses codes two steps away", async () => {
    const u = await signUp();
    const secret = await setupSecret(u.accessToken);
    expectError(await enable(u.accessToken, { code: codeAt(secret, 2) }), 400, "invalid_code");
    expectError(await enable(u.accessToken, { code: codeAt(secret, -2) }), 400, "invalid_code");
    const res = await enable(u.accessToken, { code: codeAt(secret, -1) });
    expect(res.status, res.text).toBe(200);
  });

  it("the code may be typed with a space in the middle", async () => {
    const u = await signUp();
    const secret = await setupSecret(u.accessToken);
    const code = codeAt(secret);
    const res = await enable(u.accessToken, { code: `${code.slice(0, 3)} ${code.slice(3)}` });
    expect(res.status, res.text).toBe(200);
  });

  it("without a setup → 400 two_factor_not_set_up; when on → 409 two_factor_already_enabled", async () => {
    const u = await signUp();
    expectError(await enable(u.accessToken, { code: "123456" }), 400, "two_factor_not_set_up");
    const on = await twoFactorUser();
    expectError(await enable(on.accessToken, { code: codeAt(on.secret) }), 409, "two_factor_already_enabled");
    expect(await countRows("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?", on.id)).toBe(10);
  });

  it("bad input → 400 validation_failed; non-JSON → 415", async () => {
    const u = await signUp();
    await setupSecret(u.accessToken);
    for (const [body, path] of [
      [{}, "body.code"],
      [{ code: 123456 }, "body.code"],
      [{ code: "12345" }, "body.code"],
      [{ code: "1234567" }, "body.code"],
      [{ code: "12a456" }, "body.code"],
    ] as const) {
      const err = expectError(await enable(u.accessToken, body), 400, "validation_failed");
      expect(err.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    }
    const extra = expectError(await enable(u.accessToken, { code: "123456", secret: "X" }), 400, "validation_failed");
    expect(extra.details).toEqual(expect.arrayContaining([expect.objectContaining({ code: "unrecognized_keys" })]));
    expectError(
      await api("POST", `${AUTH}/2fa/enable`, { token: u.accessToken, raw: "{", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(
      await api("POST", `${AUTH}/2fa/enable`, { token: u.accessToken, raw: "code=1", headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
    expect((await userRow(u.id))!.totp_enabled_at).toBeNull();
  });

  it("requires a token", async () => {
    expectError(await enable(undefined, { code: "123456" }), 401, "unauthorized");
  });
});

describe("sign-in with 2FA on", () => {
  it("login answers mfaRequired and starts no session; verify with a code finishes it on the login's device", async () => {
    const u = await twoFactorUser();
    expect(await sessionCount(u.id)).toBe(1);
    const mfaToken = await startLogin(u, { deviceId: "tablet-7", deviceName: "Kitchen tablet" });
    expect(await sessionCount(u.id)).toBe(1);

    const res = await verify({ mfaToken, code: codeAt(u.secret) });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["newDevice", "session", "tokens", "user"]);
    expect(res.body.user).toMatchObject({ id: u.id, username: u.username, twoFactorEnabled: true });
    expect(res.body.tokens).toMatchObject({ tokenType: "Bearer", expiresIn: 900 });
    expect(res.body.session).toMatchObject({ deviceId: "tablet-7", deviceName: "Kitchen tablet", current: true });
    expect(res.body.newDevice).toBe(true);
    expect(res.text).not.toContain(u.secret);
    expect(await sessionCount(u.id)).toBe(2);
    expect((await me(res.body.tokens.accessToken)).body.user.id).toBe(u.id);
    expect(await eventDetails(u.id, "login_new_device")).toEqual([expect.objectContaining({ method: "mfa:totp" })]);
  });

  it("the MFA token is single use, and a wrong code does not use it up", async () => {
    const u = await twoFactorUser();
    const mfaToken = await startLogin(u);
    expectError(await verify({ mfaToken, code: wrongCode(u.secret) }), 400, "invalid_code");
    expect((await verify({ mfaToken, code: codeAt(u.secret) })).status).toBe(200);
    const err = expectError(await verify({ mfaToken, code: codeAt(u.secret, 1) }), 401, "invalid_mfa_token");
    expect(err.message).toMatch(/sign in again/i);
    expect(await sessionCount(u.id)).toBe(2);
  });

  it("an expired MFA token → 401 invalid_mfa_token", async () => {
    const u = await twoFactorUser();
    const mfaToken = await startLogin(u);
    const moved = await env.DB.prepare("UPDATE mfa_challenges SET expires_at = ? WHERE token_hash = ?")
      .bind(Date.now() - 1, sha256Hex(mfaToken))
      .run();
    expect(moved.meta.changes).toBe(1);
    expectError(await verify({ mfaToken, code: codeAt(u.secret) }), 401, "invalid_mfa_token");
    expect(await sessionCount(u.id)).toBe(1);
  });

  it("an unknown MFA token → 401; one user's code does not work with another's token", async () => {
    const a = await twoFactorUser();
    const b = await twoFactorUser();
    expectError(await verify({ mfaToken: "A".repeat(43), code: codeAt(a.secret) }), 401, "invalid_mfa_token");
    const tokenA = await startLogin(a);
    expectError(await verify({ mfaToken: tokenA, code: codeAt(b.secret) }), 400, "invalid_code");
    expectError(await verify({ mfaToken: tokenA, recoveryCode: b.recoveryCodes[0] }), 400, "invalid_code");
    const ok = await verify({ mfaToken: tokenA, code: codeAt(a.secret) });
    expect(ok.body.user.id).toBe(a.id);
  });

  it("a code once used cannot be used again (replay); the next step's code then works", async () => {
    const u = await twoFactorUser();
    const code = codeAt(u.secret);
    expect((await verify({ mfaToken: await startLogin(u), code })).status).toBe(200);
    expectError(await verify({ mfaToken: await startLogin(u), code }), 400, "invalid_code");
    // The enabling code (previous step) is used too.
    expectError(await verify({ mfaToken: await startLogin(u), code: codeAt(u.secret, -1) }), 400, "invalid_code");
    expect((await verify({ mfaToken: await startLogin(u), code: codeAt(u.secret, 1) })).status).toBe(200);
  });

  it("two concurrent verifications with one code: exactly one succeeds", async () => {
    const u = await twoFactorUser();
    const [t1, t2] = [await startLogin(u), await startLogin(u)];
    const code = codeAt(u.secret);
    const results = await Promise.all([verify({ mfaToken: t1, code }), verify({ mfaToken: t2, code })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    expect(await sessionCount(u.id)).toBe(2);
  });

  it("accepts the current and next step's codes, refuses codes two steps away", async () => {
    const u = await twoFactorUser(); // enabled with the previous step's code
    const mfaToken = await startLogin(u);
    expectError(await verify({ mfaToken, code: codeAt(u.secret, 2) }), 400, "invalid_code");
    expectError(await verify({ mfaToken, code: codeAt(u.secret, -2) }), 400, "invalid_code");
    expect((await verify({ mfaToken, code: codeAt(u.secret, 0) })).status).toBe(200);
    expect((await verify({ mfaToken: await startLogin(u), code: codeAt(u.secret, 1) })).status).toBe(200);
  });

  it("a recovery code signs in once; the event says how many remain; input forgives case and dashes", async () => {
    const u = await twoFactorUser();
    const [first, second] = u.recoveryCodes as [string, string];
    const res = await verify({ mfaToken: await startLogin(u), recoveryCode: first });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.id).toBe(u.id);
    expect(await eventDetails(u.id, "recovery_code_used")).toEqual([{ remaining: 9 }]);

    expectError(await verify({ mfaToken: await startLogin(u), recoveryCode: first }), 400, "invalid_code");
    const typed = second.replaceAll("-", " ").toUpperCase();
    expect((await verify({ mfaToken: await startLogin(u), recoveryCode: typed })).status).toBe(200);
    expect(await eventDetails(u.id, "recovery_code_used")).toEqual([{ remaining: 9 }, { remaining: 8 }]);
    expect(await countRows("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NOT NULL", u.id)).toBe(2);
  });

  it("a suspended account cannot finish the sign-in", async () => {
    const u = await twoFactorUser();
    const mfaToken = await startLogin(u);
    await env.DB.prepare("UPDATE users SET status = 'suspended' WHERE id = ?").bind(u.id).run();
    expectError(await verify({ mfaToken, code: codeAt(u.secret) }), 403, "account_suspended");
  });

  it("bad input → 400 validation_failed", async () => {
    const u = await twoFactorUser();
    const mfaToken = await startLogin(u);
    const cases: [unknown, string][] = [
      [{ code: "123456" }, "body.mfaToken"],
      [{ mfaToken }, "body.code"],
      [{ mfaToken, code: "123456", recoveryCode: u.recoveryCodes[0] }, "body.code"],
      [{ mfaToken, code: "12345" }, "body.code"],
      [{ mfaToken, recoveryCode: "short" }, "body.recoveryCode"],
      [{ mfaToken: "", code: "123456" }, "body.mfaToken"],
    ];
    for (const [body, path] of cases) {
      const err = expectError(await verify(body), 400, "validation_failed");
      expect(err.details, JSON.stringify(body)).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    }
    const extra = expectError(await verify({ mfaToken, code: "123456", userId: u.id }), 400, "validation_failed");
    expect(extra.details).toEqual(expect.arrayContaining([expect.objectContaining({ code: "unrecognized_keys" })]));
    // None of it used the token up.
    expect((await verify({ mfaToken, code: codeAt(u.secret) })).status).toBe(200);
  });
});

describe("lockout", () => {
  it("5 wrong codes, then even the right code → 429 too_many_attempts; password login is locked too", async () => {
    const u = await twoFactorUser();
    const mfaToken = await startLogin(u);
    for (let i = 0; i < 5; i++) expectError(await verify({ mfaToken, code: wrongCode(u.secret) }), 400, "invalid_code");
    const res = await verify({ mfaToken, code: codeAt(u.secret) });
    const err = expectError(res, 429, "too_many_attempts");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(err.details.retryAfter).toBeGreaterThan(0);
    expectError(await logIn(u.username, u.password), 429, "too_many_attempts");
    expect(await sessionCount(u.id)).toBe(1);
  });

  it("wrong recovery codes count as well", async () => {
    const u = await twoFactorUser();
    const mfaToken = await startLogin(u);
    for (let i = 0; i < 5; i++) expectError(await verify({ mfaToken, recoveryCode: "zzzz-zzzz-zz" }), 400, "invalid_code");
    expectError(await verify({ mfaToken, recoveryCode: u.recoveryCodes[0] }), 429, "too_many_attempts");
  });

  it("a right password does not reset the count of wrong codes", async () => {
    const u = await twoFactorUser();
    let mfaToken = await startLogin(u);
    for (let i = 0; i < 4; i++) expectError(await verify({ mfaToken, code: wrongCode(u.secret) }), 400, "invalid_code");
    mfaToken = await startLogin(u); // the 5th attempt in the window, but a success: not counted, not cleared
    expectError(await verify({ mfaToken, code: wrongCode(u.secret) }), 400, "invalid_code");
    expectError(await verify({ mfaToken, code: codeAt(u.secret) }), 429, "too_many_attempts");
  });

  it("a right code clears the count", async () => {
    const u = await twoFactorUser();
    let mfaToken = await startLogin(u);
    for (let i = 0; i < 4; i++) expectError(await verify({ mfaToken, code: wrongCode(u.secret) }), 400, "invalid_code");
    expect((await verify({ mfaToken, code: codeAt(u.secret) })).status).toBe(200);
    mfaToken = await startLogin(u);
    for (let i = 0; i < 4; i++) expectError(await verify({ mfaToken, code: wrongCode(u.secret) }), 400, "invalid_code");
    expect((await verify({ mfaToken, code: codeAt(u.secret, 1) })).status).toBe(200);
  });
});

describe("POST /2fa/disable", () => {
  it("wrong password → 403, wrong code → 400; both right → 204; then login gives tokens directly", async () => {
    const u = await twoFactorUser();
    const pending = await startLogin(u);
    const wrongPw = expectError(
      await disable(u.accessToken, { password: "not-the-password-1", code: codeAt(u.secret) }),
      403,
      "invalid_password",
    );
    expect(wrongPw.message).not.toContain("not-the-password-1");
    expectError(await disable(u.accessToken, { password: u.password, code: wrongCode(u.secret) }), 400, "invalid_code");
    expect((await userRow(u.id))!.totp_enabled_at).not.toBeNull();

    const res = await disable(u.accessToken, { password: u.password, code: codeAt(u.secret) });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");
    expect(await userRow(u.id)).toEqual({ totp_secret: null, totp_pending_secret: null, totp_enabled_at: null, totp_last_step: null });
    expect(await countRows("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?", u.id)).toBe(0);
    expect(await eventDetails(u.id, "two_factor_disabled")).toEqual([{ method: "totp" }]);
    expect((await me(u.accessToken)).body.user.twoFactorEnabled).toBe(false);

    await startOrSignIn(u);
    expectError(await verify({ mfaToken: pending, code: codeAt(u.secret, 1) }), 401, "invalid_mfa_token");
    expectError(await disable(u.accessToken, { password: u.password, code: codeAt(u.secret, 1) }), 400, "two_factor_not_enabled");
    // It can be set up again with a new secret.
    expect(await setupSecret(u.accessToken)).not.toBe(u.secret);
  });

  it("a recovery code may stand in for the code; a code used at sign-in cannot be reused here", async () => {
    const u = await twoFactorUser();
    const code = codeAt(u.secret);
    expect((await verify({ mfaToken: await startLogin(u), code })).status).toBe(200);
    expectError(await disable(u.accessToken, { password: u.password, code }), 400, "invalid_code");
    const res = await disable(u.accessToken, { password: u.password, recoveryCode: u.recoveryCodes[3] });
    expect(res.status, res.text).toBe(204);
    expect(await eventDetails(u.id, "two_factor_disabled")).toEqual([{ method: "recovery_code" }]);
  });

  it("wrong passwords and codes count toward the lockout", async () => {
    const u = await twoFactorUser();
    for (let i = 0; i < 3; i++)
      expectError(await disable(u.accessToken, { password: "wrong-password-99", code: codeAt(u.secret) }), 403, "invalid_password");
    for (let i = 0; i < 2; i++)
      expectError(await disable(u.accessToken, { password: u.password, code: wrongCode(u.secret) }), 400, "invalid_code");
    expectError(await disable(u.accessToken, { password: u.password, code: codeAt(u.secret) }), 429, "too_many_attempts");
    expect((await userRow(u.id))!.totp_enabled_at).not.toBeNull();
  });

  it("bad input → 400 validation_failed", async () => {
    const u = await twoFactorUser();
    const cases: [unknown, string][] = [
      [{ code: "123456" }, "body.password"],
      [{ password: u.password }, "body.code"],
      [{ password: u.password, code: "123456", recoveryCode: u.recoveryCodes[0] }, "body.code"],
      [{ password: u.password, code: "abcdef" }, "body.code"],
      [{ password: "", code: "123456" }, "body.password"],
    ];
    for (const [body, path] of cases) {
      const err = expectError(await disable(u.accessToken, body), 400, "validation_failed");
      expect(err.details, JSON.stringify(body)).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    }
    const extra = expectError(
      await disable(u.accessToken, { password: u.password, code: "123456", force: true }),
      400,
      "validation_failed",
    );
    expect(extra.details).toEqual(expect.arrayContaining([expect.objectContaining({ code: "unrecognized_keys" })]));
    expect((await userRow(u.id))!.totp_enabled_at).not.toBeNull();
  });

  it("requires a token", async () => {
    const u = await twoFactorUser();
    expectError(await disable(undefined, { password: u.password, code: codeAt(u.secret) }), 401, "unauthorized");
    expect((await userRow(u.id))!.totp_enabled_at).not.toBeNull();
  });
});

describe("OpenAPI", () => {
  it("documents the 2FA routes with their bodies", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    for (const p of ["setup", "enable", "verify", "disable"]) {
      const op = doc.paths[`/api/v1/auth/2fa/${p}`]?.post;
      expect(op, p).toBeDefined();
      expect(op.summary).toEqual(expect.any(String));
      expect(op.responses["429"]).toBeDefined();
    }
    expect(doc.paths["/api/v1/auth/2fa/verify"].post.security).toEqual([]);
    expect(doc.paths["/api/v1/auth/2fa/enable"].post.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.schemas.TwoFactorVerifyRequest.additionalProperties).toBe(false);
    expect(doc.components.schemas.User.required).toContain("twoFactorEnabled");
  });
});
