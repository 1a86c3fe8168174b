import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { C, createGroup, ok } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";

/**
 * API keys for the app's backend: created by admins (shown once, stored hashed), scoped, revoked
 * at once, every use recorded; the platform routes (users by externalId, minted tokens, notices)
 * and the message and chat routes acting as a user.
 */

const ADMIN = "/api/v1/admin";
const PLATFORM = "/api/v1/platform";

async function admin(): Promise<TestUser> {
  const u = await signUp();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(u.id).run();
  return u;
}

async function createKey(owner: TestUser, scopes: string[], name = "backend") {
  const res = await api("POST", `${ADMIN}/api-keys`, { token: owner.accessToken, body: { name, scopes } });
  expect(res.status, res.text).toBe(201);
  return res.body as { apiKey: { id: string; prefix: string; scopes: string[] }; key: string };
}

/** A call with an API key (and the user it acts as). */
const withKey = (method: string, path: string, key: string, opts: { body?: unknown; as?: string } = {}) =>
  api(method, path, { body: opts.body, headers: { authorization: `ApiKey ${key}`, ...(opts.as ? { "x-on-behalf-of": opts.as } : {}) } });

const sha256Hex = async (text: string) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");

describe("managing keys", () => {
  it("shows a key once, stores only its hash, lists without it, and only admins may", async () => {
    const boss = await admin();
    const { apiKey, key } = await createKey(boss, ["users:write", "tokens:mint"]);
    expect(key).toMatch(/^emk_[\w-]{43}$/);
    expect(apiKey).toMatchObject({ prefix: key.slice(0, 12), scopes: ["tokens:mint", "users:write"] });
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(apiKey.id).first<Record<string, unknown>>();
    expect(row!.key_hash).toBe(await sha256Hex(key));
    expect(JSON.stringify(row)).not.toContain(key);
    const list = await ok(await api("GET", `${ADMIN}/api-keys`, { token: boss.accessToken }));
    expect(JSON.stringify(list)).not.toContain(key);
    const audit = await env.DB.prepare("SELECT action FROM admin_audit WHERE target_id = ?").bind(apiKey.id).all();
    expect(audit.results).toEqual([{ action: "create_api_key" }]);

    const someone = await signUp();
    expectError(
      await api("POST", `${ADMIN}/api-keys`, { token: someone.accessToken, body: { name: "x", scopes: ["users:write"] } }),
      404,
      "not_found",
    );
    expectError(
      await api("POST", `${ADMIN}/api-keys`, { token: boss.accessToken, body: { name: "x", scopes: ["root"] } }),
      400,
      "validation_failed",
    );
    expectError(
      await api("POST", `${ADMIN}/api-keys`, { token: boss.accessToken, body: { name: "x", scopes: [] } }),
      400,
      "validation_failed",
    );
  });

  it("a revoked key stops at once; a key without the scope is refused; every use is recorded", async () => {
    const boss = await admin();
    const { apiKey, key } = await createKey(boss, ["users:write"]);
    expect((await withKey("PUT", `${PLATFORM}/users/ext-rev-1`, key, { body: {} })).status).toBe(201);
    expectError(await withKey("POST", `${PLATFORM}/users/ext-rev-1/tokens`, key, { body: {} }), 403, "scope_required");
    expectError(await withKey("GET", "/api/v1/users/me", key), 403, "api_key_not_allowed");
    expect((await api("DELETE", `${ADMIN}/api-keys/${apiKey.id}`, { token: boss.accessToken })).status).toBe(204);
    expectError(await withKey("GET", `${PLATFORM}/users/ext-rev-1`, key), 401, "invalid_api_key");
    expectError(await api("DELETE", `${ADMIN}/api-keys/${apiKey.id}`, { token: boss.accessToken }), 404, "not_found");
    expectError(await withKey("GET", `${PLATFORM}/users/ext-rev-1`, "emk_not-a-real-key"), 401, "invalid_api_key");

    const uses = await ok(await api("GET", `${ADMIN}/api-keys/${apiKey.id}/uses`, { token: boss.accessToken }));
    // Refusals are uses too, once the key is known: a revoked key probing leaves a trace.
    expect(uses.items.map((u: { method: string; path: string; status: number }) => [u.method, u.path, u.status])).toEqual([
      ["GET", `${PLATFORM}/users/ext-rev-1`, 401],
      ["GET", "/api/v1/users/me", 403],
      ["POST", `${PLATFORM}/users/ext-rev-1/tokens`, 403],
      ["PUT", `${PLATFORM}/users/ext-rev-1`, 201],
    ]);
    const audit = await env.DB.prepare("SELECT action FROM admin_audit WHERE target_id = ? ORDER BY id").bind(apiKey.id).all();
    expect(audit.results).toEqual([{ action: "create_api_key" }, { action: "revoke_api_key" }]);
    const keys = await ok(await api("GET", `${ADMIN}/api-keys`, { token: boss.accessToken }));
    expect(keys.apiKeys.find((k: { id: string }) => k.id === apiKey.id)).toMatchObject({
      revokedAt: expect.any(String),
      lastUsedAt: expect.any(String),
    });
  });
});

