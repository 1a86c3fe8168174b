import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectError, logIn, signUp, type TestUser, uniqueName } from "./helpers";

const AUTH = "/api/v1/auth";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15";

interface From {
  deviceId?: string;
  country?: string;
  ip?: string;
}

const headersOf = (f: From): Record<string, string> => ({ "user-agent": UA, ...(f.country ? { "cf-ipcountry": f.country } : {}) });

/** Sign `u` in again; asserts success and returns the response body. */
async function login(u: TestUser, from: From = {}) {
  const body: Record<string, unknown> = { identifier: u.username, password: u.password };
  if (from.deviceId) body.deviceId = from.deviceId;
  const res = await api("POST", `${AUTH}/login`, { body, ip: from.ip, headers: headersOf(from) });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** Register with an email (and optionally a phone) from a device and country. */
async function register(from: From & { email?: boolean; phone?: string } = {}): Promise<TestUser & { newDevice: boolean }> {
  const username = uniqueName();
  const body: Record<string, unknown> = { username, password: "violet-harbor-73-lantern", deviceId: from.deviceId ?? "first-device" };
  if (from.email !== false) body.email = `${username}@example.com`;
  if (from.phone) body.phone = from.phone;
  const res = await api("POST", `${AUTH}/register`, { body, ip: from.ip, headers: headersOf(from) });
  expect(res.status, res.text).toBe(201);
  return {
    id: res.body.user.id,
    username,
    password: "violet-harbor-73-lantern",
    email: res.body.user.email ?? undefined,
    phone: res.body.user.phone ?? undefined,
    accessToken: res.body.tokens.accessToken,
    refreshToken: res.body.tokens.refreshToken,
    sessionId: res.body.session.id,
    deviceId: res.body.session.deviceId,
    newDevice: res.body.newDevice,
  };
}

let phones = 0;
const uniquePhone = () => `+1415${String((Date.now() + ++phones) % 1e7).padStart(7, "0")}`;

const list = (token: string | undefined, query = "") => api("GET", `${AUTH}/security-events${query}`, { token });

async function events(token: string): Promise<any[]> {
  const res = await list(token, "?limit=100");
  expect(res.status, res.text).toBe(200);
  expect(res.body.nextCursor).toBeNull();
  return res.body.items;
}

const types = async (token: string) => (await events(token)).map((e) => e.type);

const verifyEmail = (userId: string) =>
  env.DB.prepare("UPDATE users SET email_verified_at = ? WHERE id = ?").bind(Date.now(), userId).run();
const verifyPhone = (userId: string) =>
  env.DB.prepare("UPDATE users SET phone_verified_at = ? WHERE id = ?").bind(Date.now(), userId).run();

/** What the development notifier captured for `recipient` (read from D1: the outbox route is built elsewhere). */
async function outbox(recipient: string) {
  const { results } = await env.DB.prepare("SELECT channel, kind, subject, body FROM dev_outbox WHERE recipient = ? ORDER BY id")
    .bind(recipient)
    .all<{ channel: string; kind: string; subject: string; body: string }>();
  return results;
}

describe("new-device sign-ins", () => {
  it("registration records account_created and answers newDevice: false; nothing is sent", async () => {
    const u = await register({ deviceId: "mac", country: "DE", ip: "203.0.113.1" });
    expect(u.newDevice).toBe(false);
    const [created, ...rest] = await events(u.accessToken);
    expect(rest).toEqual([]);
    expect(created).toEqual({
      id: expect.any(String),
      type: "account_created",
      deviceId: "mac",
      ip: "203.0.113.1",
      country: "DE",
      userAgent: UA,
      details: { method: "register", sessionId: u.sessionId, newDevice: false, newCountry: false },
      createdAt: expect.stringMatching(ISO_RE),
    });
    expect(await outbox(u.email!)).toEqual([]);
  });

  it("a login from a new device → newDevice: true, login_new_device, and an email when the email is verified", async () => {
    const u = await register({ deviceId: "mac", country: "DE" });
    await verifyEmail(u.id);

    const res = await login(u, { deviceId: "new-phone", country: "DE", ip: "198.51.100.77" });
    expect(res.newDevice).toBe(true);
    const [ev] = await events(u.accessToken);
    expect(ev).toMatchObject({
      type: "login_new_device",
      deviceId: "new-phone",
      ip: "198.51.100.77",
      country: "DE",
      userAgent: UA,
      details: { method: "password", sessionId: res.session.id, newDevice: true, newCountry: false },
    });

    const sent = await outbox(u.email!);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ channel: "email", kind: "security.new_device", subject: expect.stringMatching(/new sign-in/i) });
    expect(sent[0]!.body).toMatch(/new sign-in/i);
    expect(sent[0]!.body).toContain(`@${u.username}`);
    expect(sent[0]!.body).toContain("198.51.100.77");
    expect(sent[0]!.body).not.toContain(u.password);

    // The same device again is an ordinary login, and nothing more is sent.
    const again = await login(u, { deviceId: "new-phone", country: "DE" });
    expect(again.newDevice).toBe(false);
    expect((await types(u.accessToken)).slice(0, 3)).toEqual(["login", "login_new_device", "account_created"]);
    expect(await outbox(u.email!)).toHaveLength(1);
  });

  it("without a verified email or phone nothing is sent, but the event is recorded", async () => {
    const u = await register({ deviceId: "mac", phone: uniquePhone() });
    const res = await login(u, { deviceId: "stranger" });
    expect(res.newDevice).toBe(true);
    expect(await types(u.accessToken)).toEqual(["login_new_device", "account_created"]);
    expect(await outbox(u.email!)).toEqual([]);
    expect(await outbox(u.phone!)).toEqual([]);
  });

  it("with only a verified phone the notice goes by SMS", async () => {
    const u = await register({ deviceId: "mac", phone: uniquePhone() });
    await verifyPhone(u.id);
    await login(u, { deviceId: "stranger" });
    const sms = await outbox(u.phone!);
    expect(sms).toHaveLength(1);
    expect(sms[0]).toMatchObject({ channel: "sms", kind: "security.new_device" });
    expect(await outbox(u.email!)).toEqual([]);
  });

  it("a login without a deviceId counts as a new device", async () => {
    const u = await register({ deviceId: "mac" });
    const res = await login(u);
    expect(res.newDevice).toBe(true);
    const [ev] = await events(u.accessToken);
    expect(ev).toMatchObject({ type: "login_new_device", deviceId: res.session.deviceId });
  });
});

