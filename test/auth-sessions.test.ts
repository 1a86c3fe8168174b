import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectError, logIn, signUp, type TestUser, uniqueIp, uniqueName } from "./helpers";

const AUTH = "/api/v1/auth";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const IPHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const WINDOWS_CHROME_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const NEW_PASSWORD = "amber-quartz-51-meadow-kite";

interface Session {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  deviceId: string;
}

interface LoginOptions {
  password?: string;
  deviceId?: string;
  deviceName?: string;
  ip?: string;
  headers?: Record<string, string>;
}

/** Another sign-in of `u` (a new session); asserts it succeeded. */
async function login(u: TestUser, o: LoginOptions = {}): Promise<Session> {
  const body: Record<string, unknown> = { identifier: u.username, password: o.password ?? u.password };
  if (o.deviceId) body.deviceId = o.deviceId;
  if (o.deviceName) body.deviceName = o.deviceName;
  const res = await api("POST", `${AUTH}/login`, { body, ip: o.ip, headers: o.headers });
  expect(res.status, res.text).toBe(200);
  expect(res.body.user.id).toBe(u.id);
  return {
    accessToken: res.body.tokens.accessToken,
    refreshToken: res.body.tokens.refreshToken,
    sessionId: res.body.session.id,
    deviceId: res.body.session.deviceId,
  };
}

const me = (token: string) => api("GET", `${AUTH}/me`, { token });
const refresh = (refreshToken: string) => api("POST", `${AUTH}/refresh`, { body: { refreshToken } });

async function listSessions(token: string): Promise<any[]> {
  const res = await api("GET", `${AUTH}/sessions`, { token });
  expect(res.status, res.text).toBe(200);
  expect(Array.isArray(res.body.items)).toBe(true);
  return res.body.items;
}

async function listDevices(token: string): Promise<any[]> {
  const res = await api("GET", `${AUTH}/devices`, { token });
  expect(res.status, res.text).toBe(200);
  expect(Array.isArray(res.body.items)).toBe(true);
  return res.body.items;
}

async function expectAlive(token: string, userId: string) {
  const res = await me(token);
  expect(res.status, res.text).toBe(200);
  expect(res.body.user.id).toBe(userId);
}

async function expectRevoked(s: Pick<Session, "accessToken" | "refreshToken">) {
  expectError(await me(s.accessToken), 401, "session_revoked");
  const r = await refresh(s.refreshToken);
  expectError(r, 401, "session_revoked");
  expect(r.body.tokens).toBeUndefined();
}

async function sessionRow(id: string) {
  return env.DB.prepare("SELECT revoked_at, revoked_reason FROM sessions WHERE id = ?")
    .bind(id)
    .first<{ revoked_at: number | null; revoked_reason: string | null }>();
}

const asSession = (u: TestUser): Session => ({
  accessToken: u.accessToken,
  refreshToken: u.refreshToken,
  sessionId: u.sessionId,
  deviceId: u.deviceId,
});

