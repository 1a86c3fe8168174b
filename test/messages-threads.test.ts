import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { roomFor } from "../src/rooms/client";
import { C, cid, createGroup, flush, MISSING, openChatSocket, sendRaw } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";

/** Replies and threads, quotes, mentions and mention counts, edit history, the delete window. */

const sendBody = async (u: TestUser, chatId: string, body: Record<string, unknown>) => {
  const res = await sendRaw(u, chatId, { clientMessageId: cid(), ...body });
  return res;
};
const sent = async (u: TestUser, chatId: string, body: Record<string, unknown>) => {
  const res = await sendBody(u, chatId, body);
  expect(res.status, res.text).toBe(201);
  return res.body.message;
};
const get = (u: TestUser, chatId: string, messageId: string, tail = "") =>
  api("GET", `${C}/${chatId}/messages/${messageId}${tail}`, { token: u.accessToken });
const events = async (u: TestUser, chatId: string, after = 0) =>
  (await api("GET", `${C}/${chatId}/events?after=${after}`, { token: u.accessToken })).body.events as any[];
const chatOf = async (u: TestUser, chatId: string) => (await api("GET", `${C}/${chatId}`, { token: u.accessToken })).body.chat;

/** Move a message's send time into the past, as if it was sent `ms` ago. */
async function age(chatId: string, messageId: string, ms: number) {
  await runInDurableObject(roomFor(env, chatId), async (_room: ChatRoom, state) => {
    state.storage.sql.exec("UPDATE messages SET created_at = created_at - ? WHERE id = ?", ms, messageId);
  });
}

describe("replies and threads", () => {
  it("a reply names its parent; the thread pages oldest first; the parent's replyCount is live and replayed", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const parent = await sent(a, chat.id, { text: "question?" });
    const sb = await openChatSocket(b, chat.id);
    const replies = [];
    for (const text of ["one", "two", "three"]) replies.push(await sent(b, chat.id, { text, replyToId: parent.id }));
    expect(replies[0].replyTo).toEqual({ id: parent.id, seq: parent.seq });
    const live = await sb.next("message.replies", (f) => f.replyCount === 3);
    expect(live).toMatchObject({ messageId: parent.id, seq: parent.seq, replyCount: 3 });
    expect((await get(a, chat.id, parent.id)).body.message.replyCount).toBe(3);

    const first = await get(a, chat.id, parent.id, "/thread?limit=2");
    expect(first.status, first.text).toBe(200);
    expect(first.body.parent.id).toBe(parent.id);
    expect(first.body.items.map((m: any) => m.text)).toEqual(["one", "two"]);
    expect(first.body.hasMore).toBe(true);
    const next = await get(a, chat.id, parent.id, `/thread?limit=2&after=${first.body.items[1].seq}`);
    expect(next.body).toMatchObject({ items: [{ text: "three" }], hasMore: false });

    // Deleting a reply counts it out, live and in the log.
    expect((await api("DELETE", `${C}/${chat.id}/messages/${replies[1].id}`, { token: b.accessToken })).status).toBe(204);
    expect((await get(a, chat.id, parent.id)).body.message.replyCount).toBe(2);
    const counts = (await events(a, chat.id)).filter((e) => e.type === "message.replies").map((e) => e.replyCount);
    expect(counts).toEqual([1, 2, 3, 2]);
    sb.close();
  });

  it("replies only to messages of the same chat that I can see (404 naming the field)", async () => {
    const a = await signUp();
    const [chat, other] = [await createGroup(a), await createGroup(a)];
    const elsewhere = await sent(a, other.id, { text: "in the other chat" });
    const res = await sendBody(a, chat.id, { text: "hm", replyToId: elsewhere.id });
    expectError(res, 404, "not_found");
    expect(res.body.error.details).toMatchObject({ field: "replyToId" });
    expectError(await sendBody(a, chat.id, { text: "hm", quoteId: MISSING }), 404, "not_found");
    expectError(await get(a, chat.id, MISSING, "/thread"), 404, "not_found");
  });
});

describe("quotes", () => {
  it("keep a snapshot of the quoted text, which goes when the quoted message is deleted", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const original = await sent(a, chat.id, { text: "the original words" });
    const quoting = await sent(b, chat.id, { text: "quoting you", quoteId: original.id });
    expect(quoting.quote).toEqual({ id: original.id, seq: original.seq, senderId: a.id, type: "text", text: "the original words" });
    // Editing the original does not rewrite the snapshot.
    await api("PATCH", `${C}/${chat.id}/messages/${original.id}`, { token: a.accessToken, body: { text: "edited words" } });
    expect((await get(b, chat.id, quoting.id)).body.message.quote.text).toBe("the original words");
    await api("DELETE", `${C}/${chat.id}/messages/${original.id}`, { token: a.accessToken });
    expect((await get(b, chat.id, quoting.id)).body.message.quote).toMatchObject({ id: original.id, text: null });
  });
});