describe("new-country sign-ins", () => {
  it("a known device signing in from a new country → login_new_country and a notice", async () => {
    const u = await register({ deviceId: "mac", country: "DE" });
    await verifyEmail(u.id);
    expect((await login(u, { deviceId: "mac", country: "DE" })).newDevice).toBe(false);
    expect(await outbox(u.email!)).toEqual([]);

    const fr = await login(u, { deviceId: "mac", country: "FR", ip: "192.0.2.33" });
    expect(fr.newDevice).toBe(false);
    const [ev] = await events(u.accessToken);
    expect(ev).toMatchObject({
      type: "login_new_country",
      deviceId: "mac",
      country: "FR",
      ip: "192.0.2.33",
      details: { method: "password", sessionId: fr.session.id, newDevice: false, newCountry: true },
    });
    const sent = await outbox(u.email!);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ channel: "email", kind: "security.new_country" });
    expect(sent[0]!.body).toContain("FR");

    // FR is known now; an unknown country header (XX) compares with nothing.
    await login(u, { deviceId: "mac", country: "FR" });
    await login(u, { deviceId: "mac", country: "XX" });
    expect((await types(u.accessToken)).slice(0, 5)).toEqual(["login", "login", "login_new_country", "login", "account_created"]);
    expect(await outbox(u.email!)).toHaveLength(1);
  });

  it("a new device in a new country is one login_new_device event and one notice", async () => {
    const u = await register({ deviceId: "mac", country: "DE" });
    await verifyEmail(u.id);
    await login(u, { deviceId: "elsewhere", country: "BR" });
    const [ev] = await events(u.accessToken);
    expect(ev).toMatchObject({ type: "login_new_device", country: "BR", details: { newDevice: true, newCountry: true } });
    expect((await outbox(u.email!)).map((m) => m.kind)).toEqual(["security.new_device"]);
  });

  it("with no earlier sign-in from a known country, the first country is not 'new'", async () => {
    const u = await register({ deviceId: "mac" });
    await verifyEmail(u.id);
    await login(u, { deviceId: "mac", country: "DE" });
    expect((await types(u.accessToken))[0]).toBe("login");
    expect(await outbox(u.email!)).toEqual([]);
  });
});

