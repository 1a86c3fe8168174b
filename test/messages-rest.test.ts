import { describe, expect, it } from "vitest";
import { C, cid, createChannel, createGroup, expectInvalid, expectSendRefused, history, MISSING, send, sendRaw } from "./chat-helpers";
import { type ApiResponse, api, expectError, signUp, type TestUser } from "./helpers";

const msgPath = (chatId: string, messageId: string, rest = "") => `${C}/${chatId}/messages/${messageId}${rest}`;
const mark = (u: TestUser, chatId: string, kind: "read" | "delivered", body: unknown) =>
  api("POST", `${C}/${chatId}/${kind}`, { token: u.accessToken, body });
const events = (u: TestUser, chatId: string, query = "") => api("GET", `${C}/${chatId}/events${query}`, { token: u.accessToken });
const seqs = (res: ApiResponse) => (res.body.items as any[]).map((m) => m.seq);

/** A group of a and b with the `created` system message (seq 1) and `count` texts from b (seq 2…). */
async function chatWithMessages(count: number) {
  const [a, b] = [await signUp(), await signUp()];
  const chat = await createGroup(a, [b]);
  for (let i = 0; i < count; i++) await send(b, chat.id, `m${i + 2}`);
  return { a, b, chatId: chat.id as string };
}

describe("POST /chats/{chatId}/messages", () => {
  it("sends a text message (201) with every field", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const res = await sendRaw(b, chat.id, { clientMessageId: "first", type: "text", text: "  Hello there  " });
    expect(res.status, res.text).toBe(201);
    expect(res.body.message).toMatchObject({
      seq: 2,
      chatId: chat.id,
      senderId: b.id,
      clientMessageId: "first",
      type: "text",
      text: "Hello there",
      system: null,
      editedAt: null,
      deleted: false,
    });
    expect(res.body.message.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(res.body.message.createdAt).toISOString()).toBe(res.body.message.createdAt);
    // type may be left out; 4,096 characters are fine.
    const long = await sendRaw(b, chat.id, { clientMessageId: "long", text: "x".repeat(4096) });
    expect(long.status, long.text).toBe(201);
    expect(long.body.message.text).toHaveLength(4096);
  });

  it("is idempotent per sender: a retry answers 200 with the stored message", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const first = await sendRaw(b, chat.id, { clientMessageId: "k1", text: "once" });
    expect(first.status).toBe(201);
    const retry = await sendRaw(b, chat.id, { clientMessageId: "k1", text: "once (edited by the client?)" });
    expect(retry.status).toBe(200);
    expect(retry.body.message).toEqual(first.body.message);
    // The same key from someone else is their own message.
    const other = await sendRaw(a, chat.id, { clientMessageId: "k1", text: "mine" });
    expect(other.status).toBe(201);
    expect(other.body.message.id).not.toBe(first.body.message.id);
    expect(seqs(await history(a, chat.id))).toEqual([1, 2, 3]);
  });

  it("stores one message when the same send is retried concurrently", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => sendRaw(b, chat.id, { clientMessageId: "burst", text: "only once" })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.message.id)).size).toBe(1);
    const items = (await history(a, chat.id)).body.items.filter((m: any) => m.type === "text");
    expect(items).toHaveLength(1);
  });

  it.each([
    ["no clientMessageId", { text: "x" }, "body.clientMessageId"],
    ["an empty clientMessageId", { clientMessageId: "", text: "x" }, "body.clientMessageId"],
    ["a clientMessageId over 64 characters", { clientMessageId: "k".repeat(65), text: "x" }, "body.clientMessageId"],
    ["no text", { clientMessageId: "k" }, "body.text"],
    ["blank text", { clientMessageId: "k", text: " \n\t " }, "body.text"],
    ["text over 4,096 characters", { clientMessageId: "k", text: "x".repeat(4097) }, "body.text"],
    ["text of the wrong type", { clientMessageId: "k", text: 42 }, "body.text"],
    ["another message type", { clientMessageId: "k", type: "gif", text: "x" }, "body.type"],
    ["an image without attachments", { clientMessageId: "k", type: "image", text: "x" }, "body.attachments"],
    ["an unknown field", { clientMessageId: "k", text: "x", senderId: MISSING }, "body"],
  ])("refuses %s (400)", async (_label, body, path) => {
    const a = await signUp();
    const chat = await createGroup(a);
    expectInvalid(await sendRaw(a, chat.id, body), path);
  });

  it("refuses no token, strangers, unknown chats and bad ids", async () => {
    const [a, stranger] = [await signUp(), await signUp()];
    const chat = await createGroup(a);
    expectError(await sendRaw(undefined, chat.id, { clientMessageId: "k", text: "x" }), 401, "unauthorized");
    expectError(await sendRaw(stranger, chat.id, { clientMessageId: "k", text: "x" }), 404, "not_found");
    expectError(await sendRaw(a, MISSING, { clientMessageId: "k", text: "x" }), 404, "not_found");
    expectInvalid(await sendRaw(a, "abc", { clientMessageId: "k", text: "x" }), "params.chatId");
    expectError(
      await api("POST", `${C}/${chat.id}/messages`, { token: a.accessToken, raw: "text=x", headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
  });

  it("refuses sends to frozen chats, from channel subscribers and from members without sendMessages", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const group = await createGroup(a, [b]);
    await api("PATCH", `${C}/${group.id}/members/${b.id}`, { token: a.accessToken, body: { permissions: { sendMessages: false } } });
    await expectSendRefused(b, group.id, 403, "send_forbidden");
    await api("POST", `${C}/${group.id}/freeze`, { token: a.accessToken });
    await expectSendRefused(a, group.id, 403, "chat_frozen");
    const channel = await createChannel(a, [b]);
    await expectSendRefused(b, channel.id, 403, "channel_read_only");
  });
});

