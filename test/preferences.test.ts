import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { hubFor } from "../src/hubs/client";
import type { UserHub } from "../src/hubs/user-hub";
import { createDirect, flush, send } from "./chat-helpers";
import { api, expectError, expectInvalid, STRONG_PASSWORD, signUp, type TestUser } from "./helpers";
import { openRealtime, secondDevice } from "./hub-helpers";
import { captureJobs, subscribe } from "./push-helpers";

/**
 * Preferences synced across a user's devices: one versioned document in D1, changed by PATCHes
 * that name the version they were made from (409 version_conflict otherwise, exactly one of two
 * concurrent writers wins), told to the other devices on the realtime socket and, for
 * notifications, to the hub that decides pushes.
 */

const PREFS = "/api/v1/users/me/preferences";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DEFAULTS = {
  version: 0,
  language: null,
  timeZone: null,
  theme: "system",
  notifications: { previews: true, direct: true, groups: true },
  client: {},
  updatedAt: null,
};

const getPrefs = (u: TestUser, token = u.accessToken) => api("GET", PREFS, { token });
const patchPrefs = (u: TestUser, body: unknown, token = u.accessToken) => api("PATCH", PREFS, { token, body });
const storedRow = (userId: string) =>
  env.DB.prepare("SELECT doc, version, updated_at FROM user_preferences WHERE user_id = ?")
    .bind(userId)
    .first<{ doc: string; version: number; updated_at: number }>();
const hubPushSettings = (userId: string) => runInDurableObject(hubFor(env, userId), (hub: UserHub) => hub.pushSettings());
/** The hub's stored copy of the notification settings, with the preferences version it came from. */
const hubStoredSettings = (userId: string) =>
  runInDurableObject(hubFor(env, userId), (_hub, state) =>
    JSON.parse(state.storage.sql.exec<{ settings: string }>("SELECT settings FROM push_settings").one().settings),
  );

afterEach(() => {
  vi.restoreAllMocks();
});

describe("GET /users/me/preferences", () => {
  it("answers the defaults at version 0 before anything was saved, and stores nothing", async () => {
    const u = await signUp();
    const res = await getPrefs(u);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual(DEFAULTS);
    expect(await storedRow(u.id)).toBeNull();
  });

  it("needs a token", async () => {
    expectError(await api("GET", PREFS), 401, "unauthorized");
    expectError(await api("PATCH", PREFS, { body: { version: 0, theme: "dark" } }), 401, "unauthorized");
  });

  it("shows notification settings an older hub kept before preferences existed", async () => {
    const u = await signUp();
    await runInDurableObject(hubFor(env, u.id), (hub: UserHub) => hub.updatePushSettings({ groups: false }));
    expect((await getPrefs(u)).body.notifications).toEqual({ previews: true, direct: true, groups: false });
  });
});

