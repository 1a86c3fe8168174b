import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { hubFor } from "../src/hubs/client";
import { roomFor } from "../src/rooms/client";
import { CLOSE } from "../src/rooms/protocol";
import { cid, createGroup, history, openChatSocket, upgradeChat } from "./chat-helpers";
import { api, logIn, STRONG_PASSWORD, signUp, type TestUser, uniqueName } from "./helpers";
import type { TestSocket } from "./room-helpers";

const AUTH = "/api/v1/auth";
const NEW_PASSWORD = "amber-quartz-51-meadow-kite";

/** A group of `a` and `b`, with a socket each; `a` watches what `b`'s socket manages to do. */
async function scene(b?: TestUser) {
  const a = await signUp();
  b ??= await signUp();
  const chat = await createGroup(a, [b]);
  const watcher = await openChatSocket(a, chat.id);
  const victim = await openChatSocket(b, chat.id);
  return { a, b, chat, watcher, victim };
}

/** Another sign-in of `u` (a second session), optionally from another device. */
async function secondSession(u: TestUser, deviceId?: string) {
  const res = await logIn(u.username, u.password, deviceId ? { deviceId } : {});
  expect(res.status, res.text).toBe(200);
  return {
    ...u,
    accessToken: res.body.tokens.accessToken as string,
    refreshToken: res.body.tokens.refreshToken as string,
    sessionId: res.body.session.id as string,
  };
}

/**
 * The socket closes with `code`, and a message it sends right after the event is neither stored
 * nor delivered: if it reaches the room before the socket is gone, it is refused with an error.
 */
async function expectCutOff(s: Awaited<ReturnType<typeof scene>>, victim: TestSocket, code: number) {
  const late = `late ${cid()}`;
  try {
    victim.send({ type: "message.send", id: "late", clientMessageId: cid(), text: late });
  } catch {
    // already closed on the client side
  }
  expect((await victim.closedWith()).code).toBe(code);
  const refusal = victim.frames.find((f) => f.type === "error" && f.id === "late");
  if (refusal) expect(["session_revoked", "account_restricted", "device_blocked"]).toContain(refusal.code);
  // The watcher's own send is processed after anything the victim managed to send.
  expect(await s.watcher.request({ type: "message.send", clientMessageId: cid(), text: "still here" })).toMatchObject({ type: "ack" });
  const texts = ((await history(s.a, s.chat.id, "?limit=100")).body.items as any[]).map((m) => m.text);
  expect(texts).toContain("still here");
  expect(texts).not.toContain(late);
  expect(s.watcher.frames.some((f) => f.type === "message.new" && f.message.text === late)).toBe(false);
  expect(victim.frames.some((f) => f.type === "ack" && f.id === "late")).toBe(false);
}