describe("other recorded events", () => {
  it("a password change records password_changed with where it came from and how many sessions ended", async () => {
    const u = await signUp();
    await logIn(u.username);
    await logIn(u.username);
    const res = await api("POST", `${AUTH}/change-password`, {
      token: u.accessToken,
      ip: "2001:db8::abcd",
      headers: { "cf-ipcountry": "NL", "user-agent": "TestAgent/1.0" },
      body: { currentPassword: u.password, newPassword: "amber-quartz-51-meadow-kite" },
    });
    expect(res.status, res.text).toBe(204);
    const [ev] = await events(u.accessToken);
    expect(ev).toMatchObject({
      type: "password_changed",
      ip: "2001:db8::abcd",
      country: "NL",
      userAgent: "TestAgent/1.0",
      details: { otherSessionsEnded: 2 },
    });
  });

  it("a refused sign-in from a blocked device records login_blocked_device", async () => {
    const u = await signUp({ deviceId: "main" });
    await login(u, { deviceId: "lost-phone" });
    expect((await api("POST", `${AUTH}/devices/lost-phone/block`, { token: u.accessToken })).status).toBe(204);
    expectError(await logIn(u.username, u.password, { deviceId: "lost-phone" }), 403, "device_blocked");
    expect((await types(u.accessToken)).slice(0, 2)).toEqual(["login_blocked_device", "device_blocked"]);
  });
});

describe("GET /security-events", () => {
  /** A user with `n` device events after account_created (trust/untrust toggles: cheap, one event each). */
  async function userWithEvents(n: number) {
    const u = await signUp({ deviceId: "main" });
    for (let i = 0; i < n; i++) {
      const res = await api("POST", `${AUTH}/devices/main/${i % 2 === 0 ? "trust" : "untrust"}`, { token: u.accessToken });
      expect(res.status, res.text).toBe(204);
    }
    return u;
  }

  it("pages newest first across pages with no duplicates or gaps", async () => {
    const u = await userWithEvents(7);
    const all = await events(u.accessToken);
    expect(all).toHaveLength(8);
    expect(all.at(-1).type).toBe("account_created");
    // Newest first: the 7th toggle (a trust) leads.
    expect(all.slice(0, 7).map((e) => e.type)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => (i % 2 ? "device_untrusted" : "device_trusted")));
    const ids = all.map((e) => e.id);
    expect([...ids].sort().reverse()).toEqual(ids);

    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const res = await list(u.accessToken, `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(res.status, res.text).toBe(200);
      sizes.push(res.body.items.length);
      seen.push(...res.body.items.map((e: any) => e.id));
      cursor = res.body.nextCursor;
    } while (cursor && sizes.length < 10);
    expect(sizes).toEqual([3, 3, 2]);
    expect(seen).toEqual(ids);
  });

  it("an exact last page has nextCursor null; the default limit is 20", async () => {
    const u = await userWithEvents(3);
    const first = await list(u.accessToken, "?limit=2");
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await list(u.accessToken, `?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items).toHaveLength(2);
    expect(second.body.nextCursor).toBeNull();
    const all = await list(u.accessToken);
    expect(all.body.items).toHaveLength(4);
    expect(all.body.nextCursor).toBeNull();
  });

  it("shows only the caller's events, also with a cursor taken from another user's list", async () => {
    const a = await userWithEvents(3);
    const b = await userWithEvents(1);
    const aIds = (await events(a.accessToken)).map((e) => e.id);
    const bItems = await events(b.accessToken);
    expect(bItems.map((e) => e.type)).toEqual(["device_trusted", "account_created"]);
    expect(bItems.some((e) => aIds.includes(e.id))).toBe(false);

    const aPage = await list(a.accessToken, "?limit=1");
    const crossed = await list(b.accessToken, `?limit=100&cursor=${aPage.body.nextCursor}`);
    expect(crossed.status, crossed.text).toBe(200);
    expect(crossed.body.items.every((e: any) => !aIds.includes(e.id))).toBe(true);
  });

  it("a bad cursor → 400 invalid_cursor", async () => {
    const u = await signUp();
    for (const bad of ["not-a-cursor!", btoa("{}"), btoa('{"id":5}'), "e30"]) {
      expectError(await list(u.accessToken, `?cursor=${encodeURIComponent(bad)}`), 400, "invalid_cursor");
    }
  });

  it("a bad limit or an over-long cursor → 400 validation_failed", async () => {
    const u = await signUp();
    for (const q of ["?limit=0", "?limit=101", "?limit=abc", "?limit=2.5"]) {
      const err = expectError(await list(u.accessToken, q), 400, "validation_failed");
      expect(err.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "query.limit" })]));
    }
    const err = expectError(await list(u.accessToken, `?cursor=${"a".repeat(513)}`), 400, "validation_failed");
    expect(err.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "query.cursor" })]));
  });

  it("requires a token", async () => {
    expectError(await list(undefined), 401, "unauthorized");
  });

  it("a revoked session cannot read the log", async () => {
    const u = await signUp();
    expect((await api("POST", `${AUTH}/logout`, { token: u.accessToken })).status).toBe(204);
    expectError(await list(u.accessToken), 401, "session_revoked");
  });
});
