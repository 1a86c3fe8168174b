import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { unwrap } from "../src/rooms/client";
import { C, cid, flush, getChat, history, openChatSocket, send, sendRaw, shadowBannedGroup } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { seedChat, seedUsers } from "./room-helpers";

/** Shadow bans: the banned member sees their messages as sent; nobody else receives them. */

const ban = (u: TestUser, chatId: string, body: unknown) => api("POST", `${C}/${chatId}/bans`, { token: u.accessToken, body });
const unban = (u: TestUser, chatId: string, userId: string) => api("DELETE", `${C}/${chatId}/bans/${userId}`, { token: u.accessToken });
const texts = async (u: TestUser, chatId: string) => {
  const res = await history(u, chatId, "?limit=100");
  expect(res.status, res.text).toBe(200);
  return (res.body.items as any[]).filter((m) => m.senderId).map((m) => m.text);
};
const events = async (u: TestUser, chatId: string) =>
  (await api("GET", `${C}/${chatId}/events?after=0&limit=1000`, { token: u.accessToken })).body.events as any[];
const unreadOf = async (u: TestUser, chatId: string) =>
  (await getChat(u, chatId)).body.chat as { unreadCount: number; mentionCount: number };

describe("shadow bans", () => {
  it("keeps the member: no removal, no system message, their chat looks normal", async () => {
    const { owner, b, chat } = await shadowBannedGroup();
    const seen = await getChat(b, chat.id);
    expect(seen.status).toBe(200);
    expect(seen.body.chat.memberCount).toBe(3);
    const system = (await history(owner, chat.id, "?limit=100")).body.items.filter((m: any) => m.type === "system");
    expect(system.map((m: any) => m.system.event)).toEqual(["created"]);
    // Their socket stays open.
    const socket = await openChatSocket(b, chat.id);
    expect(socket.closed).toBeNull();
    socket.close();
  });

  it("the banned member's send acks normally; they see it live and in history; nobody else does", async () => {
    const { owner, b, c, chat } = await shadowBannedGroup();
    const [bSocket, cSocket] = await Promise.all([openChatSocket(b, chat.id), openChatSocket(c, chat.id)]);
    const before = await send(owner, chat.id, "visible before");
    await cSocket.next("message.new", (f) => f.message.id === before.id);

    const ack = await bSocket.request({ type: "message.send", clientMessageId: cid(), messageType: "text", text: "shadow live" });
    expect(ack.type).toBe("ack");
    expect(ack.message).toMatchObject({ text: "shadow live", senderId: b.id });
    const rest = await sendRaw(b, chat.id, { clientMessageId: cid(), text: "shadow rest", mentions: [c.id], replyToId: before.id });
    expect(rest.status, rest.text).toBe(201);
    await bSocket.next("message.new", (f) => f.message.text === "shadow rest");

    const after = await send(owner, chat.id, "visible after");
    await cSocket.next("message.new", (f) => f.message.id === after.id);
    expect(cSocket.frames.filter((f) => f.type === "message.new").map((f) => f.message.text)).toEqual(["visible before", "visible after"]);
    expect(cSocket.frames.some((f) => f.type === "message.replies")).toBe(false);

    expect(await texts(b, chat.id)).toEqual(["visible before", "shadow live", "shadow rest", "visible after"]);
    expect(await texts(c, chat.id)).toEqual(["visible before", "visible after"]);
    expect(await texts(owner, chat.id)).toEqual(["visible before", "visible after"]);

    // By id, thread, receipts: not found for others.
    const shadowId = rest.body.message.id;
    expect((await api("GET", `${C}/${chat.id}/messages/${shadowId}`, { token: b.accessToken })).status).toBe(200);
    expectError(await api("GET", `${C}/${chat.id}/messages/${shadowId}`, { token: c.accessToken }), 404, "not_found");
    expectError(await api("GET", `${C}/${chat.id}/messages/${shadowId}/receipts`, { token: owner.accessToken }), 404, "not_found");
    const thread = await api("GET", `${C}/${chat.id}/messages/${before.id}/thread`, { token: c.accessToken });
    expect(thread.body.items).toEqual([]);
    expect(thread.body.parent.replyCount).toBe(0);

    // Events: replayed to the sender only.
    const mine = (await events(b, chat.id)).filter((e) => e.type === "message.new").map((e) => e.message.text);
    const theirs = (await events(c, chat.id)).filter((e) => e.type === "message.new").map((e) => e.message.text);
    expect(mine).toContain("shadow rest");
    expect(theirs).not.toContain("shadow rest");
    expect(theirs).not.toContain("shadow live");
    const sync = await cSocket.request({ type: "sync", afterEventSeq: 0 });
    expect(sync.type).toBe("ack");
    expect(cSocket.frames.some((f) => f.type === "message.new" && f.message.senderId === b.id)).toBe(false);

    // Unread and mentions ignore it; so does the chat's last message. (The flush first: the chat
    // view asks the room for exact counts only once D1's lastSeq, written by the flush, is ahead.)
    await flush(chat.id);
    expect(await unreadOf(c, chat.id)).toMatchObject({ unreadCount: 2, mentionCount: 0 });
    expect((await getChat(c, chat.id)).body.chat.lastMessage.text).toBe("visible after");
    // The banned member's own chat view shows their last message, as if it had been sent.
    const last = await send(b, chat.id, "my last word");
    await flush(chat.id);
    expect((await getChat(b, chat.id)).body.chat.lastMessage).toMatchObject({ id: last.id, text: "my last word" });
    expect((await getChat(c, chat.id)).body.chat.lastMessage.text).toBe("visible after");
    const listed = await api("GET", C, { token: b.accessToken });
    expect(listed.body.items.find((i: any) => i.id === chat.id).lastMessage.text).toBe("my last word");
    bSocket.close();
    cSocket.close();
  });

  it("edits and deletes of a shadow message reach the sender alone", async () => {
    const { b, c, chat } = await shadowBannedGroup();
    const [bSocket, cSocket] = await Promise.all([openChatSocket(b, chat.id), openChatSocket(c, chat.id)]);
    // Typing goes nowhere, and the banned member is acknowledged as usual.
    expect((await bSocket.request({ type: "typing.start" })).type).toBe("ack");
    const m = await send(b, chat.id, "oops");
    expect((await api("PATCH", `${C}/${chat.id}/messages/${m.id}`, { token: b.accessToken, body: { text: "fixed" } })).status).toBe(200);
    expect((await api("DELETE", `${C}/${chat.id}/messages/${m.id}`, { token: b.accessToken })).status).toBe(204);
    const marker = await send(c, chat.id, "marker");
    await cSocket.next("message.new", (f) => f.message.id === marker.id);
    expect(cSocket.frames.filter((f) => f.type.startsWith("message.")).map((f) => f.type)).toEqual(["message.new"]);
    expect(cSocket.frames.some((f) => f.type === "typing")).toBe(false);
    bSocket.close();
    const mine = (await events(b, chat.id)).map((e) => e.type);
    expect(mine).toEqual(expect.arrayContaining(["message.updated", "message.deleted"]));
    cSocket.close();
  });

  it("refuses owners and admins; unbanning shows later messages only", async () => {
    const { owner, b, c, chat } = await shadowBannedGroup();
    const admin = await signUp();
    expect(
      (await api("POST", `${C}/${chat.id}/members`, { token: owner.accessToken, body: { userIds: [admin.id], role: "admin" } })).status,
    ).toBe(200);
    expectError(await ban(owner, chat.id, { userId: admin.id, shadow: true }), 403, "permission_denied");
    expectError(await ban(admin, chat.id, { userId: owner.id, shadow: true }), 403, "permission_denied");

    await send(b, chat.id, "while banned");
    expect((await unban(owner, chat.id, b.id)).status).toBe(204);
    await send(b, chat.id, "after unban");
    expect(await texts(c, chat.id)).toEqual(["after unban"]);
    expect(await texts(b, chat.id)).toEqual(["while banned", "after unban"]);
    await flush(chat.id);
    expect(await unreadOf(c, chat.id)).toMatchObject({ unreadCount: 1 });
  });

  it("a room that has not seen the member reads the shadow ban from D1", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    await env.DB.prepare("INSERT INTO chat_bans (chat_id, user_id, banned_by, until, shadow, created_at) VALUES (?, ?, ?, NULL, 1, ?)")
      .bind(chatId, b, a, Date.now())
      .run();
    const sent = unwrap(await room.send({ userId: b!, clientMessageId: cid(), type: "text", text: "from the shadows" }));
    expect(sent.duplicate).toBe(false);
    const forOwner = unwrap(await room.history(a!, { limit: 50 }));
    expect(forOwner.items.map((m) => m.text)).not.toContain("from the shadows");
    const forSender = unwrap(await room.history(b!, { limit: 50 }));
    expect(forSender.items.map((m) => m.text)).toContain("from the shadows");
  });
});