describe("GET /sessions", () => {
  it("lists live sessions with their details; current only on the caller's", async () => {
    const u = await signUp();
    const phone = await login(u, {
      deviceId: "phone-1",
      deviceName: "Ana's iPhone",
      ip: "203.0.113.7",
      headers: { "cf-ipcountry": "DE", "user-agent": IPHONE_UA },
    });

    const items = await listSessions(phone.accessToken);
    expect(items.map((s) => s.id).sort()).toEqual([u.sessionId, phone.sessionId].sort());
    expect(items.filter((s) => s.current).map((s) => s.id)).toEqual([phone.sessionId]);

    const mine = items.find((s) => s.id === phone.sessionId);
    expect(mine).toEqual({
      id: phone.sessionId,
      deviceId: "phone-1",
      deviceName: "Ana's iPhone",
      ip: "203.0.113.7",
      country: "DE",
      userAgent: IPHONE_UA,
      createdAt: expect.stringMatching(ISO_RE),
      lastUsedAt: expect.stringMatching(ISO_RE),
      current: true,
    });
    expect(Date.parse(mine.lastUsedAt)).toBeGreaterThanOrEqual(Date.parse(mine.createdAt));
    expect(Math.abs(Date.parse(mine.createdAt) - Date.now())).toBeLessThan(60_000);

    const first = items.find((s) => s.id === u.sessionId);
    expect(first.current).toBe(false);
    expect(first.deviceId).toBe(u.deviceId);
    expect(first.country).toBeNull();
    // No secrets in the listing.
    const text = JSON.stringify(items);
    for (const secret of [u.refreshToken, phone.refreshToken, u.accessToken, phone.accessToken]) {
      expect(text).not.toContain(secret);
    }

    // Seen from the other session, "current" moves.
    const fromFirst = await listSessions(u.accessToken);
    expect(fromFirst.filter((s) => s.current).map((s) => s.id)).toEqual([u.sessionId]);
  });

  it("orders by last use, most recent first", async () => {
    const u = await signUp();
    const second = await login(u);
    await env.DB.prepare("UPDATE sessions SET last_used_at = ? WHERE id = ?")
      .bind(Date.now() - 3_600_000, u.sessionId)
      .run();
    const items = await listSessions(second.accessToken);
    expect(items.map((s) => s.id)).toEqual([second.sessionId, u.sessionId]);
  });

  it("leaves out ended and expired sessions", async () => {
    const u = await signUp();
    const ended = await login(u);
    const expired = await login(u);
    expect((await api("POST", `${AUTH}/logout`, { token: ended.accessToken })).status).toBe(204);
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1000, expired.sessionId)
      .run();
    const items = await listSessions(u.accessToken);
    expect(items.map((s) => s.id)).toEqual([u.sessionId]);
  });

  it("never shows one user's sessions to another", async () => {
    const a = await signUp();
    const a2 = await login(a, { deviceId: "a-device" });
    const b = await signUp();
    const itemsB = await listSessions(b.accessToken);
    expect(itemsB.map((s) => s.id)).toEqual([b.sessionId]);
    expect(itemsB[0].current).toBe(true);
    const itemsA = await listSessions(a2.accessToken);
    expect(itemsA.map((s) => s.id).sort()).toEqual([a.sessionId, a2.sessionId].sort());
    expect(itemsA.map((s) => s.id)).not.toContain(b.sessionId);
  });

  it("requires a token", async () => {
    expectError(await api("GET", `${AUTH}/sessions`), 401, "unauthorized");
  });
});

describe("DELETE /sessions/:id", () => {
  it("ends that session: its tokens stop working and it leaves the list", async () => {
    const u = await signUp();
    const other = await login(u, { deviceId: "tablet-1" });
    expect((await listSessions(u.accessToken)).map((s) => s.id)).toContain(other.sessionId);

    const res = await api("DELETE", `${AUTH}/sessions/${other.sessionId}`, { token: u.accessToken });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");

    await expectRevoked(other);
    expect((await listSessions(u.accessToken)).map((s) => s.id)).toEqual([u.sessionId]);
    expect(await sessionRow(other.sessionId)).toEqual({ revoked_at: expect.any(Number), revoked_reason: "ended_by_user" });
    await expectAlive(u.accessToken, u.id);

    // Already ended: not found the second time.
    expectError(await api("DELETE", `${AUTH}/sessions/${other.sessionId}`, { token: u.accessToken }), 404, "not_found");
  });

  it("another user's session id → 404 not_found, and that session keeps working (BOLA)", async () => {
    const a = await signUp();
    const b = await signUp();
    const res = await api("DELETE", `${AUTH}/sessions/${b.sessionId}`, { token: a.accessToken });
    const err = expectError(res, 404, "not_found");
    expect(err.message).not.toContain(b.sessionId);

    expect(await sessionRow(b.sessionId)).toEqual({ revoked_at: null, revoked_reason: null });
    await expectAlive(b.accessToken, b.id);
    expect((await listSessions(b.accessToken)).map((s) => s.id)).toEqual([b.sessionId]);
    const r = await refresh(b.refreshToken);
    expect(r.status, r.text).toBe(200);
    // And the caller's own session was not ended instead.
    await expectAlive(a.accessToken, a.id);
  });

  it("an unknown uuid → 404 not_found", async () => {
    const u = await signUp();
    expectError(await api("DELETE", `${AUTH}/sessions/${crypto.randomUUID()}`, { token: u.accessToken }), 404, "not_found");
  });

  it("a non-uuid id → 400 validation_failed", async () => {
    const u = await signUp();
    const err = expectError(await api("DELETE", `${AUTH}/sessions/not-a-uuid`, { token: u.accessToken }), 400, "validation_failed");
    expect(err.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "params.id" })]));
    await expectAlive(u.accessToken, u.id);
  });

  it("requires a token", async () => {
    const u = await signUp();
    expectError(await api("DELETE", `${AUTH}/sessions/${u.sessionId}`), 401, "unauthorized");
    await expectAlive(u.accessToken, u.id);
  });
});

