import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hubFor } from "../src/hubs/client";
import { UPDATE_RETENTION, UpdateLog } from "../src/hubs/updates";
import { C, createGroup, flush, ok, send, shadowBannedGroup } from "./chat-helpers";
import { api, expectError, signUp } from "./helpers";
import { openRealtime, secondDevice, upgradeRealtime as upgrade } from "./hub-helpers";

/**
 * The realtime socket (one per device, to the user's hub): updates with a per-user updateSeq for
 * chat activity, read positions, membership, settings and security events; replay by updateSeq.
 */

describe("opening the realtime socket", () => {
  it("needs a WebSocket upgrade and a live session", async () => {
    const u = await signUp();
    const plain = await upgrade(u.accessToken, {});
    expect(plain.status).toBe(426);
    expect((await upgrade("not-a-token")).status).toBe(401);
    const { hello, socket } = await openRealtime(u.accessToken);
    expect(hello.updateSeq).toBeGreaterThanOrEqual(0);
    socket.close();
  });
});

describe("updates", () => {
  it("chat activity reaches every member's devices once the room flushes; my reads reach my other devices", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(alice, [bob]);
    const { socket: bobPhone } = await openRealtime(bob.accessToken);
    const laptop = await secondDevice(bob);
    const { socket: bobLaptop } = await openRealtime(laptop.tokens.accessToken);
    const message = await send(alice, chat.id, "hello over the hub");
    await flush(chat.id);
    for (const s of [bobPhone, bobLaptop]) {
      const activity = await s.next("chat.activity", (f) => f.chatId === chat.id && f.lastSeq === message.seq);
      expect(activity.lastMessage).toMatchObject({ id: message.id, text: "hello over the hub", senderId: alice.id });
      expect(activity.updateSeq).toBeGreaterThan(0);
    }
    const read = await ok(await api("POST", `${C}/${chat.id}/read`, { token: bob.accessToken, body: { seq: message.seq } }));
    expect(read.unread).toBe(0);
    const onLaptop = await bobLaptop.next("chat.read", (f) => f.chatId === chat.id);
    expect(onLaptop).toMatchObject({ readSeq: message.seq, unread: 0, mentions: 0 });
    bobPhone.close();
    bobLaptop.close();
  });

  it("being added or removed, and my settings, reach my devices", async () => {
    const [owner, carol] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(owner);
    const { socket } = await openRealtime(carol.accessToken);
    await ok(await api("POST", `${C}/${chat.id}/members`, { token: owner.accessToken, body: { userIds: [carol.id] } }), 200);
    expect(await socket.next("chat.added", (f) => f.chatId === chat.id)).toMatchObject({ role: "member" });
    await ok(await api("PUT", `${C}/${chat.id}/settings`, { token: carol.accessToken, body: { pinned: true, archived: true } }));
    expect(await socket.next("chat.settings", (f) => f.chatId === chat.id)).toMatchObject({ pinned: true, archived: true, hidden: false });
    expect((await api("DELETE", `${C}/${chat.id}/members/${carol.id}`, { token: owner.accessToken })).status).toBe(204);
    expect(await socket.next("chat.removed", (f) => f.chatId === chat.id)).toMatchObject({ reason: "removed" });
    socket.close();
  });

  it("a sign-in elsewhere and an ended session reach the other devices; the ended session's socket closes", async () => {
    const u = await signUp();
    const { socket: phone } = await openRealtime(u.accessToken);
    const laptop = await secondDevice(u, "laptop-1");
    const login = await phone.next("security.event", (f) => f.sessionId === laptop.session.id);
    expect(login).toMatchObject({ deviceId: "laptop-1" });
    expect(login.eventType).toMatch(/^login/);
    const { socket: laptopSocket } = await openRealtime(laptop.tokens.accessToken);
    expect((await api("POST", "/api/v1/auth/logout", { token: laptop.tokens.accessToken })).status).toBe(204);
    expect(await phone.next("session.ended", (f) => f.sessionId === laptop.session.id)).toMatchObject({ reason: "logout" });
    expect(await laptopSocket.closedWith()).toMatchObject({ code: 4005 });
    expectError(await api("GET", "/api/v1/auth/me", { token: laptop.tokens.accessToken }), 401, "session_revoked");
    const refused = await upgrade(laptop.tokens.accessToken);
    expect(refused.status).toBe(401);
    phone.close();
  });
});

