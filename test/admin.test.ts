import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { statsQuery } from "../src/admin/service";
import { app } from "../src/app";
import { createDb } from "../src/db/client";
import { createGroup, flush, send } from "./chat-helpers";
import {
  type ApiResponse,
  api,
  BASE,
  DEFAULT_ATTRIBUTES,
  expectError,
  logIn,
  signUp,
  type TestUser,
  uniqueIp,
  uniqueName,
} from "./helpers";

const ADMIN = "/api/v1/admin";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HOUR = 60 * 60 * 1000;

/** Call the app with extra environment (ADMIN_USERNAMES) through its real fetch. */
async function fetchWithEnv(overrides: Record<string, unknown>, method: string, path: string, token: string) {
  const ctx = createExecutionContext();
  const req = new Request(BASE + path, { method, headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": uniqueIp() } });
  const res = await app.fetch(req, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as any };
}

const setRoleInDb = (id: string, role: string) => env.DB.prepare("UPDATE users SET role = ? WHERE id = ?").bind(role, id).run();
const userRow = (id: string) => env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<any>();
const auditRows = async (targetId: string) =>
  (await env.DB.prepare("SELECT * FROM admin_audit WHERE target_id = ? ORDER BY id").bind(targetId).all<any>()).results;

async function staffUser(role: "admin" | "moderator"): Promise<TestUser> {
  const u = await signUp();
  await setRoleInDb(u.id, role);
  return u;
}

const get = (path: string, token?: string) => api("GET", `${ADMIN}${path}`, { token });
const post = (path: string, token: string | undefined, body?: unknown) => api("POST", `${ADMIN}${path}`, { token, body });

function expectOk(res: ApiResponse) {
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** The answer of a route that does not exist, without its request id. */
async function unknownRouteBody(token: string) {
  const res = await api("GET", `${ADMIN}/no-such-thing`, { token });
  expect(res.status).toBe(404);
  return { code: res.body.error.code, message: res.body.error.message };
}

describe("first admin from ADMIN_USERNAMES", () => {
  it("promotes a listed account once, audited, only while there is no active admin", async () => {
    // No active admin at the start of this test (other tests make their own).
    await env.DB.prepare("UPDATE users SET role = 'user' WHERE role = 'admin'").run();
    const first = await signUp();
    const second = await signUp();
    const stranger = await signUp();
    const config = { ADMIN_USERNAMES: ` @${first.username.toUpperCase()} , ${second.username},` };

    expect((await fetchWithEnv(config, "GET", `${ADMIN}/stats`, stranger.accessToken)).status).toBe(404);
    // Two first requests at once still promote and audit once.
    const [res, twin] = await Promise.all([
      fetchWithEnv(config, "GET", `${ADMIN}/stats`, first.accessToken),
      fetchWithEnv(config, "GET", `${ADMIN}/audit-log`, first.accessToken),
    ]);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(twin.status, JSON.stringify(twin.body)).toBe(200);
    expect((await userRow(first.id)).role).toBe("admin");
    const audit = await auditRows(first.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_id: first.id, action: "bootstrap_admin", target_type: "user", target_id: first.id });
    expect(JSON.parse(audit[0].details)).toEqual({ source: "ADMIN_USERNAMES" });

    // Once an admin exists the list promotes nobody else; the first admin stays admin without it.
    const later = await fetchWithEnv(config, "GET", `${ADMIN}/stats`, second.accessToken);
    expect(later.status).toBe(404);
    expect((await userRow(second.id)).role).toBe("user");
    expect(await auditRows(second.id)).toEqual([]);
    expect((await fetchWithEnv(config, "GET", `${ADMIN}/stats`, first.accessToken)).status).toBe(200);
    expect(await auditRows(first.id)).toHaveLength(1);
    expect((await get("/stats", first.accessToken)).status).toBe(200);
    expect((await get("/stats", second.accessToken)).status).toBe(404);
  });

  it("no API call can grant a role", async () => {
    const res = await api("POST", "/api/v1/auth/register", {
      body: { username: uniqueName(), password: "violet-harbor-73-lantern", role: "admin" },
    });
    expectError(res, 400, "validation_failed");
  });
});

describe("who may call admin routes", () => {
  const adminRoutes: [string, string, unknown?][] = [
    ["GET", "/stats"],
    ["GET", "/users"],
    ["POST", "/users/{id}/suspend", { reason: "x" }],
    ["POST", "/users/{id}/ban", { reason: "x" }],
    ["POST", "/users/{id}/restore"],
    ["POST", "/users/{id}/role", { role: "admin" }],
    ["GET", "/audit-log"],
  ];
  const staffRoutes: [string, string, unknown?][] = [
    ["GET", "/reports"],
    ["POST", `/reports/${crypto.randomUUID()}/resolve`, { action: "dismiss" }],
  ];

  it("answers 401 without a token", async () => {
    const victim = await signUp();
    for (const [method, path, body] of [...adminRoutes, ...staffRoutes]) {
      expectError(await api(method, ADMIN + path.replace("{id}", victim.id), { body }), 401, "unauthorized");
    }
  });

  it("answers users like an unknown route and changes nothing (BOLA)", async () => {
    const user = await signUp();
    const victim = await signUp();
    const unknown = await unknownRouteBody(user.accessToken);
    expect(unknown).toEqual({ code: "not_found", message: "No such route" });
    for (const [method, path, body] of [...adminRoutes, ...staffRoutes]) {
      const res = await api(method, ADMIN + path.replace("{id}", victim.id), { token: user.accessToken, body });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect({ code: res.body.error.code, message: res.body.error.message }).toEqual(unknown);
    }
    const row = await userRow(victim.id);
    expect(row).toMatchObject({ status: "active", role: "user" });
    expect(await auditRows(victim.id)).toEqual([]);
  });

  it("lets moderators work the reports queue only", async () => {
    const mod = await staffUser("moderator");
    const victim = await signUp();
    for (const [method, path, body] of adminRoutes) {
      const res = await api(method, ADMIN + path.replace("{id}", victim.id), { token: mod.accessToken, body });
      expectError(res, 404, "not_found");
    }
    expect((await get("/reports", mod.accessToken)).status).toBe(200);
    expect((await userRow(victim.id)).status).toBe("active");
  });

  it("refuses suspended admins' remaining tokens", async () => {
    const admin = await staffUser("admin");
    await env.DB.prepare("UPDATE users SET status = 'banned' WHERE id = ?").bind(admin.id).run();
    expectError(await get("/stats", admin.accessToken), 404, "not_found");
  });
});

describe("GET /admin/stats", () => {
  it("counts users, sign-ups, activity and open reports exactly", async () => {
    const admin = await staffUser("admin");
    const before = expectOk(await get("/stats", admin.accessToken));
    expect(before).toEqual({
      users: {
        total: expect.any(Number),
        new24h: expect.any(Number),
        new7d: expect.any(Number),
        active24h: expect.any(Number),
        active7d: expect.any(Number),
      },
      chats: 0,
      messages: 0,
      stories: 0,
      reportsOpen: expect.any(Number),
    });
    const all = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE status != 'deleted'").first<{ n: number }>();
    expect(before.users.total).toBe(all!.n);

    const fresh = await signUp();
    const old = await signUp();
    await env.DB.prepare("UPDATE users SET created_at = ?, last_seen_at = ? WHERE id = ?")
      .bind(Date.now() - 3 * 24 * HOUR, Date.now() - 2 * 24 * HOUR, old.id)
      .run();
    await env.DB.prepare("UPDATE users SET last_seen_at = ? WHERE id = ?").bind(Date.now(), fresh.id).run();
    const gone = await signUp();
    await env.DB.prepare("UPDATE users SET status = 'deleted' WHERE id = ?").bind(gone.id).run();
    expect(
      (await api("POST", "/api/v1/reports", { token: fresh.accessToken, body: { targetType: "user", targetId: old.id, reason: "spam" } }))
        .status,
    ).toBe(201);

    const after = expectOk(await get("/stats", admin.accessToken));
    expect(after.users.total).toBe(before.users.total + 2);
    expect(after.users.new24h).toBe(before.users.new24h + 2); // fresh and gone (sign-ups, whatever happened since)
    expect(after.users.new7d).toBe(before.users.new7d + 3);
    expect(after.users.active24h).toBe(before.users.active24h + 1);
    expect(after.users.active7d).toBe(before.users.active7d + 2);
    expect(after.reportsOpen).toBe(before.reportsOpen + 1);
  });

  it("counts the messages people sent that still exist: not system notices; deletes, truncates and deleted chats take theirs out", async () => {
    const admin = await staffUser("admin");
    const messages = async () => expectOk(await get("/stats", admin.accessToken)).messages as number;
    const base = await messages();
    const [a, b] = [await signUp(), await signUp()];
    const group = await createGroup(a, [b]); // a "created" notice: not counted
    const sent = [await send(a, group.id, "one"), await send(b, group.id, "two"), await send(a, group.id, "three")];
    await flush(group.id);
    expect(await messages()).toBe(base + 3);
    expect((await api("DELETE", `/api/v1/chats/${group.id}/messages/${sent[1].id}?for=everyone`, { token: b.accessToken })).status).toBe(
      204,
    );
    // Hiding for me leaves the message for everyone else: still counted.
    expect((await api("DELETE", `/api/v1/chats/${group.id}/messages/${sent[0].id}?for=me`, { token: b.accessToken })).status).toBe(204);
    await flush(group.id);
    expect(await messages()).toBe(base + 2);
    const other = await createGroup(a, [b]);
    await send(b, other.id, "kept until truncate");
    await send(b, other.id, "and this");
    await flush(other.id);
    expect(await messages()).toBe(base + 4);
    expect((await api("POST", `/api/v1/chats/${other.id}/truncate`, { token: a.accessToken })).status).toBe(200);
    await flush(other.id);
    expect(await messages()).toBe(base + 2);
    expect((await api("DELETE", `/api/v1/chats/${group.id}`, { token: a.accessToken })).status).toBe(204);
    expect(await messages()).toBe(base);
  });

  it("reads counters by key and index ranges, never scanning users", async () => {
    const db = createDb(env.DB);
    const plan = await db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${statsQuery()}`);
    const details = plan.map((p) => p.detail);
    const text = details.join("\n");
    // The only SCAN is of the constant row a FROM-less SELECT reads.
    expect(
      details.filter((d) => /^SCAN /.test(d)),
      text,
    ).toEqual(["SCAN CONSTANT ROW"]);
    expect(
      details.filter((d) => /SEARCH stat_counters USING INDEX sqlite_autoindex_stat_counters_1 \(key=\?\)/.test(d)),
      text,
    ).toHaveLength(5);
    expect(details.filter((d) => /SEARCH users USING COVERING INDEX users_created_at_idx \(created_at>\?\)/.test(d))).toHaveLength(2);
    expect(details.filter((d) => /SEARCH users USING COVERING INDEX users_last_seen_idx \(last_seen_at>\?\)/.test(d))).toHaveLength(2);
  });
});

describe("GET /admin/users", () => {
  it("finds accounts by id, email, phone and username prefix, with moderation fields", async () => {
    const admin = await staffUser("admin");
    const prefix = `zz${Math.random()
      .toString(36)
      .slice(2, 8)
      .replace(/[^a-z]/g, "a")}`;
    const email = `${prefix}@example.com`;
    const phone = `+4477${Math.floor(10_000_000 + Math.random() * 89_999_999)}`;
    const a = await signUp({ username: `${prefix}_a`, email, phone });
    const b = await signUp({ username: `${prefix}_b` });
    const c = await signUp({ username: `${prefix}_c` });
    await env.DB.prepare("UPDATE users SET status = 'suspended', suspended_until = ?, moderation_reason = 'spam' WHERE id = ?")
      .bind(Date.now() + HOUR, b.id)
      .run();

    const byId = expectOk(await get(`/users?q=${a.id}`, admin.accessToken));
    expect(byId).toEqual({
      items: [
        {
          id: a.id,
          username: a.username,
          displayName: a.username,
          kind: "regular",
          email,
          emailVerified: false,
          phone,
          phoneVerified: false,
          role: "user",
          status: "active",
          suspendedUntil: null,
          moderationReason: null,
          ...DEFAULT_ATTRIBUTES,
          metadata: null,
          createdAt: expect.stringMatching(ISO_RE),
          lastSeenAt: null,
          deletedAt: null,
        },
      ],
      nextCursor: null,
    });
    expect(
      expectOk(await get(`/users?q=${encodeURIComponent(email.toUpperCase())}`, admin.accessToken)).items.map((u: any) => u.id),
    ).toEqual([a.id]);
    expect(expectOk(await get(`/users?q=${encodeURIComponent(phone)}`, admin.accessToken)).items.map((u: any) => u.id)).toEqual([a.id]);

    const page1 = expectOk(await get(`/users?q=@${prefix.toUpperCase()}&limit=2`, admin.accessToken));
    expect(page1.items.map((u: any) => u.id)).toEqual([a.id, b.id]);
    expect(page1.items[1]).toMatchObject({ status: "suspended", moderationReason: "spam", suspendedUntil: expect.stringMatching(ISO_RE) });
    const page2 = expectOk(await get(`/users?q=${prefix}&limit=2&cursor=${page1.nextCursor}`, admin.accessToken));
    expect(page2).toEqual({ items: [expect.objectContaining({ id: c.id })], nextCursor: null });
    expect(expectOk(await get(`/users?q=${prefix}&status=suspended`, admin.accessToken)).items.map((u: any) => u.id)).toEqual([b.id]);
    expect(expectOk(await get(`/users?q=${prefix}zzz`, admin.accessToken)).items).toEqual([]);
    expect(expectOk(await get(`/users?q=${encodeURIComponent("no spaces!")}`, admin.accessToken)).items).toEqual([]);
  });

  it("finds every account holding an email or phone, the one that verified it first", async () => {
    const admin = await staffUser("admin");
    const email = `${uniqueName("held")}@example.com`;
    const phone = `+4477${Math.floor(10_000_000 + Math.random() * 89_999_999)}`;
    const first = await signUp({ email, phone });
    const owner = await signUp({ email, phone });
    const third = await signUp({ email, phone });
    await env.DB.prepare("UPDATE users SET email_verified_at = ?1, phone_verified_at = ?1 WHERE id = ?2").bind(Date.now(), owner.id).run();
    for (const q of [email, phone]) {
      const found = expectOk(await get(`/users?q=${encodeURIComponent(q)}`, admin.accessToken));
      expect(
        found.items.map((u: any) => u.id),
        q,
      ).toEqual([owner.id, first.id, third.id]);
      expect(found.nextCursor).toBeNull();
      expect(expectOk(await get(`/users?q=${encodeURIComponent(q)}&limit=2`, admin.accessToken)).items.map((u: any) => u.id)).toEqual([
        owner.id,
        first.id,
      ]);
    }
  });

  it("lists every account newest first without q", async () => {
    const admin = await staffUser("admin");
    const older = await signUp();
    const newer = await signUp();
    const page1 = expectOk(await get("/users?limit=2", admin.accessToken));
    expect(page1.items.map((u: any) => u.id)).toEqual([newer.id, older.id]);
    const page2 = expectOk(await get(`/users?limit=1&cursor=${page1.nextCursor}`, admin.accessToken));
    expect(page2.items[0].id).toBe(admin.id);
    const banned = expectOk(await get("/users?status=banned&limit=100", admin.accessToken));
    expect(banned.items.every((u: any) => u.status === "banned")).toBe(true);
  });

  it("rejects bad input", async () => {
    const admin = await staffUser("admin");
    expectError(await get("/users?status=frozen", admin.accessToken), 400, "validation_failed");
    expectError(await get("/users?limit=0", admin.accessToken), 400, "validation_failed");
    expectError(await get(`/users?q=${"a".repeat(255)}`, admin.accessToken), 400, "validation_failed");
    expectError(await get("/users?cursor=garbage", admin.accessToken), 400, "invalid_cursor");
  });
});

describe("suspend, ban, restore", () => {
  it("suspends until a time: sessions end at once, sign-in says until when, restore lets them back", async () => {
    const admin = await staffUser("admin");
    const target = await signUp();
    const second = (await logIn(target.username)).body;
    const until = new Date(Date.now() + 2 * HOUR).toISOString();

    const res = await post(`/users/${target.id}/suspend`, admin.accessToken, { until, reason: "Spamming groups" });
    expect(expectOk(res).user).toMatchObject({
      id: target.id,
      status: "suspended",
      suspendedUntil: until,
      moderationReason: "Spamming groups",
    });

    expectError(await api("GET", "/api/v1/auth/me", { token: target.accessToken }), 401, "session_revoked");
    expectError(await api("GET", "/api/v1/auth/me", { token: second.tokens.accessToken }), 401, "session_revoked");
    const refresh = await api("POST", "/api/v1/auth/refresh", { body: { refreshToken: target.refreshToken } });
    expectError(refresh, 401, "session_revoked");
    const live = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL")
      .bind(target.id)
      .first<{ n: number }>();
    expect(live!.n).toBe(0);
    const login = expectError(await logIn(target.username), 403, "account_suspended");
    expect(login.message).toContain(until);
    expect(login.details).toEqual({ until, reason: "Spamming groups" });

    const audit = await auditRows(target.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_id: admin.id, action: "suspend_user", target_type: "user" });
    expect(JSON.parse(audit[0].details)).toEqual({ previousStatus: "active", until, reason: "Spamming groups" });

    const restored = expectOk(await post(`/users/${target.id}/restore`, admin.accessToken));
    expect(restored.user).toMatchObject({ status: "active", suspendedUntil: null, moderationReason: null });
    expect((await logIn(target.username)).status).toBe(200);
    expect((await auditRows(target.id)).map((r: any) => r.action)).toEqual(["suspend_user", "restore_user"]);
    expectError(await post(`/users/${target.id}/restore`, admin.accessToken), 409, "account_not_restricted");
  });

  it("suspends indefinitely without until", async () => {
    const admin = await staffUser("admin");
    const target = await signUp();
    expect(
      expectOk(await post(`/users/${target.id}/suspend`, admin.accessToken, { reason: "Investigation" })).user.suspendedUntil,
    ).toBeNull();
    const login = expectError(await logIn(target.username), 403, "account_suspended");
    expect(login.message).toMatch(/indefinitely/);
    expect(login.details).toEqual({ until: null, reason: "Investigation" });
  });

  it("lifts an expired suspension at the next sign-in or refresh", async () => {
    const target = await signUp();
    await env.DB.prepare("UPDATE users SET status = 'suspended', suspended_until = ?, moderation_reason = 'cool off' WHERE id = ?")
      .bind(Date.now() - 1000, target.id)
      .run();
    const login = await logIn(target.username);
    expect(login.status, login.text).toBe(200);
    expect(await userRow(target.id)).toMatchObject({ status: "active", suspended_until: null, moderation_reason: null });

    // A session that outlived an expired suspension keeps working (and lifts it) instead of ending.
    await env.DB.prepare("UPDATE users SET status = 'suspended', suspended_until = ? WHERE id = ?")
      .bind(Date.now() - 1000, target.id)
      .run();
    expect((await api("POST", "/api/v1/auth/refresh", { body: { refreshToken: login.body.tokens.refreshToken } })).status).toBe(200);
    expect((await userRow(target.id)).status).toBe("active");
    // A current suspension still ends it.
    await env.DB.prepare("UPDATE users SET status = 'suspended', suspended_until = ? WHERE id = ?")
      .bind(Date.now() + HOUR, target.id)
      .run();
    expectError(await api("POST", "/api/v1/auth/refresh", { body: { refreshToken: target.refreshToken } }), 401, "session_revoked");
  });

  it("bans: sessions end, sign-in says banned with the reason; restore lets them back", async () => {
    const admin = await staffUser("admin");
    const target = await signUp();
    expect(expectOk(await post(`/users/${target.id}/ban`, admin.accessToken, { reason: "Fraud" })).user).toMatchObject({
      status: "banned",
      moderationReason: "Fraud",
    });
    expectError(await api("GET", "/api/v1/auth/me", { token: target.accessToken }), 401, "session_revoked");
    expect(expectError(await logIn(target.username), 403, "account_banned").details).toEqual({ reason: "Fraud" });
    expect((await auditRows(target.id)).map((r: any) => [r.action, r.actor_id])).toEqual([["ban_user", admin.id]]);
    expectOk(await post(`/users/${target.id}/restore`, admin.accessToken));
    expect((await logIn(target.username)).status).toBe(200);
  });

  it("rejects bad input, unknown and deleted accounts, self and other admins", async () => {
    const admin = await staffUser("admin");
    const otherAdmin = await staffUser("admin");
    const mod = await staffUser("moderator");
    const target = await signUp();
    const gone = await signUp();
    await env.DB.prepare("UPDATE users SET status = 'deleted' WHERE id = ?").bind(gone.id).run();
    const t = admin.accessToken;
    const bad: [string, unknown, string][] = [
      [`/users/${target.id}/suspend`, { reason: "x", until: new Date(Date.now() - 1000).toISOString() }, "body.until"],
      [`/users/${target.id}/suspend`, { reason: "x", until: "tomorrow" }, "body.until"],
      [`/users/${target.id}/suspend`, { until: new Date(Date.now() + HOUR).toISOString() }, "body.reason"],
      [`/users/${target.id}/suspend`, { reason: "x".repeat(501) }, "body.reason"],
      [`/users/${target.id}/ban`, { reason: "x", extra: true }, "body"],
      [`/users/${target.id}/ban`, {}, "body.reason"],
      [`/users/${target.id}/role`, { role: "root" }, "body.role"],
      ["/users/not-a-uuid/ban", { reason: "x" }, "params.id"],
    ];
    for (const [path, body, where] of bad) {
      const error = expectError(await post(path, t, body), 400, "validation_failed");
      expect(
        error.details.map((d: any) => d.path),
        path,
      ).toContain(where);
    }
    expectError(await post(`/users/${crypto.randomUUID()}/ban`, t, { reason: "x" }), 404, "not_found");
    expectError(await post(`/users/${gone.id}/suspend`, t, { reason: "x" }), 404, "not_found");
    expectError(await post(`/users/${admin.id}/ban`, t, { reason: "x" }), 400, "cannot_target_self");
    expectError(await post(`/users/${admin.id}/role`, t, { role: "user" }), 400, "cannot_target_self");
    expectError(await post(`/users/${otherAdmin.id}/suspend`, t, { reason: "x" }), 403, "insufficient_role");
    expectError(await post(`/users/${otherAdmin.id}/role`, t, { role: "user" }), 403, "insufficient_role");
    expect(expectOk(await post(`/users/${mod.id}/suspend`, t, { reason: "x" })).user.status).toBe("suspended");
    expect((await userRow(target.id)).status).toBe("active");
    expect(await auditRows(target.id)).toEqual([]);
    expect(await auditRows(otherAdmin.id)).toEqual([]);
  });

  it("promotes through the role route, audited", async () => {
    const admin = await staffUser("admin");
    const u = await signUp();
    expect(expectOk(await post(`/users/${u.id}/role`, admin.accessToken, { role: "moderator" })).user.role).toBe("moderator");
    expect((await get("/reports", u.accessToken)).status).toBe(200);
    expect((await get("/stats", u.accessToken)).status).toBe(404);
    expect(expectOk(await post(`/users/${u.id}/role`, admin.accessToken, { role: "admin" })).user.role).toBe("admin");
    expect((await get("/stats", u.accessToken)).status).toBe(200);
    const audit = await auditRows(u.id);
    expect(audit.map((r: any) => [r.action, JSON.parse(r.details)])).toEqual([
      ["set_role", { from: "user", to: "moderator" }],
      ["set_role", { from: "moderator", to: "admin" }],
    ]);
  });
});