describe("POST /sessions/revoke-all", () => {
  it("ends every other session of the caller, keeps the current one, touches no one else", async () => {
    const u = await signUp();
    const s2 = await login(u, { deviceId: "dev-2" });
    const s3 = await login(u, { deviceId: "dev-3" });
    const stranger = await signUp();

    const res = await api("POST", `${AUTH}/sessions/revoke-all`, { token: s2.accessToken });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");

    await expectRevoked(asSession(u));
    await expectRevoked(s3);
    await expectAlive(s2.accessToken, u.id);
    const items = await listSessions(s2.accessToken);
    expect(items.map((s) => ({ id: s.id, current: s.current }))).toEqual([{ id: s2.sessionId, current: true }]);
    const r = await refresh(s2.refreshToken);
    expect(r.status, r.text).toBe(200);

    await expectAlive(stranger.accessToken, stranger.id);
  });

  it("requires a token", async () => {
    expectError(await api("POST", `${AUTH}/sessions/revoke-all`), 401, "unauthorized");
  });
});

describe("POST /logout", () => {
  it("→ 204; the token then gets 401 session_revoked, the refresh token too; other sessions live on", async () => {
    const u = await signUp();
    const other = await login(u);
    await expectAlive(u.accessToken, u.id);

    const res = await api("POST", `${AUTH}/logout`, { token: u.accessToken });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");

    const err = expectError(await me(u.accessToken), 401, "session_revoked");
    expect(err.message).toMatch(/sign in again/i);
    await expectRevoked(asSession(u));
    expect(await sessionRow(u.sessionId)).toEqual({ revoked_at: expect.any(Number), revoked_reason: "logout" });

    await expectAlive(other.accessToken, u.id);
    expect((await listSessions(other.accessToken)).map((s) => s.id)).toEqual([other.sessionId]);
    // Logging out twice with the same token is refused as revoked.
    expectError(await api("POST", `${AUTH}/logout`, { token: u.accessToken }), 401, "session_revoked");
  });

  it("requires a token", async () => {
    expectError(await api("POST", `${AUTH}/logout`), 401, "unauthorized");
  });
});

