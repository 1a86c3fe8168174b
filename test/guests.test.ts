import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../src/app";
import { createDb } from "../src/db/client";
import worker from "../src/index";
import { expiredGuestsQuery, expireGuests } from "../src/users/guests";
import { C, createGroup, expectSendRefused, ok, queryPlan } from "./chat-helpers";
import { api, BASE, expectError, latestCode, logIn, observable, STRONG_PASSWORD, signUp, type TestUser, uniqueIp } from "./helpers";
import { avatarFor, mediaRow, storedObjects } from "./media-helpers";
import { postStory } from "./story-helpers";

/**
 * Guests: made by POST /auth/guest (where GUEST_SIGNUP is on) or by the app's backend; no channels
 * or public groups; regular once they get a password or a verified address; erased by the cron after
 * 30 days unseen, through the same path as a deleted account.
 */

const DAY = 24 * 60 * 60 * 1000;
const GUEST = "/api/v1/auth/guest";

afterEach(() => {
  vi.useRealTimers();
});

/** Make a guest through the public route and return it like signUp does. */
async function guest(body: Record<string, unknown> = {}): Promise<TestUser> {
  const res = await api("POST", GUEST, { body });
  expect(res.status, res.text).toBe(201);
  return {
    id: res.body.user.id,
    username: res.body.user.username,
    password: "",
    accessToken: res.body.tokens.accessToken,
    refreshToken: res.body.tokens.refreshToken,
    sessionId: res.body.session.id,
    deviceId: res.body.session.deviceId,
  };
}

const userRow = (id: string) => env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<any>();
const count = async (sql: string, ...params: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;

/** The app with other configuration, called like the Worker is. */
async function fetchWith(overrides: Record<string, string>, method: string, path: string, body?: string) {
  const ctx = createExecutionContext();
  const headers = { "cf-connecting-ip": uniqueIp(), "content-type": "application/json" };
  const res = await app.fetch(new Request(BASE + path, { method, headers, body }), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) };
}

/** Run the real 5-minute cron as if it fired at `at`, with the clock there too. */
async function runCronAt(at: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(at);
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
  vi.useRealTimers();
}

