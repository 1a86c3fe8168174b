import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateTotp } from "../src/auth/two-factor/totp";
import { api, expectError, expectInvalid, logIn, markVerified, STRONG_PASSWORD, signUp, type TestUser, uniqueName } from "./helpers";
import { avatarFor } from "./media-helpers";

const totpAt = (secret: string, at: number) => generateTotp(secret, at);

const ME = "/api/v1/users/me";

let phoneCounter = 0;
const uniquePhone = () => `+1212${(1_000_000 + ++phoneCounter * 7919 + Math.floor(Math.random() * 1000)).toString().slice(-7)}`;
const uniqueEmail = () => `${uniqueName("d")}@example.com`;

const deleteMe = (u: TestUser, body: unknown = { password: u.password }) => api("DELETE", ME, { token: u.accessToken, body });

async function userRow(id: string) {
  return (await env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<Record<string, any>>())!;
}
async function count(sql: string, ...binds: unknown[]) {
  return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${sql}`)
    .bind(...binds)
    .first<{ n: number }>())!.n;
}
const run = (sql: string, ...binds: unknown[]) =>
  env.DB.prepare(sql)
    .bind(...binds)
    .run();

/** A follow as the follows routes would write it: the row and both counts. */
async function follow(followerId: string, followeeId: string) {
  await run("INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)", followerId, followeeId, Date.now());
  await run("UPDATE users SET following_count = following_count + 1 WHERE id = ?", followerId);
  await run("UPDATE users SET followers_count = followers_count + 1 WHERE id = ?", followeeId);
}

/** Every row elsewhere that belongs to or points at `id`. */
async function traces(id: string) {
  return {
    contacts: await count("contacts WHERE owner_id = ?1 OR contact_id = ?1", id),
    follows: await count("follows WHERE follower_id = ?1 OR followee_id = ?1", id),
    blocks: await count("blocks WHERE blocker_id = ?1 OR blocked_id = ?1", id),
    closeFriends: await count("close_friends WHERE owner_id = ?1 OR friend_id = ?1", id),
    devices: await count("user_devices WHERE user_id = ?", id),
    sessions: await count("sessions WHERE user_id = ?", id),
    refreshTokens: await count("refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?)", id),
    recoveryCodes: await count("recovery_codes WHERE user_id = ?", id),
    otpCodes: await count("otp_codes WHERE user_id = ?", id),
    mfaChallenges: await count("mfa_challenges WHERE user_id = ?", id),
    securityEvents: await count("security_events WHERE user_id = ?", id),
    lockout: await count("window_counters WHERE key = ?", `user:${id}`),
  };
}

describe("DELETE /users/me", () => {
  it("erases the account and everything personal tied to it", async () => {
    const email = uniqueEmail();
    const phone = uniquePhone();
    const u = await signUp({ email, phone, displayName: "Soon Gone" });
    const second = await logIn(u.username, STRONG_PASSWORD, { deviceId: "second-phone" });
    expect(second.status).toBe(200);
    const x = await signUp();
    const y = await signUp();
    const at = Date.now();
    await api("PATCH", ME, {
      token: u.accessToken,
      body: {
        bio: "bio",
        birthday: "1990-01-01",
        links: [{ url: "https://me.example" }],
        avatarMediaId: await avatarFor(u),
      },
    });
    await api("PUT", `${ME}/status`, { token: u.accessToken, body: { text: "status", emoji: "🙂" } });
    const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    await run("UPDATE users SET totp_secret = ?, totp_enabled_at = ? WHERE id = ?", totpSecret, at, u.id);
    for (const [a, b] of [
      [u.id, x.id],
      [y.id, u.id],
      [x.id, y.id],
    ]) {
      await run("INSERT INTO contacts (owner_id, contact_id, created_at) VALUES (?, ?, ?)", a, b, at);
      await run("INSERT INTO close_friends (owner_id, friend_id, created_at) VALUES (?, ?, ?)", a, b, at);
    }
    await run("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)", u.id, y.id, at);
    await run("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)", x.id, u.id, at);
    await follow(u.id, x.id);
    await follow(y.id, u.id);
    await follow(x.id, y.id);
    await run("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, 'h1', ?)", u.id, at);
    await run(
      "INSERT INTO otp_codes (id, purpose, channel, target, user_id, code_hash, created_at, expires_at) VALUES (?, 'verify', 'email', ?, ?, 'h', ?, ?)",
      crypto.randomUUID(),
      email,
      u.id,
      at,
      at + 300_000,
    );
    await run(
      "INSERT INTO mfa_challenges (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
      crypto.randomUUID(),
      u.id,
      at,
      at + 300_000,
    );
    await run(
      "INSERT INTO window_counters (key, count, window_start, expires_at) VALUES (?, 1, ?, ?)",
      `user:${u.id}`,
      at,
      at + 15 * 60_000,
    );
    const before = await traces(u.id);
    expect(
      Object.values(before).every((n) => n > 0),
      JSON.stringify(before),
    ).toBe(true);

    const res = await deleteMe(u, { password: u.password, code: totpAt(totpSecret, Date.now()) });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");

    const row = await userRow(u.id);
    expect(row).toMatchObject({
      status: "deleted",
      username: `deleted:${u.id}`,
      display_name: "Deleted account",
      email: null,
      email_verified_at: null,
      phone: null,
      phone_verified_at: null,
      password_hash: "",
      totp_secret: null,
      totp_pending_secret: null,
      totp_enabled_at: null,
      bio: null,
      avatar_media_id: null,
      links: null,
      birthday: null,
      status_text: null,
      status_emoji: null,
      status_expires_at: null,
      referral_code: null,
      referred_by: null,
      last_seen_at: null,
      followers_count: 0,
      following_count: 0,
    });
    expect(row.deleted_at).toBeGreaterThanOrEqual(at);
    expect(
      Object.values(await traces(u.id)).every((n) => n === 0),
      JSON.stringify(await traces(u.id)),
    ).toBe(true);

    // The other users' own relations survive, and their follow counts are right again.
    expect(await count("contacts WHERE owner_id = ? AND contact_id = ?", x.id, y.id)).toBe(1);
    expect(await count("close_friends WHERE owner_id = ? AND friend_id = ?", x.id, y.id)).toBe(1);
    expect(await count("follows WHERE follower_id = ? AND followee_id = ?", x.id, y.id)).toBe(1);
    expect(await userRow(x.id)).toMatchObject({ followers_count: 0, following_count: 1 });
    expect(await userRow(y.id)).toMatchObject({ followers_count: 1, following_count: 0 });
  });

  it("ends every session: access tokens are refused and refresh tokens are dead", async () => {
    const u = await signUp();
    const other = await logIn(u.username);
    expect(other.status).toBe(200);
    expect((await deleteMe(u)).status).toBe(204);
    expectError(await api("GET", ME, { token: u.accessToken }), 401, "session_revoked");
    expectError(await api("GET", ME, { token: other.body.tokens.accessToken }), 401, "session_revoked");
    expectError(await api("POST", "/api/v1/auth/refresh", { body: { refreshToken: u.refreshToken } }), 401, "invalid_refresh_token");
    expectError(
      await api("POST", "/api/v1/auth/refresh", { body: { refreshToken: other.body.tokens.refreshToken } }),
      401,
      "invalid_refresh_token",
    );
  });

  it("cannot log in afterwards by username, email or phone, nor by its placeholder name", async () => {
    const u = await signUp({ email: uniqueEmail(), phone: uniquePhone() });
    await markVerified(u);
    // Verified, so each of them signs in until the account is gone.
    for (const identifier of [u.username, u.email!, u.phone!]) expect((await logIn(identifier)).status, identifier).toBe(200);
    expect((await deleteMe(u)).status).toBe(204);
    for (const identifier of [u.username, u.email!, u.phone!, `deleted:${u.id}`]) {
      expectError(await logIn(identifier), 401, "invalid_credentials");
    }
  });

  it("is not found by id or username, and its username, email and phone can be registered and verified again", async () => {
    const u = await signUp({ email: uniqueEmail(), phone: uniquePhone() });
    await markVerified(u);
    const viewer = await signUp();
    expect((await api("GET", `/api/v1/users/${u.id}`, { token: viewer.accessToken })).status).toBe(200);
    expect((await deleteMe(u)).status).toBe(204);
    expectError(await api("GET", `/api/v1/users/${u.id}`, { token: viewer.accessToken }), 404, "not_found");
    expectError(await api("GET", `/api/v1/users/by-username/${u.username}`, { token: viewer.accessToken }), 404, "not_found");
    const again = await signUp({ username: u.username, email: u.email, phone: u.phone });
    expect(again.id).not.toBe(u.id);
    // The deleted account let go of its verified addresses: the new one can verify them (unique among verified ones).
    await markVerified(again);
    expect(await userRow(again.id)).toMatchObject({
      email: u.email,
      phone: u.phone,
      email_verified_at: expect.any(Number),
      phone_verified_at: expect.any(Number),
    });
    expect((await api("GET", `/api/v1/users/by-username/${u.username}`, { token: viewer.accessToken })).body.user.id).toBe(again.id);
  });

  it("keeps usernames unique across many deleted accounts and voids their referral codes", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const code: string = (await api("GET", ME, { token: a.accessToken })).body.user.referralCode;
    expect((await deleteMe(a)).status).toBe(204);
    expect((await deleteMe(b)).status).toBe(204);
    expect((await userRow(a.id)).username).not.toBe((await userRow(b.id)).username);
    const res = await api("POST", "/api/v1/auth/register", {
      body: { username: uniqueName(), password: STRONG_PASSWORD, referredBy: code },
    });
    expectError(res, 400, "invalid_referral_code");
  });

  it("refuses a wrong password with 403 invalid_password, counts it toward the lockout and keeps the account", async () => {
    const u = await signUp();
    expectError(await deleteMe(u, { password: "not-my-password-at-all" }), 403, "invalid_password");
    expect(await count("window_counters WHERE key = ? AND count = 1", `user:${u.id}`)).toBe(1);
    expect((await userRow(u.id)).status).toBe("active");
    expect((await api("GET", ME, { token: u.accessToken })).status).toBe(200);
  });

  it("is locked out together with login after 5 failures, even with the right password", async () => {
    const u = await signUp();
    for (let i = 0; i < 5; i++) expectError(await logIn(u.username, "wrong-password-guess"), 401, "invalid_credentials");
    expectError(await deleteMe(u), 429, "too_many_attempts");
    expect((await userRow(u.id)).status).toBe("active");
  });

  it.each([
    ["a missing password", {}, "body.password"],
    ["an empty password", { password: "" }, "body.password"],
    ["a password that is not a string", { password: 12345678 }, "body.password"],
    ["a password that is too long", { password: "p".repeat(129) }, "body.password"],
    ["an unknown field", { password: STRONG_PASSWORD, userId: "01890a5d-ac96-774b-bcce-b302099a8057" }, "body"],
  ])("rejects %s and deletes nothing", async (_name, body, path) => {
    const u = await signUp();
    expectInvalid(await deleteMe(u, body), path);
    expect((await userRow(u.id)).status).toBe("active");
  });

  it("rejects malformed JSON, a body that is not JSON and a missing token", async () => {
    const u = await signUp();
    expectError(
      await api("DELETE", ME, { token: u.accessToken, raw: "{password", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(
      await api("DELETE", ME, { token: u.accessToken, raw: "password=x", headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
    expectError(await api("DELETE", ME, { body: { password: STRONG_PASSWORD } }), 401, "unauthorized");
    expect((await userRow(u.id)).status).toBe("active");
  });

  it("only ever deletes the caller's own account", async () => {
    const a = await signUp();
    const b = await signUp();
    // B's password with A's token proves nothing about A, and deletes nothing of B.
    expectError(await api("DELETE", ME, { token: a.accessToken, body: { password: "b-password-is-different" } }), 403, "invalid_password");
    expect((await deleteMe(b)).status).toBe(204);
    expect((await userRow(a.id)).status).toBe("active");
    expect((await api("GET", ME, { token: a.accessToken })).body.user.username).toBe(a.username);
    expect((await logIn(a.username)).status).toBe(200);
  });
});

describe("DELETE /users/me with two-factor authentication on", () => {
  async function withTwoFactor() {
    const u = await signUp();
    const setup = await api("POST", "/api/v1/auth/2fa/setup", { token: u.accessToken });
    const secret = setup.body.secret as string;
    const enable = await api("POST", "/api/v1/auth/2fa/enable", { token: u.accessToken, body: { code: totpAt(secret, Date.now()) } });
    expect(enable.status, enable.text).toBe(200);
    return { u, secret, recoveryCodes: enable.body.recoveryCodes as string[] };
  }

  it("asks for a second factor, refuses a wrong one, and deletes with a right one", async () => {
    const { u, secret } = await withTwoFactor();
    expectError(await deleteMe(u), 400, "two_factor_required");
    expectError(await deleteMe(u, { password: u.password, code: "000000" }), 400, "invalid_code");
    expect((await userRow(u.id))!.status).toBe("active");
    // The enabling code used this 30 s step; the next step's code is fresh.
    const res = await deleteMe(u, { password: u.password, code: totpAt(secret, Date.now() + 30_000) });
    expect(res.status, res.text).toBe(204);
    expect((await userRow(u.id))!.status).toBe("deleted");
  });

  it("accepts a recovery code instead", async () => {
    const { u, recoveryCodes } = await withTwoFactor();
    const res = await deleteMe(u, { password: u.password, recoveryCode: recoveryCodes[0] });
    expect(res.status, res.text).toBe(204);
  });
});