describe("GET /chats/{chatId}/messages", () => {
  it("pages history in seq order: latest, before, after, around, with hasMore at the edges", async () => {
    const { a, chatId } = await chatWithMessages(9); // seqs 1..10
    expect(seqs(await history(a, chatId))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await history(a, chatId)).body.hasMore).toBe(false);
    const latest = await history(a, chatId, "?limit=3");
    expect(seqs(latest)).toEqual([8, 9, 10]);
    expect(latest.body.hasMore).toBe(true);
    const older = await history(a, chatId, "?before=8&limit=3");
    expect([seqs(older), older.body.hasMore]).toEqual([[5, 6, 7], true]);
    const first = await history(a, chatId, "?before=4&limit=3");
    expect([seqs(first), first.body.hasMore]).toEqual([[1, 2, 3], false]);
    expect((await history(a, chatId, "?before=1")).body).toEqual({ items: [], hasMore: false });
    const newer = await history(a, chatId, "?after=2&limit=4");
    expect([seqs(newer), newer.body.hasMore]).toEqual([[3, 4, 5, 6], true]);
    const last = await history(a, chatId, "?after=6&limit=4");
    expect([seqs(last), last.body.hasMore]).toEqual([[7, 8, 9, 10], false]);
    expect((await history(a, chatId, "?after=10")).body).toEqual({ items: [], hasMore: false });
    const around = await history(a, chatId, "?around=5&limit=4");
    expect([seqs(around), around.body.hasMore]).toEqual([[3, 4, 5, 6], true]);
    const aroundAll = await history(a, chatId, "?around=5&limit=100");
    expect([seqs(aroundAll), aroundAll.body.hasMore]).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], false]);
    expect(seqs(await history(a, chatId, "?limit=1"))).toEqual([10]);
  });

  it.each([
    ["limit 0", "?limit=0", "query.limit"],
    ["limit 101", "?limit=101", "query.limit"],
    ["a negative seq", "?before=-1", "query.before"],
    ["a non-numeric seq", "?after=abc", "query.after"],
    ["two anchors", "?before=5&after=1", "query"],
  ])("refuses %s (400)", async (_label, query, path) => {
    const a = await signUp();
    const chat = await createGroup(a);
    expectInvalid(await history(a, chat.id, query), path);
  });

  it("is members only", async () => {
    const { chatId } = await chatWithMessages(1);
    expectError(await history(await signUp(), chatId), 404, "not_found");
    expectError(await api("GET", `${C}/${chatId}/messages`), 401, "unauthorized");
  });
});