describe("POST /change-password", () => {
  const change = (token: string, body: unknown) => api("POST", `${AUTH}/change-password`, { token, body });

  it("→ 204; ends all other sessions but not the current; only the new password signs in", async () => {
    const u = await signUp();
    const other = await login(u);

    const res = await change(u.accessToken, { currentPassword: u.password, newPassword: NEW_PASSWORD });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");

    await expectRevoked(other);
    expect(await sessionRow(other.sessionId)).toEqual({ revoked_at: expect.any(Number), revoked_reason: "password_changed" });
    await expectAlive(u.accessToken, u.id);
    expect((await listSessions(u.accessToken)).map((s) => s.id)).toEqual([u.sessionId]);
    const r = await refresh(u.refreshToken);
    expect(r.status, r.text).toBe(200);

    expectError(await logIn(u.username, u.password), 401, "invalid_credentials");
    const fresh = await logIn(u.username, NEW_PASSWORD);
    expect(fresh.status, fresh.text).toBe(200);
    expect(fresh.body.user.id).toBe(u.id);
  });

  it("wrong current password → 403 invalid_password; nothing changes", async () => {
    const u = await signUp();
    const other = await login(u);
    const err = expectError(
      await change(u.accessToken, { currentPassword: "definitely-not-it-42", newPassword: NEW_PASSWORD }),
      403,
      "invalid_password",
    );
    expect(err.message).not.toContain("definitely-not-it-42");
    await expectAlive(other.accessToken, u.id);
    await login(u); // old password still works
    expectError(await logIn(u.username, NEW_PASSWORD), 401, "invalid_credentials");
  });

  it("weak new password → 400 weak_password; nothing changes", async () => {
    const u = await signUp();
    const other = await login(u);
    for (const weak of ["password123", "qwertyuiop", `${u.username}1`]) {
      const err = expectError(await change(u.accessToken, { currentPassword: u.password, newPassword: weak }), 400, "weak_password");
      expect(err.message).toMatch(/password/i);
    }
    await expectAlive(other.accessToken, u.id);
    await login(u);
  });

  it("same password → 400 password_unchanged; nothing changes", async () => {
    const u = await signUp();
    const other = await login(u);
    expectError(await change(u.accessToken, { currentPassword: u.password, newPassword: u.password }), 400, "password_unchanged");
    await expectAlive(other.accessToken, u.id);
    await login(u);
  });

  it("bad input → 400 validation_failed with details", async () => {
    const u = await signUp();
    const missing = expectError(await change(u.accessToken, { currentPassword: u.password }), 400, "validation_failed");
    expect(missing.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "body.newPassword" })]));
    const short = expectError(await change(u.accessToken, { currentPassword: u.password, newPassword: "short" }), 400, "validation_failed");
    expect(short.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "body.newPassword", code: "too_small" })]));
    const extra = expectError(
      await change(u.accessToken, { currentPassword: u.password, newPassword: NEW_PASSWORD, userId: "someone" }),
      400,
      "validation_failed",
    );
    expect(extra.details).toEqual(expect.arrayContaining([expect.objectContaining({ code: "unrecognized_keys" })]));
    await login(u); // unchanged
  });

  it("requires a token", async () => {
    const u = await signUp();
    expectError(
      await api("POST", `${AUTH}/change-password`, { body: { currentPassword: u.password, newPassword: NEW_PASSWORD } }),
      401,
      "unauthorized",
    );
    await login(u);
  });
});