describe("mentions", () => {
  it("members only; @all for owners and admins; mentionCount in the chat list is exact and cleared by reading", async () => {
    const [a, b, c, stranger] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const refused = await sendBody(b, chat.id, { text: "hey", mentions: [stranger.id] });
    expectError(refused, 422, "mention_not_member");
    expect(refused.body.error.details).toEqual({ userId: stranger.id });
    expectError(await sendBody(b, chat.id, { text: "everyone!", mentions: ["all"] }), 403, "mention_all_forbidden");

    const m1 = await sent(b, chat.id, { text: "@c look", mentions: [c.id] });
    expect(m1).toMatchObject({ mentions: [c.id], mentionsAll: false });
    await sent(b, chat.id, { text: "no mention here" });
    const all = await sent(a, chat.id, { text: "meeting now", mentions: ["all"] });
    expect(all.mentionsAll).toBe(true);
    await flush(chat.id); // the chat list asks rooms whose D1 summary is ahead of my read position

    expect(await chatOf(c, chat.id)).toMatchObject({ unreadCount: 3, mentionCount: 2 });
    expect(await chatOf(b, chat.id)).toMatchObject({ unreadCount: 1, mentionCount: 1 });
    // My own @all does not count for me.
    expect(await chatOf(a, chat.id)).toMatchObject({ unreadCount: 0, mentionCount: 0 });

    // Reading up to the first mention leaves the @all one.
    const read = await api("POST", `${C}/${chat.id}/read`, { token: c.accessToken, body: { seq: m1.seq } });
    expect(read.body).toEqual({ seq: m1.seq, unread: 2, mentions: 1 });
    // A deleted mention stops counting.
    await api("DELETE", `${C}/${chat.id}/messages/${all.id}`, { token: a.accessToken });
    expect(await chatOf(c, chat.id)).toMatchObject({ unreadCount: 1, mentionCount: 0 });
  });

  it("a mention counts in the unread total even while the chat is muted", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const muted = await api("PUT", `${C}/${chat.id}/settings`, {
      token: b.accessToken,
      body: { mutedUntil: new Date(Date.now() + 86400_000).toISOString() },
    });
    expect(muted.status, muted.text).toBe(200);
    await sent(a, chat.id, { text: "plain" });
    await sent(a, chat.id, { text: "@b", mentions: [b.id] });
    await flush(chat.id); // the summary D1 filters on
    const summary = (await api("GET", `${C}/unread`, { token: b.accessToken })).body;
    expect(summary).toEqual({ total: 1, mentions: 1, chats: [{ chatId: chat.id, count: 2, mentions: 1, muted: true }] });
  });
});

describe("edits and deletes", () => {
  it("edit history is kept and readable by members; a stranger gets 404", async () => {
    const [a, b, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await sent(a, chat.id, { text: "v1 see https://example.com" });
    for (const text of ["v2", "v3"]) {
      const res = await api("PATCH", `${C}/${chat.id}/messages/${m.id}`, { token: a.accessToken, body: { text } });
      expect(res.status, res.text).toBe(200);
    }
    const versions = await get(b, chat.id, m.id, "/edits");
    expect(versions.body.items.map((v: any) => v.text)).toEqual(["v1 see https://example.com", "v2"]);
    expect(versions.body.items[0].createdAt).toBe(m.createdAt);
    expect((await get(b, chat.id, m.id)).body.message).toMatchObject({ text: "v3", editedAt: expect.any(String) });
    expectError(await get(stranger, chat.id, m.id, "/edits"), 404, "not_found");
    const updates = (await events(b, chat.id)).filter((e) => e.type === "message.updated").map((e) => e.message.text);
    expect(updates).toEqual(["v2", "v3"]);
    // Deleting erases the history.
    await api("DELETE", `${C}/${chat.id}/messages/${m.id}`, { token: a.accessToken });
    expect((await get(b, chat.id, m.id, "/edits")).body.items).toEqual([]);
  });

  it("authors delete for everyone within 48 hours; admins any time", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const old = await sent(b, chat.id, { text: "from long ago" });
    await age(chat.id, old.id, 49 * 3600_000);
    expectError(await api("DELETE", `${C}/${chat.id}/messages/${old.id}`, { token: b.accessToken }), 403, "delete_window_passed");
    expectError(
      await api("PATCH", `${C}/${chat.id}/messages/${old.id}`, { token: b.accessToken, body: { text: "x" } }),
      403,
      "edit_window_passed",
    );
    expect((await api("DELETE", `${C}/${chat.id}/messages/${old.id}?for=me`, { token: b.accessToken })).status).toBe(204);
    expect((await api("DELETE", `${C}/${chat.id}/messages/${old.id}`, { token: a.accessToken })).status).toBe(204);
    expect((await get(a, chat.id, old.id)).body.message).toMatchObject({ deleted: true, text: null });
  });
});