describe("users by externalId and minted tokens", () => {
  it("upserts idempotently, even when many calls race to create the same user", async () => {
    const { key } = await createKey(await admin(), ["users:write"]);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => withKey("PUT", `${PLATFORM}/users/race-1`, key, { body: { displayName: "Racer" } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.user.id)).size).toBe(1);
    const count = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE external_id = 'race-1'").first<{ n: number }>();
    expect(count!.n).toBe(1);

    const renamed = await ok(await withKey("PUT", `${PLATFORM}/users/race-1`, key, { body: { username: "racer_one", bio: "fast" } }));
    expect(renamed.user).toMatchObject({ username: "racer_one", displayName: "Racer", bio: "fast", externalId: "race-1" });
    const taken = await signUp();
    expectError(await withKey("PUT", `${PLATFORM}/users/race-1`, key, { body: { username: taken.username } }), 409, "username_taken");
    expectError(await withKey("PUT", `${PLATFORM}/users/bad id`, key, { body: {} }), 400, "validation_failed");
    expectError(await withKey("PUT", `${PLATFORM}/users/race-2`, key, { body: { password: "x" } }), 400, "validation_failed");
    expect((await env.DB.prepare("SELECT count(*) AS n FROM users WHERE external_id = 'race-2'").first<{ n: number }>())!.n).toBe(0);
  });

  it("mints a session the user can use and that ends like any other; there is no password to sign in with", async () => {
    const { key } = await createKey(await admin(), ["users:write", "tokens:mint"]);
    const { user } = await ok(await withKey("PUT", `${PLATFORM}/users/mint-1`, key, { body: { displayName: "Minted" } }), 201);
    const minted = await ok(await withKey("POST", `${PLATFORM}/users/mint-1/tokens`, key, { body: { deviceName: "App server" } }), 201);
    const me = await ok(await api("GET", "/api/v1/auth/me", { token: minted.tokens.accessToken }));
    expect(me.user.id).toBe(user.id);
    const sessions = await ok(await api("GET", "/api/v1/auth/sessions", { token: minted.tokens.accessToken }));
    expect(sessions.items.map((s: { id: string }) => s.id)).toContain(minted.session.id);
    expectError(await api("POST", "/api/v1/auth/login", { body: { identifier: user.username, password: "" } }), 400, "validation_failed");
    expectError(
      await api("POST", "/api/v1/auth/login", { body: { identifier: user.username, password: "anything-at-all-1" } }),
      401,
      "invalid_credentials",
    );

    expect((await withKey("DELETE", `${PLATFORM}/users/mint-1/sessions/${minted.session.id}`, key)).status).toBe(204);
    expectError(await api("GET", "/api/v1/auth/me", { token: minted.tokens.accessToken }), 401, "session_revoked");
    expectError(await withKey("POST", `${PLATFORM}/users/nobody-here/tokens`, key, { body: {} }), 404, "not_found");
  });
});

describe("acting as a user", () => {
  it("sends through the message routes as the user, with the user's rules; notices come from no one", async () => {
    const { key } = await createKey(await admin(), ["messages:write"]);
    const [alice, bob, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(alice, [bob]);
    const send = (as: string | undefined, text: string) =>
      withKey("POST", `${C}/${chat.id}/messages`, key, { as, body: { clientMessageId: crypto.randomUUID(), text } });
    const sent = await ok(await send(alice.id, "from the app's server"), 201);
    expect(sent.message).toMatchObject({ senderId: alice.id, text: "from the app's server" });
    expectError(await send(undefined, "as nobody"), 400, "on_behalf_of_required");
    expectError(await send(crypto.randomUUID(), "as a ghost"), 404, "not_found");
    expect((await send(stranger.id, "not a member")).status).toBe(404);
    expectError(await withKey("POST", C, key, { as: alice.id, body: { type: "group", name: "x" } }), 403, "scope_required");

    const notice = await ok(
      await withKey("POST", `${PLATFORM}/chats/${chat.id}/notices`, key, { body: { text: "Maintenance at 10:00" } }),
      201,
    );
    expect(notice.message).toMatchObject({ type: "system", senderId: null, system: { event: "app_notice", text: "Maintenance at 10:00" } });
    const history = await ok(await api("GET", `${C}/${chat.id}/messages`, { token: bob.accessToken }));
    expect(history.items.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining([sent.message.id, notice.message.id]));
    expectError(await withKey("POST", `${PLATFORM}/chats/${crypto.randomUUID()}/notices`, key, { body: { text: "x" } }), 404, "not_found");
  });

  it("manages chats with chats:write", async () => {
    const { key } = await createKey(await admin(), ["chats:write"]);
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const created = await ok(
      await withKey("POST", C, key, { as: alice.id, body: { type: "group", name: "Made by the app", memberIds: [bob.id] } }),
      201,
    );
    expect(created.chat).toMatchObject({ name: "Made by the app", type: "group" });
    const members = await ok(await api("GET", `${C}/${created.chat.id}/members`, { token: bob.accessToken }));
    expect(members.items.map((m: { userId: string }) => m.userId).sort()).toEqual([alice.id, bob.id].sort());
  });
});
