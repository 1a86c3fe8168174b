import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { generateTotp } from "../src/auth/two-factor/totp";
import { api, expectError, expectInvalid, latestCode, logIn, markVerified, signUp, type TestUser, uniqueName } from "./helpers";
import { openRealtime, secondDevice } from "./hub-helpers";
import { deviceKeys } from "./keys-helpers";

/**
 * Deactivating an account (by its owner or an admin) keeps its data but ends every session,
 * refuses sign-in with `403 account_deactivated`, hides it from search and contact sync and shows
 * it to others like a suspended account; a password sign-in with `reactivate: true` (or an admin)
 * switches it on again.
 */

const ME = "/api/v1/users/me";
const ADMIN = "/api/v1/admin";
const deactivate = (u: TestUser, body: unknown = { password: u.password }) =>
  api("POST", `${ME}/deactivate`, { token: u.accessToken, body });
const statusOf = async (id: string) =>
  (await env.DB.prepare("SELECT status FROM users WHERE id = ?").bind(id).first<{ status: string }>())!.status;
const eventsOf = async (id: string) =>
  (
    await env.DB.prepare(
      "SELECT type, details FROM security_events WHERE user_id = ? AND type IN ('account_deactivated', 'account_reactivated') ORDER BY id",
    )
      .bind(id)
      .all<{ type: string; details: string }>()
  ).results.map((r) => [r.type, JSON.parse(r.details).by]);