describe("drafts and order", () => {
  it("a draft saved on one device reaches my other devices, and sending clears it there", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(alice, [bob]);
    const { socket: laptop } = await openRealtime((await secondDevice(alice)).tokens.accessToken);
    await ok(await api("PUT", `${C}/${chat.id}/draft`, { token: alice.accessToken, body: { text: "half a thought" } }));
    const saved = await laptop.next("chat.draft", (f) => f.chatId === chat.id && f.draft !== null);
    expect(saved.draft).toMatchObject({ text: "half a thought", replyToId: null });
    await send(alice, chat.id, "the whole thought");
    expect(await laptop.next("chat.draft", (f) => f.chatId === chat.id && f.draft === null)).toMatchObject({ chatId: chat.id });
    laptop.close();
  });

  it("an update older than one already told about the same chat is dropped", async () => {
    const u = await signUp();
    const hub = hubFor(env, u.id);
    const chatId = crypto.randomUUID();
    const read = (readSeq: number) => ({ type: "chat.read" as const, chatId, readSeq, unread: 0, mentions: 0 });
    const first = await hub.publish(read(5));
    expect(await hub.publish(read(3))).toBe(first);
    expect(await hub.publish(read(5))).toBe(first + 1);
    const { socket } = await openRealtime(u.accessToken);
    const ack = await socket.request({ type: "sync", afterUpdateSeq: first - 1 });
    expect(socket.frames.filter((f) => f.type === "chat.read").map((f) => f.readSeq)).toEqual([5, 5]);
    expect(ack.lastUpdateSeq).toBe(first + 1);
    socket.close();
  });
});

describe("what each member is told", () => {
  it("a shadow-banned member's posts reach only their own list; others hear nothing of them", async () => {
    const { owner, b, chat } = await shadowBannedGroup();
    const [{ socket: ownerSocket }, { socket: bSocket }] = await Promise.all([
      openRealtime(owner.accessToken),
      openRealtime(b.accessToken),
    ]);
    const mine = await send(b, chat.id, "seen by b alone");
    await flush(chat.id);
    const own = await bSocket.next("chat.activity", (f) => f.chatId === chat.id && f.lastMessage?.id === mine.id);
    expect(own.lastMessage).toMatchObject({ text: "seen by b alone", senderId: b.id });
    const visible = await send(owner, chat.id, "for everyone");
    await flush(chat.id);
    const seen = await ownerSocket.next("chat.activity", (f) => f.chatId === chat.id && f.lastSeq === visible.seq);
    expect(seen.lastMessage.id).toBe(visible.id);
    expect(JSON.stringify(ownerSocket.frames)).not.toContain("seen by b alone");
    ownerSocket.close();
    bSocket.close();
  });

  it("a deleted chat leaves every member's list", async () => {
    const [owner, member] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(owner, [member]);
    const { socket } = await openRealtime(member.accessToken);
    expect((await api("DELETE", `${C}/${chat.id}`, { token: owner.accessToken })).status).toBe(204);
    expect(await socket.next("chat.removed", (f) => f.chatId === chat.id)).toMatchObject({ reason: "deleted" });
    socket.close();
  });
});

describe("replay by updateSeq", () => {
  it("sync replays every later update in order; too far behind says so", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(alice, [bob]);
    const { socket, hello } = await openRealtime(bob.accessToken);
    await send(alice, chat.id, "one");
    await flush(chat.id);
    await ok(await api("PUT", `${C}/${chat.id}/settings`, { token: bob.accessToken, body: { pinned: true } }));
    const last = await socket.next("chat.settings");
    const start = socket.frames.length;
    const ack = await socket.request({ type: "sync", afterUpdateSeq: hello.updateSeq });
    const replayed = socket.frames.slice(start).filter((f) => f.updateSeq !== undefined);
    expect(replayed.map((f) => f.updateSeq)).toEqual(Array.from({ length: replayed.length }, (_, i) => hello.updateSeq + 1 + i));
    expect(replayed.at(-1)).toMatchObject({ type: "chat.settings", updateSeq: last.updateSeq });
    expect(ack).toMatchObject({ type: "ack", lastUpdateSeq: last.updateSeq, hasMore: false, tooFarBehind: false });

    await runInDurableObject(hubFor(env, bob.id), (_hub, state) => {
      const log = new UpdateLog(state.storage.sql);
      for (let i = 0; i <= UPDATE_RETENTION; i++) log.append("test.filler", { i }, Date.now());
      log.prune();
    });
    const behind = await socket.request({ type: "sync", afterUpdateSeq: 0 });
    expect(behind).toMatchObject({ type: "ack", tooFarBehind: true });
    // A seq this hub never gave out (another account's, a lost log's) is not "caught up" either.
    const ahead = await socket.request({ type: "sync", afterUpdateSeq: behind.lastUpdateSeq + 1000 });
    expect(ahead).toMatchObject({ type: "ack", tooFarBehind: true });
    socket.close();
  });

  it("answers bad frames with an error and closes on oversize ones", async () => {
    const u = await signUp();
    const { socket } = await openRealtime(u.accessToken);
    socket.send("{not json");
    expect(await socket.next("error")).toMatchObject({ code: "malformed_json" });
    expect(await socket.request({ type: "subscribe" })).toMatchObject({ type: "error", code: "validation_failed" });
    expect(await socket.request({ type: "ping" })).toMatchObject({ type: "ack", pong: true });
    // Frames may be 64 KiB (call signaling carries SDP); one byte more closes the socket.
    socket.send(JSON.stringify({ type: "ping", pad: "x".repeat(64 * 1024) }));
    expect(await socket.closedWith()).toMatchObject({ code: 1009 });
  });
});