describe("one message: GET, PATCH, DELETE, receipts", () => {
  it("reads and edits my message; others cannot edit it", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const m = await send(b, chat.id, "tpyo");
    const got = await api("GET", msgPath(chat.id, m.id), { token: a.accessToken });
    expect(got.status).toBe(200);
    expect(got.body.message).toEqual(m);
    const edited = await api("PATCH", msgPath(chat.id, m.id), { token: b.accessToken, body: { text: " typo " } });
    expect(edited.status, edited.text).toBe(200);
    expect(edited.body.message).toMatchObject({ id: m.id, seq: m.seq, text: "typo" });
    expect(edited.body.message.editedAt).not.toBeNull();
    expectError(
      await api("PATCH", msgPath(chat.id, m.id), { token: a.accessToken, body: { text: "owner's words" } }),
      403,
      "not_message_author",
    );
    expectInvalid(await api("PATCH", msgPath(chat.id, m.id), { token: b.accessToken, body: { text: "" } }), "body.text");
    expectInvalid(await api("PATCH", msgPath(chat.id, m.id), { token: b.accessToken, body: { text: "x", pinned: true } }), "body");
    expectError(await api("GET", msgPath(chat.id, MISSING), { token: a.accessToken }), 404, "not_found");
    expectInvalid(await api("GET", msgPath(chat.id, "42"), { token: a.accessToken }), "params.messageId");
  });

  it("deletes for everyone (author or admin) and hides for me", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c]);
    const [m1, m2, m3] = [await send(b, chat.id, "one"), await send(b, chat.id, "two"), await send(c, chat.id, "three")];
    expectError(await api("DELETE", msgPath(chat.id, m1.id), { token: c.accessToken }), 403, "not_message_author");
    expect((await api("DELETE", msgPath(chat.id, m1.id), { token: b.accessToken })).status).toBe(204);
    const gone = (await api("GET", msgPath(chat.id, m1.id), { token: c.accessToken })).body.message;
    expect(gone).toMatchObject({ id: m1.id, deleted: true, text: null });
    // The owner moderates others' messages.
    expect((await api("DELETE", `${msgPath(chat.id, m3.id)}?for=everyone`, { token: a.accessToken })).status).toBe(204);
    // for=me hides it from my history only.
    expect((await api("DELETE", `${msgPath(chat.id, m2.id)}?for=me`, { token: c.accessToken })).status).toBe(204);
    expect(seqs(await history(c, chat.id))).not.toContain(m2.seq);
    expect(seqs(await history(b, chat.id))).toContain(m2.seq);
    expectError(await api("GET", msgPath(chat.id, m2.id), { token: c.accessToken }), 404, "not_found");
    expectInvalid(await api("DELETE", `${msgPath(chat.id, m2.id)}?for=them`, { token: b.accessToken }), "query.for");
  });

  it("lists who received and read a message", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c]);
    const m = await send(a, chat.id, "did you see this?");
    await mark(b, chat.id, "read", { seq: m.seq });
    await mark(c, chat.id, "delivered", { seq: m.seq });
    const res = await api("GET", msgPath(chat.id, m.id, "/receipts"), { token: a.accessToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body.read).toEqual([b.id]);
    expect([...res.body.delivered].sort()).toEqual([b.id, c.id].sort());
  });

  it("answers 404 to strangers on every message route", async () => {
    const [a, stranger] = [await signUp(), await signUp()];
    const chat = await createGroup(a);
    const m = await send(a, chat.id, "private");
    const t = stranger.accessToken;
    expectError(await api("GET", msgPath(chat.id, m.id), { token: t }), 404, "not_found");
    expectError(await api("PATCH", msgPath(chat.id, m.id), { token: t, body: { text: "x" } }), 404, "not_found");
    expectError(await api("DELETE", msgPath(chat.id, m.id), { token: t }), 404, "not_found");
    expectError(await api("GET", msgPath(chat.id, m.id, "/receipts"), { token: t }), 404, "not_found");
    expectError(await mark(stranger, chat.id, "read", { seq: 1 }), 404, "not_found");
    expectError(await mark(stranger, chat.id, "delivered", { seq: 1 }), 404, "not_found");
    expectError(await events(stranger, chat.id), 404, "not_found");
    expectError(await api("GET", msgPath(chat.id, m.id)), 401, "unauthorized");
  });
});