const liveSessions = async (id: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL").bind(id).first<{ n: number }>())!.n;
const refresh = (refreshToken: string) => api("POST", "/api/v1/auth/refresh", { body: { refreshToken } });

async function adminUser(): Promise<TestUser> {
  const u = await signUp();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(u.id).run();
  return u;
}

describe("POST /users/me/deactivate", () => {
  it("ends every session and live socket, and sign-in, OTP login and refresh answer 403 account_deactivated", async () => {
    const u = await signUp({ email: `${uniqueName("d")}@example.com` });
    await markVerified(u);
    const phone = await secondDevice(u);
    const { socket } = await openRealtime(phone.tokens.accessToken);

    const res = await deactivate(u);
    expect(res.status, res.text).toBe(204);
    expect(await statusOf(u.id)).toBe("deactivated");
    expect(await liveSessions(u.id)).toBe(0);
    expect((await socket.closedWith()).code).toBe(4005);
    expectError(await api("GET", "/api/v1/auth/me", { token: u.accessToken }), 401, "session_revoked");
    expectError(await api("GET", "/api/v1/auth/me", { token: phone.tokens.accessToken }), 401, "session_revoked");
    expect(await eventsOf(u.id)).toEqual([["account_deactivated", "user"]]);

    expectError(await refresh(u.refreshToken), 403, "account_deactivated");
    expectError(await logIn(u.username), 403, "account_deactivated");
    // The status is told only to who knows the password.
    expectError(await logIn(u.username, "not-the-password-at-all"), 401, "invalid_credentials");
    const sent = await api("POST", "/api/v1/auth/otp/send", { body: { identifier: u.email, channel: "email", purpose: "login" } });
    expect(sent.status, sent.text).toBe(202);
    const code = await latestCode(u.email!, "otp.login");
    const otp = await api("POST", "/api/v1/auth/otp/verify", { body: { purpose: "login", identifier: u.email, code } });
    expectError(otp, 403, "account_deactivated");
    expect(await statusOf(u.id)).toBe("deactivated");
    expect(await liveSessions(u.id)).toBe(0);
  });

  it("needs the right password (and nothing else in the body); a wrong one changes nothing", async () => {
    const u = await signUp();
    expectError(await deactivate(u, { password: "wrong-password-123" }), 403, "invalid_password");
    expectInvalid(await deactivate(u, {}), "body.password");
    expectInvalid(await deactivate(u, { password: u.password, reason: "bored" }), "body");
    expectError(await api("POST", `${ME}/deactivate`, { body: { password: u.password } }), 401, "unauthorized");
    expect(await statusOf(u.id)).toBe("active");
    expect(await liveSessions(u.id)).toBe(1);
  });

  it("with 2FA on needs a second factor too, and reactivates only once the second factor is right", async () => {
    const u = await signUp();
    const secret = (await api("POST", "/api/v1/auth/2fa/setup", { token: u.accessToken })).body.secret as string;
    const enabled = await api("POST", "/api/v1/auth/2fa/enable", {
      token: u.accessToken,
      body: { code: generateTotp(secret, Date.now() - 30_000) },
    });
    expect(enabled.status, enabled.text).toBe(200);
    expectError(await deactivate(u), 400, "two_factor_required");
    expectError(await deactivate(u, { password: u.password, code: "000000" }), 400, "invalid_code");
    expect(await statusOf(u.id)).toBe("active");
    expect((await deactivate(u, { password: u.password, recoveryCode: enabled.body.recoveryCodes[0] })).status).toBe(204);

    const started = await logIn(u.username, u.password, { reactivate: true });
    expect(started.body).toMatchObject({ mfaRequired: true });
    expect(await statusOf(u.id)).toBe("deactivated");
    // A challenge without `reactivate` cannot finish.
    const plain = await logIn(u.username);
    expectError(plain, 403, "account_deactivated");
    const wrong = await api("POST", "/api/v1/auth/2fa/verify", { body: { mfaToken: started.body.mfaToken, code: "000000" } });
    expectError(wrong, 400, "invalid_code");
    expect(await statusOf(u.id)).toBe("deactivated");
    const done = await api("POST", "/api/v1/auth/2fa/verify", {
      body: { mfaToken: started.body.mfaToken, code: generateTotp(secret, Date.now()) },
    });
    expect(done.status, done.text).toBe(200);
    expect(await statusOf(u.id)).toBe("active");
    expect(await eventsOf(u.id)).toEqual([
      ["account_deactivated", "user"],
      ["account_reactivated", "user"],
    ]);
  });
});

describe("while deactivated", () => {
  it("is hidden from user search and contact sync, and otherwise looks like a suspended account", async () => {
    const word = uniqueName("zq").replace(/_/g, "");
    const email = `${uniqueName("s")}@example.com`;
    const [u, suspended, viewer] = await Promise.all([signUp({ displayName: `Hidden ${word}`, email }), signUp(), signUp()]);
    await markVerified(u);
    await api("PUT", `${ME}/privacy`, { token: u.accessToken, body: { email: "everyone" } });
    expect((await api("PUT", "/api/v1/keys", { token: u.accessToken, body: deviceKeys().body })).status).toBe(200);
    const searchIds = async () =>
      (await api("GET", `/api/v1/users/search?q=${word}`, { token: viewer.accessToken })).body.items.map((i: any) => i.id);
    const syncIds = async () =>
      (await api("POST", `${ME}/contacts/sync`, { token: viewer.accessToken, body: { emails: [email] } })).body.items.map(
        (i: any) => i.userId,
      );
    expect(await searchIds()).toEqual([u.id]);
    expect(await syncIds()).toEqual([u.id]);
    await api("POST", `${ME}/contacts`, { token: viewer.accessToken, body: { userId: u.id } });

    expect((await deactivate(u)).status).toBe(204);
    await env.DB.prepare("UPDATE users SET status = 'suspended' WHERE id = ?").bind(suspended.id).run();
    expect(await searchIds()).toEqual([]);
    expect(await syncIds()).toEqual([]);
    // Like a suspended account: the profile and contact entry stay, keys and new direct chats are not found.
    for (const other of [u, suspended]) {
      expect((await api("GET", `/api/v1/users/${other.id}`, { token: viewer.accessToken })).status).toBe(200);
      expectError(await api("GET", `/api/v1/keys/${other.id}/*`, { token: viewer.accessToken }), 404, "not_found");
      const chat = await api("POST", "/api/v1/chats", { token: viewer.accessToken, body: { type: "direct", memberIds: [other.id] } });
      expectError(chat, 404, "not_found");
    }
    const contacts = (await api("GET", `${ME}/contacts`, { token: viewer.accessToken })).body.items;
    expect(contacts.map((c: any) => c.id)).toContain(u.id);
  });

  it("a password sign-in with reactivate: true switches it on and signs in; it is found again", async () => {
    const word = uniqueName("zr").replace(/_/g, "");
    const [u, viewer] = await Promise.all([signUp({ displayName: `Back ${word}` }), signUp()]);
    expect((await deactivate(u)).status).toBe(204);
    expectError(await logIn(u.username, u.password, { reactivate: false }), 403, "account_deactivated");
    expectError(await logIn(u.username, "not-the-password-at-all", { reactivate: true }), 401, "invalid_credentials");
    expect(await statusOf(u.id)).toBe("deactivated");

    const back = await logIn(u.username, u.password, { reactivate: true });
    expect(back.status, back.text).toBe(200);
    expect(back.body.user.id).toBe(u.id);
    expect(await statusOf(u.id)).toBe("active");
    expect((await api("GET", "/api/v1/auth/me", { token: back.body.tokens.accessToken })).status).toBe(200);
    const found = await api("GET", `/api/v1/users/search?q=${word}`, { token: viewer.accessToken });
    expect(found.body.items.map((i: any) => i.id)).toEqual([u.id]);
    expect(await eventsOf(u.id)).toEqual([
      ["account_deactivated", "user"],
      ["account_reactivated", "user"],
    ]);
    // On an active account `reactivate` changes nothing.
    expect((await logIn(u.username, u.password, { reactivate: true })).status).toBe(200);
    expectInvalid(await logIn(u.username, u.password, { reactivate: "yes" }), "body.reactivate");
  });
});

describe("admins", () => {
  it("deactivate and reactivate accounts, audited; each only from the status it fits", async () => {
    const [boss, u] = await Promise.all([adminUser(), signUp()]);
    const { socket } = await openRealtime(u.accessToken);
    const off = await api("POST", `${ADMIN}/users/${u.id}/deactivate`, { token: boss.accessToken });
    expect(off.status, off.text).toBe(200);
    expect(off.body.user).toMatchObject({ id: u.id, status: "deactivated" });
    expect((await socket.closedWith()).code).toBe(4005);
    expect(await liveSessions(u.id)).toBe(0);
    expectError(await logIn(u.username), 403, "account_deactivated");
    expectError(await api("POST", `${ADMIN}/users/${u.id}/deactivate`, { token: boss.accessToken }), 409, "account_not_active");
    expectError(await api("POST", `${ADMIN}/users/${u.id}/restore`, { token: boss.accessToken }), 409, "account_not_restricted");

    const on = await api("POST", `${ADMIN}/users/${u.id}/reactivate`, { token: boss.accessToken });
    expect(on.status, on.text).toBe(200);
    expect(on.body.user.status).toBe("active");
    expect((await logIn(u.username)).status).toBe(200);
    expectError(await api("POST", `${ADMIN}/users/${u.id}/reactivate`, { token: boss.accessToken }), 409, "account_not_deactivated");

    const audit = await env.DB.prepare("SELECT actor_id, action, details FROM admin_audit WHERE target_id = ? ORDER BY id")
      .bind(u.id)
      .all<any>();
    expect(audit.results.map((r) => [r.actor_id, r.action, JSON.parse(r.details).previousStatus])).toEqual([
      [boss.id, "deactivate_user", "active"],
      [boss.id, "reactivate_user", "deactivated"],
    ]);
    expect(await eventsOf(u.id)).toEqual([
      ["account_deactivated", "admin"],
      ["account_reactivated", "admin"],
    ]);
    // A suspended account is neither deactivated nor reactivated; the suspension stays.
    await env.DB.prepare("UPDATE users SET status = 'suspended' WHERE id = ?").bind(u.id).run();
    expectError(await api("POST", `${ADMIN}/users/${u.id}/deactivate`, { token: boss.accessToken }), 409, "account_not_active");
    expectError(await api("POST", `${ADMIN}/users/${u.id}/reactivate`, { token: boss.accessToken }), 409, "account_not_deactivated");
    expect(await statusOf(u.id)).toBe("suspended");
  });

  it("is admins' only, on accounts that exist; the filter finds deactivated accounts", async () => {
    const [boss, plain, u] = await Promise.all([adminUser(), signUp(), signUp()]);
    for (const action of ["deactivate", "reactivate"]) {
      expectError(await api("POST", `${ADMIN}/users/${u.id}/${action}`, { token: plain.accessToken }), 404, "not_found");
      expectError(await api("POST", `${ADMIN}/users/${u.id}/${action}`), 401, "unauthorized");
      expectError(await api("POST", `${ADMIN}/users/${crypto.randomUUID()}/${action}`, { token: boss.accessToken }), 404, "not_found");
      expectError(await api("POST", `${ADMIN}/users/${boss.id}/${action}`, { token: boss.accessToken }), 400, "cannot_target_self");
    }
    expect(await statusOf(u.id)).toBe("active");
    expect((await deactivate(u)).status).toBe(204);
    const listed = await api("GET", `${ADMIN}/users?status=deactivated&q=${u.id}`, { token: boss.accessToken });
    expect(listed.body.items.map((i: any) => [i.id, i.status])).toEqual([[u.id, "deactivated"]]);
  });
});