describe("PATCH /users/me/preferences", () => {
  it("applies a partial change, bumps the version by 1, stores it and answers the document", async () => {
    const u = await signUp();
    const res = await patchPrefs(u, { version: 0, language: "en-us", timeZone: "europe/paris", theme: "dark" });
    expect(res.status, res.text).toBe(200);
    const expected = {
      ...DEFAULTS,
      version: 1,
      language: "en-US",
      timeZone: "Europe/Paris",
      theme: "dark",
      updatedAt: expect.stringMatching(ISO_RE),
    };
    expect(res.body).toEqual(expected);
    expect((await getPrefs(u)).body).toEqual(res.body);
    const row = (await storedRow(u.id))!;
    expect(row.version).toBe(1);
    expect(new Date(row.updated_at).toISOString()).toBe(res.body.updatedAt);
    expect(JSON.parse(row.doc)).toEqual({
      language: "en-US",
      timeZone: "Europe/Paris",
      theme: "dark",
      notifications: DEFAULTS.notifications,
      client: {},
    });

    // Notifications merge; client is replaced as a whole; null clears language and time zone.
    await patchPrefs(u, { version: 1, notifications: { groups: false }, client: { fontSize: 14, sidebar: { open: true } } });
    const next = await patchPrefs(u, { version: 2, notifications: { previews: false }, client: { compact: true }, language: null });
    expect(next.body).toEqual({
      version: 3,
      language: null,
      timeZone: "Europe/Paris",
      theme: "dark",
      notifications: { previews: false, direct: true, groups: false },
      client: { compact: true },
      updatedAt: expect.stringMatching(ISO_RE),
    });
    expect((await storedRow(u.id))!.version).toBe(3);
  });

  it("answers 409 version_conflict with the whole current document for a stale version, and changes nothing", async () => {
    const u = await signUp();
    const first = (await patchPrefs(u, { version: 0, theme: "light", client: { a: 1 } })).body;
    const rowBefore = await storedRow(u.id);
    for (const version of [0, 2, 99]) {
      const conflict = expectError(await patchPrefs(u, { version, theme: "dark" }), 409, "version_conflict");
      expect(conflict.details).toEqual({ current: first });
    }
    expect(await storedRow(u.id)).toEqual(rowBefore);
    // Before the first save, only version 0 applies.
    const fresh = await signUp();
    expect(expectError(await patchPrefs(fresh, { version: 1, theme: "dark" }), 409, "version_conflict").details).toEqual({
      current: DEFAULTS,
    });
    expect(await storedRow(fresh.id)).toBeNull();
  });

  it("lets exactly one of two concurrent PATCHes from the same version win, before and after the first save", async () => {
    const u = await signUp();
    for (const version of [0, 1]) {
      const results = await Promise.all([
        patchPrefs(u, { version, theme: "dark", client: { by: "phone" } }),
        patchPrefs(u, { version, theme: "light", client: { by: "laptop" } }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      const winner = results.find((r) => r.status === 200)!.body;
      const loser = expectError(results.find((r) => r.status === 409)!, 409, "version_conflict");
      expect(winner.version).toBe(version + 1);
      expect(loser.details.current).toEqual(winner);
      const row = (await storedRow(u.id))!;
      expect(row.version).toBe(version + 1);
      expect(JSON.parse(row.doc).client).toEqual(winner.client);
    }
  });

  it("refuses bad input with 400 naming the field, and stores nothing", async () => {
    const u = await signUp();
    const cases: [unknown, string][] = [
      [{ theme: "dark" }, "body.version"],
      [{ version: -1, theme: "dark" }, "body.version"],
      [{ version: 0.5, theme: "dark" }, "body.version"],
      [{ version: "0", theme: "dark" }, "body.version"],
      [{ version: 0 }, "body"],
      [{ version: 0, theme: "blue" }, "body.theme"],
      [{ version: 0, language: "en_US" }, "body.language"],
      [{ version: 0, language: "not a tag" }, "body.language"],
      [{ version: 0, language: "" }, "body.language"],
      [{ version: 0, timeZone: "Mars/Olympus_Mons" }, "body.timeZone"],
      [{ version: 0, timeZone: "+02:00" }, "body.timeZone"],
      [{ version: 0, notifications: {} }, "body.notifications"],
      [{ version: 0, notifications: { previews: "no" } }, "body.notifications.previews"],
      [{ version: 0, notifications: { loud: true } }, "body.notifications"],
      [{ version: 0, client: [1, 2] }, "body.client"],
      [{ version: 0, client: null }, "body.client"],
      [{ version: 0, client: { blob: "x".repeat(4096) } }, "body.client"],
      [{ version: 0, updatedAt: "2030-01-01T00:00:00.000Z" }, "body"],
    ];
    for (const [body, path] of cases) expectInvalid(await patchPrefs(u, body), path);
    expect(await storedRow(u.id)).toBeNull();
    expect((await getPrefs(u)).body).toEqual(DEFAULTS);
    // The largest client object that fits is taken.
    const client = { blob: "x".repeat(4096 - JSON.stringify({ blob: "" }).length) };
    expect((await patchPrefs(u, { version: 0, client })).body.client).toEqual(client);
  });

  it("go with the account when it is deleted", async () => {
    const u = await signUp();
    await patchPrefs(u, { version: 0, language: "de-DE", client: { tips: false } });
    expect((await api("DELETE", "/api/v1/users/me", { token: u.accessToken, body: { password: STRONG_PASSWORD } })).status).toBe(204);
    expect(await storedRow(u.id)).toBeNull();
  });

  it("is per user: one user's change leaves another's alone", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    await patchPrefs(a, { version: 0, theme: "dark" });
    expect((await getPrefs(b)).body).toEqual(DEFAULTS);
    expect(await storedRow(b.id)).toBeNull();
  });
});

describe("after a change", () => {
  it("tells my other devices on their realtime sockets", async () => {
    const u = await signUp();
    const phone = await secondDevice(u);
    const { socket } = await openRealtime(phone.tokens.accessToken);
    expect((await patchPrefs(u, { version: 0, theme: "dark" })).status).toBe(200);
    const frame = await socket.next("preferences.updated");
    expect(frame).toEqual({
      type: "preferences.updated",
      version: 1,
      updateSeq: expect.any(Number),
      createdAt: expect.stringMatching(ISO_RE),
    });
    expect((await getPrefs(u, phone.tokens.accessToken)).body.theme).toBe("dark");
    socket.close();
  });

  it("gives the hub the new notification settings (only when they changed), so pushes follow them", async () => {
    const [alice, bob] = await Promise.all([signUp({ displayName: "Alice" }), signUp()]);
    const chat = await createDirect(alice, bob);
    await subscribe(bob);
    const jobs = await captureJobs(bob.id);

    await send(alice, chat.id, "with preview");
    await flush(chat.id);
    expect(jobs.splice(0)).toEqual([expect.objectContaining({ senderId: alice.id, text: "with preview" })]);

    await patchPrefs(bob, { version: 0, notifications: { previews: false } });
    expect(await hubPushSettings(bob.id)).toEqual({ previews: false, direct: true, groups: true });
    await send(alice, chat.id, "no preview now");
    await flush(chat.id);
    expect(jobs.splice(0)).toEqual([expect.objectContaining({ senderId: null, text: null })]);

    // A change that leaves notifications as they are does not call the hub.
    expect(await hubStoredSettings(bob.id)).toEqual({ previews: false, direct: true, groups: true, version: 1 });
    await patchPrefs(bob, { version: 1, theme: "dark", notifications: { previews: false } });
    expect(await hubStoredSettings(bob.id)).toEqual({ previews: false, direct: true, groups: true, version: 1 });

    await patchPrefs(bob, { version: 2, notifications: { direct: false } });
    await send(alice, chat.id, "direct chats are off");
    await flush(chat.id);
    expect(jobs).toEqual([]);
  });

  it("the hub ignores notification settings older than the ones it holds", async () => {
    const u = await signUp();
    const hub = hubFor(env, u.id);
    await hub.updatePushSettings({ previews: false, direct: true, groups: true }, 5);
    expect(await hub.updatePushSettings({ previews: true, direct: true, groups: true }, 4)).toEqual({
      previews: false,
      direct: true,
      groups: true,
    });
    expect(await hubPushSettings(u.id)).toEqual({ previews: false, direct: true, groups: true });
    await hub.updatePushSettings({ previews: true, direct: false, groups: true }, 6);
    expect(await hubPushSettings(u.id)).toEqual({ previews: true, direct: false, groups: true });
  });
});

describe("hostile input", () => {
  it("a body nested 50,000 deep is refused with 400 and stores nothing, for preferences and profile metadata", async () => {
    const u = await signUp();
    const deep = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;
    const json = { "content-type": "application/json" };
    const prefs = await api("PATCH", "/api/v1/users/me/preferences", {
      token: u.accessToken,
      raw: `{"version":0,"client":{"a":${deep}}}`,
      headers: json,
    });
    expectError(prefs, 400, "validation_failed");
    const meta = await api("PATCH", "/api/v1/users/me", { token: u.accessToken, raw: `{"metadata":{"a":${deep}}}`, headers: json });
    expectError(meta, 400, "validation_failed");
    const stored = await env.DB.prepare("SELECT metadata FROM users WHERE id = ?").bind(u.id).first<{ metadata: string | null }>();
    expect(stored!.metadata).toBeNull();
    expect((await api("GET", "/api/v1/users/me/preferences", { token: u.accessToken })).body.version).toBe(0);
  });
});