describe("GET /devices", () => {
  it("records the device of a sign-in with a platform parsed from the user agent", async () => {
    const res = await api("POST", `${AUTH}/register`, {
      body: { username: uniqueName(), password: "violet-harbor-73-lantern", deviceId: "iphone-abc", deviceName: "Ana's iPhone" },
      ip: "198.51.100.23",
      headers: { "user-agent": IPHONE_UA, "cf-ipcountry": "PT" },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.session.deviceId).toBe("iphone-abc");
    expect(res.body.session.deviceName).toBe("Ana's iPhone");

    const items = await listDevices(res.body.tokens.accessToken);
    expect(items).toEqual([
      {
        id: "iphone-abc",
        name: "Ana's iPhone",
        platform: expect.stringContaining("iOS"),
        trusted: false,
        blocked: false,
        firstSeenAt: expect.stringMatching(ISO_RE),
        lastSeenAt: expect.stringMatching(ISO_RE),
        lastIp: "198.51.100.23",
        lastCountry: "PT",
      },
    ]);
    expect(items[0].platform).toContain("Safari");
  });

  it("the same deviceId again updates the device; another deviceId adds one", async () => {
    const username = uniqueName();
    const reg = await api("POST", `${AUTH}/register`, {
      body: { username, password: "violet-harbor-73-lantern", deviceId: "iphone-abc", deviceName: "Ana's iPhone" },
      headers: { "user-agent": IPHONE_UA },
    });
    expect(reg.status, reg.text).toBe(201);
    const u: TestUser = {
      id: reg.body.user.id,
      username,
      password: "violet-harbor-73-lantern",
      accessToken: reg.body.tokens.accessToken,
      refreshToken: reg.body.tokens.refreshToken,
      sessionId: reg.body.session.id,
      deviceId: reg.body.session.deviceId,
    };
    const [initial] = await listDevices(u.accessToken);

    // Make "earlier" unambiguous without waiting: move the device's last sighting an hour back.
    const hourAgo = Date.now() - 3_600_000;
    const moved = await env.DB.prepare("UPDATE user_devices SET last_seen_at = ? WHERE user_id = ? AND id = ?")
      .bind(hourAgo, u.id, "iphone-abc")
      .run();
    expect(moved.meta.changes).toBe(1);

    const again = await login(u, { deviceId: "iphone-abc", ip: "192.0.2.44", headers: { "user-agent": IPHONE_UA, "cf-ipcountry": "FR" } });
    expect(again.deviceId).toBe("iphone-abc");
    const afterSame = await listDevices(again.accessToken);
    expect(afterSame).toHaveLength(1);
    expect(afterSame[0].id).toBe("iphone-abc");
    expect(afterSame[0].name).toBe("Ana's iPhone"); // kept when the sign-in sends no name
    expect(afterSame[0].firstSeenAt).toBe(initial.firstSeenAt);
    expect(Date.parse(afterSame[0].lastSeenAt)).toBeGreaterThan(hourAgo);
    expect(Date.parse(afterSame[0].lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(initial.lastSeenAt));
    expect(afterSame[0].lastIp).toBe("192.0.2.44");
    expect(afterSame[0].lastCountry).toBe("FR");

    // Both sessions name the one device.
    const sessions = await listSessions(again.accessToken);
    expect(sessions).toHaveLength(2);
    expect(sessions.every((s) => s.deviceId === "iphone-abc")).toBe(true);

    const laptop = await login(u, { deviceId: "laptop-1", deviceName: "Work laptop", headers: { "user-agent": WINDOWS_CHROME_UA } });
    const afterOther = await listDevices(laptop.accessToken);
    expect(afterOther.map((d) => d.id).sort()).toEqual(["iphone-abc", "laptop-1"]);
    const pc = afterOther.find((d) => d.id === "laptop-1");
    expect(pc.name).toBe("Work laptop");
    expect(pc.platform).toContain("Windows");
    expect(pc.platform).toContain("Chrome");
  });

  it("without a deviceId a device id is generated; without a user agent the platform is null", async () => {
    const u = await signUp();
    expect(u.deviceId).toMatch(/^[0-9a-f-]{36}$/);
    const items = await listDevices(u.accessToken);
    expect(items).toHaveLength(1);
    expect(items[0].id).toBe(u.deviceId);
    expect(items[0].platform).toBeNull();
    expect(items[0].name).toBeNull();
  });

  it("an invalid deviceId → 400 validation_failed", async () => {
    const u = await signUp();
    const res = await api("POST", `${AUTH}/login`, {
      body: { identifier: u.username, password: u.password, deviceId: "has spaces/slash" },
    });
    const err = expectError(res, 400, "validation_failed");
    expect(err.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "body.deviceId" })]));
    expect(await listDevices(u.accessToken)).toHaveLength(1);
  });

  it("devices are per account: one user's devices never appear for another, even with the same deviceId", async () => {
    const a = await signUp({ deviceId: "shared-id", deviceName: "A's phone" });
    const b = await signUp({ deviceId: "shared-id", deviceName: "B's phone" });
    await login(a, { deviceId: "a-only", ip: uniqueIp() });

    const devicesA = await listDevices(a.accessToken);
    expect(devicesA.map((d) => d.id).sort()).toEqual(["a-only", "shared-id"]);
    expect(devicesA.find((d) => d.id === "shared-id").name).toBe("A's phone");

    const devicesB = await listDevices(b.accessToken);
    expect(devicesB).toHaveLength(1);
    expect(devicesB[0]).toMatchObject({ id: "shared-id", name: "B's phone" });
  });

  it("requires a token", async () => {
    expectError(await api("GET", `${AUTH}/devices`), 401, "unauthorized");
  });
});