describe("ending a session closes its live sockets at once", () => {
  it("logout: 4005, in every chat the session is connected to; the token can't open a new one", async () => {
    const s = await scene();
    const other = await createGroup(s.a, [s.b]);
    const second = await openChatSocket(s.b, other.id);
    expect((await api("POST", `${AUTH}/logout`, { token: s.b.accessToken })).status).toBe(204);
    await expectCutOff(s, s.victim, CLOSE.sessionEnded);
    expect((await second.closedWith()).code).toBe(CLOSE.sessionEnded);
    expect(s.victim.closed!.reason).toContain("signed out");
    const again = await upgradeChat(s.chat.id, s.b.accessToken);
    expect(again.status).toBe(401);
    expect(((await again.json()) as any).error.code).toBe("session_revoked");
  });

  it("ending one session from another (DELETE /sessions/:id) closes only that session's sockets", async () => {
    const s = await scene();
    const laptop = await secondSession(s.b);
    const laptopSocket = await openChatSocket(laptop, s.chat.id);
    expect((await api("DELETE", `${AUTH}/sessions/${s.b.sessionId}`, { token: laptop.accessToken })).status).toBe(204);
    await expectCutOff(s, s.victim, CLOSE.sessionEnded);
    // The acting session's socket stays open and working.
    expect(await laptopSocket.request({ type: "ping" })).toMatchObject({ type: "ack", pong: true });
    expect(laptopSocket.closed).toBeNull();
    laptopSocket.close();
  });

  it("revoke-all and change-password close every other session's sockets", async () => {
    for (const end of [
      (u: TestUser) => api("POST", `${AUTH}/sessions/revoke-all`, { token: u.accessToken }),
      (u: TestUser) =>
        api("POST", `${AUTH}/change-password`, {
          token: u.accessToken,
          body: { currentPassword: STRONG_PASSWORD, newPassword: NEW_PASSWORD },
        }),
    ]) {
      const s = await scene();
      const laptop = await secondSession(s.b);
      const laptopSocket = await openChatSocket(laptop, s.chat.id);
      expect((await end(laptop)).status).toBe(204);
      await expectCutOff(s, s.victim, CLOSE.sessionEnded);
      expect(await laptopSocket.request({ type: "ping" })).toMatchObject({ type: "ack" });
      laptopSocket.close();
    }
  });

  it("password reset closes every socket of the account", async () => {
    const email = `${uniqueName("rv")}@example.com`;
    const s = await scene(await signUp({ email }));
    await env.DB.prepare("UPDATE users SET email_verified_at = ? WHERE id = ?").bind(Date.now(), s.b.id).run();
    expect((await api("POST", `${AUTH}/forgot-password`, { body: { identifier: email } })).status).toBe(202);
    const mail = (await api("GET", `/api/v1/dev/outbox?to=${encodeURIComponent(email)}`)).body.items.find(
      (m: any) => m.kind === "password.reset",
    );
    const code = /\b(\d{6})\b/.exec(mail.text)![1];
    expect((await api("POST", `${AUTH}/reset-password`, { body: { identifier: email, code, newPassword: NEW_PASSWORD } })).status).toBe(
      204,
    );
    await expectCutOff(s, s.victim, CLOSE.sessionEnded);
  });

  it("refresh-token reuse ends the session and closes its sockets", async () => {
    const s = await scene();
    const first = await api("POST", `${AUTH}/refresh`, { body: { refreshToken: s.b.refreshToken } });
    expect(first.status).toBe(200);
    const reused = await api("POST", `${AUTH}/refresh`, { body: { refreshToken: s.b.refreshToken } });
    expect(reused.body.error.code).toBe("refresh_token_reused");
    await expectCutOff(s, s.victim, CLOSE.sessionEnded);
  });

  it("blocking a device closes that device's sockets with 4007", async () => {
    const b = await signUp({ deviceId: "phone" });
    const laptop = await secondSession(b, "laptop");
    const s = await scene(laptop);
    const phoneSocket = await openChatSocket(b, s.chat.id);
    expect((await api("POST", `${AUTH}/devices/laptop/block`, { token: b.accessToken })).status).toBe(204);
    await expectCutOff(s, s.victim, CLOSE.deviceBlocked);
    expect(s.victim.closed!.reason).toBe("device blocked");
    expect(await phoneSocket.request({ type: "ping" })).toMatchObject({ type: "ack" });
    phoneSocket.close();
  });

  it("suspending or banning an account closes all its sockets with 4006", async () => {
    const admin = await signUp();
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.id).run();
    for (const [path, body] of [
      ["suspend", { reason: "spam" }],
      ["ban", { reason: "abuse" }],
    ] as const) {
      const s = await scene();
      const laptop = await secondSession(s.b);
      const laptopSocket = await openChatSocket(laptop, s.chat.id);
      expect((await api("POST", `/api/v1/admin/users/${s.b.id}/${path}`, { token: admin.accessToken, body })).status).toBe(200);
      await expectCutOff(s, s.victim, CLOSE.accountRestricted);
      expect((await laptopSocket.closedWith()).code).toBe(CLOSE.accountRestricted);
    }
  });

  it("deleting the account closes its sockets", async () => {
    const s = await scene();
    const res = await api("DELETE", "/api/v1/users/me", { token: s.b.accessToken, body: { password: STRONG_PASSWORD } });
    expect(res.status, res.text).toBe(204);
    await expectCutOff(s, s.victim, CLOSE.sessionEnded);
  });

  it("keeps a socket whose access token expires while its session lives", async () => {
    const s = await scene();
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 20 * 60_000);
      const me = await api("GET", `${AUTH}/me`, { token: s.b.accessToken });
      expect(me.body.error.code).toBe("token_expired");
      // The socket was authenticated when it opened; ending the session is what closes it.
      const ack = await s.victim.request({ type: "message.send", clientMessageId: cid(), text: "token expired, session alive" });
      expect(ack).toMatchObject({ type: "ack", message: { text: "token expired, session alive" } });
    } finally {
      vi.useRealTimers();
    }
    expect(s.victim.closed).toBeNull();
    s.victim.close();
    s.watcher.close();
  });
});

describe("a session ending while its socket opens", () => {
  const upgrade = (chatId: string, userId: string, sessionId: string) =>
    roomFor(env, chatId).fetch("http://room/ws", { headers: { Upgrade: "websocket", "x-user-id": userId, "x-session-id": sessionId } });

  it("is refused by the hub once the hub heard of the ending", async () => {
    const s = await scene();
    const sessionId = crypto.randomUUID();
    await hubFor(env, s.b.id).endSessions(s.b.id, [sessionId], "logout", Date.now() + 60_000);
    const res = await upgrade(s.chat.id, s.b.id, sessionId);
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe("session_revoked");
  });

  it("is refused by the room when the ending reached the room first", async () => {
    const s = await scene();
    const sessionId = crypto.randomUUID();
    expect(await roomFor(env, s.chat.id).endSessions(s.b.id, [sessionId], CLOSE.sessionEnded, "session ended", Date.now() + 60_000)).toBe(
      true,
    );
    expect((await upgrade(s.chat.id, s.b.id, sessionId)).status).toBe(401);
    // The user's other sockets were not touched.
    expect(await s.victim.request({ type: "ping" })).toMatchObject({ type: "ack" });
  });
});
