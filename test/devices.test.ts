import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectError, logIn, signUp, type TestUser } from "./helpers";

const AUTH = "/api/v1/auth";

interface Session {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

/** Another sign-in of `u` from `deviceId`; asserts it succeeded. */
async function login(u: TestUser, deviceId: string): Promise<Session> {
  const res = await logIn(u.username, u.password, { deviceId });
  expect(res.status, res.text).toBe(200);
  expect(res.body.session.deviceId).toBe(deviceId);
  return { accessToken: res.body.tokens.accessToken, refreshToken: res.body.tokens.refreshToken, sessionId: res.body.session.id };
}

type Action = "trust" | "untrust" | "block" | "unblock";
const act = (action: Action, id: string, token?: string, ip?: string) => api("POST", `${AUTH}/devices/${id}/${action}`, { token, ip });

async function devices(token: string): Promise<Record<string, any>> {
  const res = await api("GET", `${AUTH}/devices`, { token });
  expect(res.status, res.text).toBe(200);
  return Object.fromEntries(res.body.items.map((d: any) => [d.id, d]));
}

async function events(token: string): Promise<any[]> {
  const res = await api("GET", `${AUTH}/security-events?limit=100`, { token });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

const deviceEvents = async (token: string) => (await events(token)).filter((e) => e.type.startsWith("device_"));

async function expectAlive(s: Pick<Session, "accessToken">, userId: string) {
  const res = await api("GET", `${AUTH}/me`, { token: s.accessToken });
  expect(res.status, res.text).toBe(200);
  expect(res.body.user.id).toBe(userId);
}

async function expectEnded(s: Session) {
  expectError(await api("GET", `${AUTH}/me`, { token: s.accessToken }), 401, "session_revoked");
  const r = await api("POST", `${AUTH}/refresh`, { body: { refreshToken: s.refreshToken } });
  expectError(r, 401, "session_revoked");
  const row = await env.DB.prepare("SELECT revoked_at, revoked_reason FROM sessions WHERE id = ?").bind(s.sessionId).first();
  expect(row).toEqual({ revoked_at: expect.any(Number), revoked_reason: "device_blocked" });
}

/** Every bad-input, unauthenticated and cross-user case one device action must refuse. */
function refusals(action: Action) {
  describe(`POST /devices/:id/${action} refusals`, () => {
    it("a malformed device id → 400 validation_failed on params.id", async () => {
      const u = await signUp({ deviceId: "main" });
      for (const bad of ["bad%20id!", "a%2Fb", "x".repeat(129), "%C3%A9t%C3%A9"]) {
        const err = expectError(await act(action, bad, u.accessToken), 400, "validation_failed");
        expect(err.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "params.id" })]));
      }
      expect(await deviceEvents(u.accessToken)).toEqual([]);
    });

    it("no token → 401 unauthorized; a bad token → 401", async () => {
      const u = await signUp({ deviceId: "main" });
      await login(u, "phone");
      expectError(await act(action, "phone", undefined), 401, "unauthorized");
      expectError(await act(action, "phone", "not.a.jwt"), 401, "unauthorized");
      expect((await devices(u.accessToken)).phone).toMatchObject({ trusted: false, blocked: false });
    });

    it("an unknown device id → 404 not_found", async () => {
      const u = await signUp({ deviceId: "main" });
      expectError(await act(action, "never-seen", u.accessToken), 404, "not_found");
    });

    it("another user's device → 404 not_found, and it is left unchanged", async () => {
      const a = await signUp({ deviceId: "a-main" });
      const b = await signUp({ deviceId: "b-main" });
      const bPhone = await login(b, "b-phone");
      // Put B's device in the state the action would change, so a leak would show.
      if (action === "untrust") expect((await act("trust", "b-phone", b.accessToken)).status).toBe(204);
      if (action === "unblock") expect((await act("block", "b-phone", b.accessToken)).status).toBe(204);
      const before = (await devices(b.accessToken))["b-phone"];
      const eventsBefore = await events(b.accessToken);

      const err = expectError(await act(action, "b-phone", a.accessToken), 404, "not_found");
      expect(err.message).not.toContain("b-phone");

      expect((await devices(b.accessToken))["b-phone"]).toEqual(before);
      expect(await events(b.accessToken)).toEqual(eventsBefore);
      if (action !== "unblock") await expectAlive(bPhone, b.id);
      expect(await deviceEvents(a.accessToken)).toEqual([]);
    });
  });
}