describe("POST /auth/guest", () => {
  it("makes a guest without a password and signs it in; the kind shows on its account and its profile", async () => {
    const res = await api("POST", GUEST, { body: { displayName: "Visitor", deviceName: "Tablet" } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.user).toMatchObject({ kind: "guest", displayName: "Visitor", email: null, phone: null });
    expect(res.body.user.username).toMatch(/^user_[a-z0-9]{10}$/);
    expect(res.body.session).toMatchObject({ deviceName: "Tablet", current: true });
    const row = await userRow(res.body.user.id);
    expect(row).toMatchObject({ kind: "guest", password_hash: "", status: "active" });
    expect(row.last_seen_at).toBe(row.created_at); // expiry counts from creation until it is seen

    const token = res.body.tokens.accessToken;
    expect((await ok(await api("GET", "/api/v1/users/me", { token }))).user.kind).toBe("guest");
    const viewer = await signUp();
    const seen = await ok(await api("GET", `/api/v1/users/${res.body.user.id}`, { token: viewer.accessToken }));
    expect(seen.user).toMatchObject({ kind: "guest", displayName: "Visitor" });
    expect((await ok(await api("GET", "/api/v1/users/me", { token: viewer.accessToken }))).user.kind).toBe("regular");

    const plain = await guest();
    expect((await userRow(plain.id)).display_name).toBe("Guest");
    // No password, so no password sign-in: answered like an unknown account.
    expectError(await logIn(plain.username, STRONG_PASSWORD), 401, "invalid_credentials");
  });

  it("refuses bad input and stores nothing", async () => {
    const before = await count("SELECT count(*) AS n FROM users WHERE kind = 'guest'");
    for (const body of [
      { displayName: "" },
      { displayName: "x".repeat(65) },
      { username: "mine" },
      { password: STRONG_PASSWORD },
      { deviceId: "bad id!" },
    ]) {
      expectError(await api("POST", GUEST, { body }), 400, "validation_failed");
    }
    expectError(await api("POST", GUEST, { raw: "{", headers: { "content-type": "application/json" } }), 400, "malformed_json");
    expect(await count("SELECT count(*) AS n FROM users WHERE kind = 'guest'")).toBe(before);
  });

  it("is limited to 10 an hour per IP", async () => {
    const ip = uniqueIp();
    for (let i = 0; i < 10; i++) expect((await api("POST", GUEST, { ip, body: {} })).status).toBe(201);
    const refused = expectError(await api("POST", GUEST, { ip, body: {} }), 429, "rate_limited");
    expect(refused.details.retryAfter).toBeGreaterThan(0);
    expect((await api("POST", GUEST, { body: {} })).status).toBe(201); // another address
  });

  it("answers 404 like an unknown route when GUEST_SIGNUP is not on, whatever the body", async () => {
    const before = await count("SELECT count(*) AS n FROM users WHERE kind = 'guest'");
    for (const value of ["off", "", "ON"]) {
      const off = await fetchWith({ GUEST_SIGNUP: value }, "POST", GUEST, "{}");
      const unknown = await fetchWith({ GUEST_SIGNUP: value }, "POST", "/api/v1/auth/guests", "{}");
      expect(off.status).toBe(404);
      expect(off.body.error.code).toBe("not_found");
      expect(observable(off)).toEqual(observable(unknown));
      expect((await fetchWith({ GUEST_SIGNUP: value }, "POST", GUEST, "{not json")).status).toBe(404);
    }
    expect(await count("SELECT count(*) AS n FROM users WHERE kind = 'guest'")).toBe(before);
    expect((await fetchWith({ GUEST_SIGNUP: "on" }, "POST", GUEST, "{}")).status).toBe(201);
  });
});

describe("what a guest may not do", () => {
  it("create channels or public groups, or make a group public; private groups and direct chats are fine", async () => {
    const g = await guest();
    const friend = await signUp();
    const chatsBy = () => count("SELECT count(*) AS n FROM chats WHERE created_by = ?", g.id);
    const create = (body: Record<string, unknown>) => api("POST", C, { token: g.accessToken, body });
    expectError(await create({ type: "channel", name: "News" }), 403, "guest_not_allowed");
    expectError(await create({ type: "group", name: "Open", isPublic: true, memberIds: [friend.id] }), 403, "guest_not_allowed");
    expect(await chatsBy()).toBe(0);

    const group = await createGroup(g, [friend]);
    expect(group).toMatchObject({ isPublic: false, role: "owner" });
    const direct = await create({ type: "direct", memberIds: [friend.id] });
    expect(direct.status, direct.text).toBe(201);
    expectError(await api("PATCH", `${C}/${group.id}`, { token: g.accessToken, body: { isPublic: true } }), 403, "guest_not_allowed");
    expect(
      (await ok(await api("PATCH", `${C}/${group.id}`, { token: g.accessToken, body: { name: "Renamed", isPublic: false } }))).chat,
    ).toMatchObject({ name: "Renamed", isPublic: false });
    expect((await env.DB.prepare("SELECT is_public FROM chats WHERE id = ?").bind(group.id).first<any>()).is_public).toBe(0);

    // A regular admin of the guest's group may make it public.
    await ok(await api("PATCH", `${C}/${group.id}/members/${friend.id}`, { token: g.accessToken, body: { role: "admin" } }));
    expect((await ok(await api("PATCH", `${C}/${group.id}`, { token: friend.accessToken, body: { isPublic: true } }))).chat.isPublic).toBe(
      true,
    );
  });
});

describe("a guest becomes regular", () => {
  it("with a password, keeping its account, chats and sessions; then it may create channels", async () => {
    const g = await guest({ displayName: "Soon regular" });
    const friend = await signUp();
    const group = await createGroup(g, [friend]);
    expectError(
      await api("POST", "/api/v1/auth/set-password", { token: g.accessToken, body: { newPassword: "123" } }),
      400,
      "validation_failed",
    );
    expect((await userRow(g.id)).kind).toBe("guest"); // a refused password changes nothing
    expect((await api("POST", "/api/v1/auth/set-password", { token: g.accessToken, body: { newPassword: STRONG_PASSWORD } })).status).toBe(
      204,
    );
    expect(await userRow(g.id)).toMatchObject({ kind: "regular", display_name: "Soon regular", status: "active" });
    expect((await ok(await api("GET", "/api/v1/auth/me", { token: g.accessToken }))).user.kind).toBe("regular");
    expect((await ok(await api("GET", `${C}/${group.id}`, { token: g.accessToken }))).chat.role).toBe("owner");
    expect((await api("POST", C, { token: g.accessToken, body: { type: "channel", name: "Mine now" } })).status).toBe(201);
    expect((await logIn(g.username, STRONG_PASSWORD)).status).toBe(200);
  });

  it("with a verified email (the address set on the account some other way: no route adds one yet)", async () => {
    const g = await guest();
    const email = `${g.username}@example.com`;
    await env.DB.prepare("UPDATE users SET email = ? WHERE id = ?").bind(email, g.id).run();
    const verify = (code: string) =>
      api("POST", "/api/v1/auth/otp/verify", { token: g.accessToken, body: { purpose: "verify", identifier: email, code } });
    expect(
      (
        await api("POST", "/api/v1/auth/otp/send", {
          token: g.accessToken,
          body: { purpose: "verify", identifier: email, channel: "email" },
        })
      ).status,
    ).toBe(202);
    expectError(await verify("000000"), 400, "invalid_code");
    expect((await userRow(g.id)).kind).toBe("guest");
    expect((await verify(await latestCode(email, "otp.verify"))).status).toBe(204);
    expect(await userRow(g.id)).toMatchObject({ kind: "regular", email });
  });
});

describe("guests made by the app's backend", () => {
  async function usersKey(): Promise<string> {
    const boss = await signUp();
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(boss.id).run();
    const res = await api("POST", "/api/v1/admin/api-keys", {
      token: boss.accessToken,
      body: { name: "backend", scopes: ["users:write", "tokens:mint"] },
    });
    expect(res.status, res.text).toBe(201);
    return res.body.key;
  }
  const put = (key: string, externalId: string, body: unknown) =>
    api("PUT", `/api/v1/platform/users/${externalId}`, { body, headers: { authorization: `ApiKey ${key}` } });

  it('creates a guest with kind "guest"; repeats are fine while it is one, refused once it is not', async () => {
    const key = await usersKey();
    const ext = `guest-${crypto.randomUUID()}`;
    const created = await put(key, ext, { kind: "guest", displayName: "App guest" });
    expect(created.status, created.text).toBe(201);
    expect(created.body.user).toMatchObject({ kind: "guest", displayName: "App guest" });
    expect((await userRow(created.body.user.id)).last_seen_at).toBe((await userRow(created.body.user.id)).created_at);
    const again = await put(key, ext, { kind: "guest", bio: "hi" });
    expect(again.status, again.text).toBe(200);
    expect(again.body.user).toMatchObject({ kind: "guest", bio: "hi" });

    // The user gets a password through a minted session: regular from then on.
    const minted = await api("POST", `/api/v1/platform/users/${ext}/tokens`, { body: {}, headers: { authorization: `ApiKey ${key}` } });
    const token = minted.body.tokens.accessToken;
    expect((await api("POST", "/api/v1/auth/set-password", { token, body: { newPassword: STRONG_PASSWORD } })).status).toBe(204);
    expectError(await put(key, ext, { kind: "guest", bio: "changed" }), 400, "not_a_guest");
    expect(await userRow(created.body.user.id)).toMatchObject({ kind: "regular", bio: "hi" });
    expect((await put(key, ext, { bio: "changed" })).body.user).toMatchObject({ kind: "regular", bio: "changed" });
  });

  it("never makes an existing regular user a guest, and takes no other kind", async () => {
    const key = await usersKey();
    const ext = `regular-${crypto.randomUUID()}`;
    const created = await put(key, ext, { displayName: "Regular" });
    expect(created.body.user.kind).toBe("regular");
    expectError(await put(key, ext, { kind: "guest", displayName: "Changed" }), 400, "not_a_guest");
    expect((await userRow(created.body.user.id)).display_name).toBe("Regular");
    const fresh = `never-${crypto.randomUUID()}`;
    for (const kind of ["bot", "regular", "GUEST", 1]) expectError(await put(key, fresh, { kind }), 400, "validation_failed");
    expect(await count("SELECT count(*) AS n FROM users WHERE external_id = ?", fresh)).toBe(0);
  });
});

describe("guest expiry", () => {
  it("erases a guest unseen for 30 days like a deleted account: chats, media and stories too", async () => {
    const g = await guest({ displayName: "Leaving" });
    const [friend, member] = [await signUp(), await signUp()];
    const owned = await createGroup(g, [member]);
    const joined = await createGroup(friend, [g, member]);
    const direct = (await ok(await api("POST", C, { token: g.accessToken, body: { type: "direct", memberIds: [friend.id] } }), 201)).chat;
    const avatar = await avatarFor(g);
    await ok(await api("PATCH", "/api/v1/users/me", { token: g.accessToken, body: { avatarMediaId: avatar } }));
    const story = await postStory(g);
    const created = (await userRow(g.id)).created_at as number;

    await runCronAt(created + 29 * DAY); // not yet
    expect((await userRow(g.id)).status).toBe("active");

    await runCronAt(created + 30 * DAY + 60_000);
    const row = await userRow(g.id);
    expect(row).toMatchObject({ status: "deleted", username: `deleted:${g.id}`, display_name: "Deleted account", kind: "guest" });
    expect(row.last_seen_at).toBeNull();
    expect(await count("SELECT count(*) AS n FROM sessions WHERE user_id = ?", g.id)).toBe(0);
    expect((await api("GET", "/api/v1/users/me", { token: g.accessToken })).status).toBe(401);
    // Chats: the owned group passed on, the joined one left, the direct chat refuses new messages.
    const roles = await env.DB.prepare("SELECT chat_id, user_id, role FROM chat_members WHERE chat_id IN (?, ?, ?)")
      .bind(owned.id, joined.id, direct.id)
      .all<any>();
    expect(roles.results.filter((r) => r.user_id === g.id).map((r) => r.chat_id)).toEqual([direct.id]);
    expect(roles.results.find((r) => r.chat_id === owned.id && r.user_id === member.id)?.role).toBe("owner");
    await expectSendRefused(friend, direct.id, 403, "peer_deleted");
    // Media: the avatar is gone from D1 and R2; stories: expired at once.
    expect(await mediaRow(avatar)).toBeNull();
    expect(await storedObjects([avatar])).toBe(0);
    const storyRow = await env.DB.prepare("SELECT expires_at FROM stories WHERE id = ?").bind(story.id).first<any>();
    expect(storyRow === null || storyRow.expires_at <= created + 30 * DAY + 60_000).toBe(true);
  });

  it("keeps guests seen within 30 days, upgraded guests and regular accounts, however long unseen", async () => {
    const seen = await guest();
    const upgraded = await guest();
    const regular = await signUp();
    expect(
      (await api("POST", "/api/v1/auth/set-password", { token: upgraded.accessToken, body: { newPassword: STRONG_PASSWORD } })).status,
    ).toBe(204);
    const at = Date.now() + 90 * DAY;
    await env.DB.batch([
      env.DB.prepare("UPDATE users SET last_seen_at = ? WHERE id = ?").bind(at - 29 * DAY, seen.id),
      env.DB.prepare("UPDATE users SET last_seen_at = ? WHERE id IN (?, ?)").bind(at - 89 * DAY, upgraded.id, regular.id),
    ]);
    await runCronAt(at);
    for (const u of [seen, upgraded, regular]) expect((await userRow(u.id)).status, u.id).toBe("active");
    expect((await userRow(upgraded.id)).kind).toBe("regular");
  });

  it("works in bounded batches, longest unseen first, over one index range", async () => {
    const gs = [await guest(), await guest(), await guest()];
    const at = Date.now();
    // Far older than anything else in this file, so these are the first in line.
    await env.DB.batch(gs.map((g, i) => env.DB.prepare("UPDATE users SET last_seen_at = ? WHERE id = ?").bind(1_000 + i, g.id)));
    expect(await expireGuests(env, at, 2)).toEqual({ guests: 2, failed: 0 });
    expect(await Promise.all(gs.map(async (g) => (await userRow(g.id)).status))).toEqual(["deleted", "deleted", "active"]);
    expect((await expireGuests(env, at, 1)).guests).toBe(1);
    expect((await userRow(gs[2]!.id)).status).toBe("deleted");

    const details = (await queryPlan(expiredGuestsQuery(createDb(env.DB), at, 25))).join("\n");
    expect(details).toContain("users_kind_last_seen_idx");
    expect(details).not.toMatch(/SCAN users\b(?! USING)/);
    expect(details).not.toContain("TEMP B-TREE");
  });
});