describe("POST /chats/{chatId}/read and /delivered", () => {
  it("moves my position forward only, up to the last seq, and answers my exact unread count", async () => {
    const { a, chatId } = await chatWithMessages(4); // seqs 2..5 from b
    expect((await mark(a, chatId, "read", { seq: 3 })).body).toEqual({ seq: 3, unread: 2, mentions: 0 });
    expect((await mark(a, chatId, "read", { seq: 2 })).body).toEqual({ seq: 3, unread: 2, mentions: 0 });
    expect((await mark(a, chatId, "read", { seq: 999 })).body).toEqual({ seq: 5, unread: 0, mentions: 0 });
    expect((await mark(a, chatId, "delivered", { seq: 4 })).body).toMatchObject({ seq: 5 });
    expectInvalid(await mark(a, chatId, "read", { seq: -1 }), "body.seq");
    expectInvalid(await mark(a, chatId, "read", { seq: "3" }), "body.seq");
    expectInvalid(await mark(a, chatId, "delivered", {}), "body.seq");
    expectInvalid(await mark(a, chatId, "read", { seq: 1, all: true }), "body");
  });
});

describe("GET /chats/{chatId}/events", () => {
  it("replays every change after an eventSeq, in order, page by page", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const m = await send(b, chat.id, "first");
    await api("PATCH", msgPath(chat.id, m.id), { token: b.accessToken, body: { text: "first!" } });
    await api("DELETE", msgPath(chat.id, m.id), { token: b.accessToken });
    const all = await events(a, chat.id);
    expect(all.status, all.text).toBe(200);
    const list = all.body.events as any[];
    expect(list.map((e) => e.eventSeq)).toEqual(list.map((_, i) => i + 1));
    expect(all.body).toMatchObject({ hasMore: false, tooFarBehind: false, lastEventSeq: list.length });
    const types = list.map((e) => e.type);
    expect(types.indexOf("message.updated")).toBeGreaterThan(types.lastIndexOf("message.new"));
    expect(types.indexOf("message.deleted")).toBeGreaterThan(types.indexOf("message.updated"));
    const page1 = await events(a, chat.id, "?after=0&limit=2");
    expect(page1.body.events.map((e: any) => e.eventSeq)).toEqual([1, 2]);
    expect(page1.body.hasMore).toBe(true);
    const rest = await events(a, chat.id, "?after=2&limit=1000");
    expect(rest.body.events.map((e: any) => e.eventSeq)).toEqual(list.slice(2).map((e) => e.eventSeq));
    expect((await events(a, chat.id, `?after=${list.length}`)).body).toMatchObject({ events: [], hasMore: false, tooFarBehind: false });
  });

  it("refuses bad queries", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    expectInvalid(await events(a, chat.id, "?after=-1"), "query.after");
    expectInvalid(await events(a, chat.id, "?limit=0"), "query.limit");
    expectInvalid(await events(a, chat.id, "?limit=1001"), "query.limit");
    expectError(await api("GET", `${C}/${chat.id}/events`), 401, "unauthorized");
  });
});

describe("removed members", () => {
  it("lose every message route at once", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const m = await send(b, chat.id, "mine");
    await api("DELETE", `${C}/${chat.id}/members/${b.id}`, { token: a.accessToken });
    expectError(await history(b, chat.id), 404, "not_found");
    expectError(await sendRaw(b, chat.id, { clientMessageId: cid(), text: "x" }), 404, "not_found");
    expectError(await api("GET", msgPath(chat.id, m.id), { token: b.accessToken }), 404, "not_found");
    expectError(await api("PATCH", msgPath(chat.id, m.id), { token: b.accessToken, body: { text: "y" } }), 404, "not_found");
    expectError(await mark(b, chat.id, "read", { seq: 1 }), 404, "not_found");
    expectError(await events(b, chat.id), 404, "not_found");
  });
});