describe("POST /devices/:id/block", () => {
  it("ends every live session on that device at once; other devices keep theirs", async () => {
    const u = await signUp({ deviceId: "laptop" });
    const phone1 = await login(u, "phone");
    const phone2 = await login(u, "phone");
    const tablet = await login(u, "tablet");
    expect((await act("trust", "phone", u.accessToken)).status).toBe(204);

    const res = await act("block", "phone", u.accessToken, "198.51.100.9");
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");

    await expectEnded(phone1);
    await expectEnded(phone2);
    await expectAlive(tablet, u.id);
    await expectAlive(u, u.id);
    const sessions = await api("GET", `${AUTH}/sessions`, { token: u.accessToken });
    expect(sessions.body.items.map((s: any) => s.id).sort()).toEqual([u.sessionId, tablet.sessionId].sort());

    const list = await devices(u.accessToken);
    expect(list.phone).toMatchObject({ id: "phone", blocked: true, trusted: false });
    expect(list.tablet).toMatchObject({ blocked: false });

    const [blocked, ...rest] = await deviceEvents(u.accessToken);
    expect(blocked).toMatchObject({ type: "device_blocked", deviceId: "phone", ip: "198.51.100.9", details: { sessionsEnded: 2 } });
    expect(rest.map((e) => e.type)).toEqual(["device_trusted"]);
  });

  it("a blocked device cannot sign in (403 device_blocked, recorded); unblocking lets it in again", async () => {
    const u = await signUp({ deviceId: "laptop" });
    await login(u, "phone");
    expect((await act("block", "phone", u.accessToken)).status).toBe(204);
    const sessionsBefore = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(u.id).first("n");

    const refused = await logIn(u.username, u.password, { deviceId: "phone" });
    const err = expectError(refused, 403, "device_blocked");
    expect(err.message).toMatch(/blocked/i);
    expect(refused.body.tokens).toBeUndefined();
    // A wrong password from it says nothing about the block.
    expectError(await logIn(u.username, "wrong-password-99", { deviceId: "phone" }), 401, "invalid_credentials");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE user_id = ?").bind(u.id).first("n")).toBe(sessionsBefore);
    const [attempt] = await events(u.accessToken);
    expect(attempt).toMatchObject({ type: "login_blocked_device", deviceId: "phone" });

    // Other devices still sign in.
    await login(u, "tablet");

    const res = await act("unblock", "phone", u.accessToken);
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");
    expect((await devices(u.accessToken)).phone).toMatchObject({ blocked: false, trusted: false });
    const again = await logIn(u.username, u.password, { deviceId: "phone" });
    expect(again.status, again.text).toBe(200);
    expect(again.body.newDevice).toBe(false);
    await expectAlive({ accessToken: again.body.tokens.accessToken }, u.id);
    expect((await deviceEvents(u.accessToken)).map((e) => [e.type, e.deviceId])).toEqual([
      ["device_unblocked", "phone"],
      ["device_blocked", "phone"],
    ]);
  });

  it("with 2FA on, a blocked device gets 403 device_blocked before any MFA challenge is issued", async () => {
    const u = await signUp({ deviceId: "laptop" });
    await login(u, "phone");
    expect((await act("block", "phone", u.accessToken)).status).toBe(204);
    await env.DB.prepare("UPDATE users SET totp_secret = ?, totp_enabled_at = ? WHERE id = ?")
      .bind("JBSWY3DPEHPK3PXP", Date.now(), u.id)
      .run();

    const refused = await logIn(u.username, u.password, { deviceId: "phone" });
    expectError(refused, 403, "device_blocked");
    expect(refused.body.mfaToken).toBeUndefined();
    const challenges = () => env.DB.prepare("SELECT count(*) AS n FROM mfa_challenges WHERE user_id = ?").bind(u.id).first("n");
    expect(await challenges()).toBe(0);

    const allowed = await logIn(u.username, u.password, { deviceId: "tablet" });
    expect(allowed.status, allowed.text).toBe(200);
    expect(allowed.body).toMatchObject({ mfaRequired: true, mfaToken: expect.any(String) });
    expect(await challenges()).toBe(1);
  });

  it("the device of the calling session → 400 cannot_block_current_device; nothing changes", async () => {
    const u = await signUp({ deviceId: "laptop" });
    const other = await login(u, "laptop");
    const err = expectError(await act("block", "laptop", u.accessToken), 400, "cannot_block_current_device");
    expect(err.message).toMatch(/another device/i);
    expect((await devices(u.accessToken)).laptop).toMatchObject({ blocked: false });
    await expectAlive(u, u.id);
    await expectAlive(other, u.id);
    expect(await deviceEvents(u.accessToken)).toEqual([]);
  });

  it("blocking a blocked device again → 204 and no second event", async () => {
    const u = await signUp({ deviceId: "laptop" });
    await login(u, "phone");
    expect((await act("block", "phone", u.accessToken)).status).toBe(204);
    expect((await act("block", "phone", u.accessToken)).status).toBe(204);
    expect((await deviceEvents(u.accessToken)).map((e) => e.type)).toEqual(["device_blocked"]);
  });

  it("only the caller's device of that id is blocked, not another account's device with the same id", async () => {
    const a = await signUp({ deviceId: "a-main" });
    const b = await signUp({ deviceId: "shared" });
    const aShared = await login(a, "shared");
    expect((await act("block", "shared", a.accessToken)).status).toBe(204);
    await expectEnded(aShared);
    await expectAlive(b, b.id);
    expect((await devices(b.accessToken)).shared).toMatchObject({ blocked: false });
    const bAgain = await logIn(b.username, b.password, { deviceId: "shared" });
    expect(bAgain.status, bAgain.text).toBe(200);
  });
});

describe("POST /devices/:id/unblock", () => {
  it("unblocking a device that is not blocked → 204 and no event", async () => {
    const u = await signUp({ deviceId: "laptop" });
    await login(u, "phone");
    expect((await act("unblock", "phone", u.accessToken)).status).toBe(204);
    expect(await deviceEvents(u.accessToken)).toEqual([]);
  });
});

describe("POST /devices/:id/trust and /untrust", () => {
  it("trust marks the device trusted once; untrust withdraws it; both are recorded once", async () => {
    const u = await signUp({ deviceId: "laptop" });
    await login(u, "phone");
    for (let i = 0; i < 2; i++) {
      const res = await act("trust", "phone", u.accessToken, "192.0.2.5");
      expect(res.status, res.text).toBe(204);
      expect(res.text).toBe("");
    }
    const list = await devices(u.accessToken);
    expect(list.phone).toMatchObject({ trusted: true, blocked: false });
    expect(list.laptop).toMatchObject({ trusted: false });

    expect((await act("untrust", "phone", u.accessToken)).status).toBe(204);
    expect((await act("untrust", "phone", u.accessToken)).status).toBe(204);
    expect((await devices(u.accessToken)).phone).toMatchObject({ trusted: false, blocked: false });

    const evs = await deviceEvents(u.accessToken);
    expect(evs.map((e) => [e.type, e.deviceId])).toEqual([
      ["device_untrusted", "phone"],
      ["device_trusted", "phone"],
    ]);
    expect(evs[1]).toMatchObject({ ip: "192.0.2.5", details: null });
  });

  it("the current device may be trusted", async () => {
    const u = await signUp({ deviceId: "laptop" });
    expect((await act("trust", "laptop", u.accessToken)).status).toBe(204);
    expect((await devices(u.accessToken)).laptop.trusted).toBe(true);
  });

  it("trusting a blocked device → 409 device_blocked; it stays blocked and untrusted", async () => {
    const u = await signUp({ deviceId: "laptop" });
    await login(u, "phone");
    expect((await act("block", "phone", u.accessToken)).status).toBe(204);
    const err = expectError(await act("trust", "phone", u.accessToken), 409, "device_blocked");
    expect(err.message).toMatch(/unblock/i);
    expect((await devices(u.accessToken)).phone).toMatchObject({ trusted: false, blocked: true });
    expect((await deviceEvents(u.accessToken)).map((e) => e.type)).toEqual(["device_blocked"]);
  });
});

for (const action of ["trust", "untrust", "block", "unblock"] as const) refusals(action);

describe("OpenAPI", () => {
  it("documents the device actions with their :id parameter and the security log", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    for (const action of ["trust", "untrust", "block", "unblock"]) {
      const op = doc.paths[`${AUTH}/devices/{id}/${action}`]?.post;
      expect(op, action).toBeTruthy();
      expect(op.summary).toBeTruthy();
      expect(op.security).toEqual([{ bearerAuth: [] }]);
      expect(op.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "id", in: "path", required: true })]));
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["204", "400", "401", "404"]));
    }
    const list = doc.paths[`${AUTH}/security-events`]?.get;
    expect(list.parameters.map((p: any) => p.name).sort()).toEqual(["cursor", "limit"]);
    expect(doc.components.schemas.SecurityEvent.properties.type.enum).toEqual(
      expect.arrayContaining(["login_new_device", "device_blocked"]),
    );
  });
});
