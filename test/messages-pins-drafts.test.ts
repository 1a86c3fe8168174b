import { describe, expect, it } from "vitest";
import { C, cid, createGroup, MISSING, openChatSocket, sendRaw } from "./chat-helpers";
import { api, expectError, expectInvalid, signUp, type TestUser } from "./helpers";

/** Pinned messages (shared, permission-gated) and drafts (private, synced to my own sockets). */

const sent = async (u: TestUser, chatId: string, text: string) => {
  const res = await sendRaw(u, chatId, { clientMessageId: cid(), text });
  expect(res.status, res.text).toBe(201);
  return res.body.message;
};
const pin = (u: TestUser, chatId: string, messageId: string, method = "POST") =>
  api(method, `${C}/${chatId}/messages/${messageId}/pin`, { token: u.accessToken });
const pins = async (u: TestUser, chatId: string) => (await api("GET", `${C}/${chatId}/pins`, { token: u.accessToken })).body.items as any[];
const events = async (u: TestUser, chatId: string) =>
  (await api("GET", `${C}/${chatId}/events?after=0`, { token: u.accessToken })).body.events as any[];
const draft = (u: TestUser, chatId: string, method = "GET", body?: unknown) =>
  api(method, `${C}/${chatId}/draft`, { token: u.accessToken, body });

describe("pins", () => {
  it("admins pin and unpin; members need pinMessages; the list, the events and deletes follow", async () => {
    const [a, b, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const [m1, m2] = [await sent(b, chat.id, "first"), await sent(b, chat.id, "second")];
    expectError(await pin(b, chat.id, m1.id), 403, "pin_forbidden");
    const pinned = await pin(a, chat.id, m1.id);
    expect(pinned.status, pinned.text).toBe(200);
    expect(pinned.body).toMatchObject({ message: { id: m1.id }, pinnedBy: a.id });
    expect((await pin(a, chat.id, m1.id)).body.pinnedAt).toBe(pinned.body.pinnedAt); // idempotent

    // Members may pin once the chat grants pinMessages.
    await api("PATCH", `${C}/${chat.id}`, { token: a.accessToken, body: { permissions: { pinMessages: true } } });
    expect((await pin(b, chat.id, m2.id)).status).toBe(200);
    expect((await pins(b, chat.id)).map((p) => p.message.id)).toEqual([m2.id, m1.id]);
    expectError(await api("GET", `${C}/${chat.id}/pins`, { token: stranger.accessToken }), 404, "not_found");
    expectError(await pin(a, chat.id, MISSING), 404, "not_found");

    expect((await pin(b, chat.id, m2.id, "DELETE")).status).toBe(204);
    expect((await pin(b, chat.id, m2.id, "DELETE")).status).toBe(204);
    // Deleting a pinned message unpins it.
    await api("DELETE", `${C}/${chat.id}/messages/${m1.id}`, { token: b.accessToken });
    expect(await pins(a, chat.id)).toEqual([]);
    const kinds = (await events(a, chat.id)).filter((e) => e.type.startsWith("message.") && e.type.endsWith("pinned"));
    expect(kinds.map((e) => [e.type, e.messageId])).toEqual([
      ["message.pinned", m1.id],
      ["message.pinned", m2.id],
      ["message.unpinned", m2.id],
    ]);
  });

  it("a pin reaches sockets live; frozen chats refuse pinning", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await sent(a, chat.id, "pin me");
    const sb = await openChatSocket(b, chat.id);
    await pin(a, chat.id, m.id);
    expect(await sb.next("message.pinned")).toMatchObject({ messageId: m.id, seq: m.seq, pinnedBy: a.id });
    sb.close();
    expect((await api("POST", `${C}/${chat.id}/freeze`, { token: a.accessToken })).status).toBe(200);
    expectError(await pin(a, chat.id, m.id, "DELETE"), 403, "chat_frozen");
  });
});

describe("drafts", () => {
  it("are mine alone, reach my other sockets at once, and are cleared by sending", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const parent = await sent(b, chat.id, "what do you think?");
    expect((await draft(a, chat.id)).body).toEqual({ draft: null });
    const mine = await openChatSocket(a, chat.id);
    const theirs = await openChatSocket(b, chat.id);

    const saved = await draft(a, chat.id, "PUT", { text: "I think", replyToId: parent.id });
    expect(saved.status, saved.text).toBe(200);
    expect(saved.body.draft).toMatchObject({ text: "I think", replyToId: parent.id });
    expect(await mine.next("draft")).toMatchObject({ chatId: chat.id, draft: { text: "I think", replyToId: parent.id } });
    expect((await draft(a, chat.id)).body.draft.text).toBe("I think");
    expect((await draft(b, chat.id)).body).toEqual({ draft: null });

    await sent(a, chat.id, "I think so");
    expect(await mine.next("draft", (f) => f.draft === null)).toMatchObject({ draft: null });
    expect((await draft(a, chat.id)).body).toEqual({ draft: null });
    // b never heard of it, live or in the log.
    expect(theirs.frames.filter((f) => f.type === "draft")).toEqual([]);
    expect((await events(b, chat.id)).some((e) => e.type === "draft")).toBe(false);
    mine.close();
    theirs.close();
  });

  it("validates input; delete is idempotent; strangers get 404", async () => {
    const [a, stranger] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a);
    expectInvalid(await draft(a, chat.id, "PUT", { text: "x".repeat(4097) }), "body.text");
    expectInvalid(await draft(a, chat.id, "PUT", { text: "x", extra: 1 }), "body");
    expectError(await draft(a, chat.id, "PUT", { text: "x", replyToId: MISSING }), 404, "not_found");
    expect((await draft(a, chat.id, "DELETE")).status).toBe(204);
    expect((await draft(a, chat.id, "PUT", { text: "" })).status).toBe(200);
    expect((await draft(a, chat.id, "DELETE")).status).toBe(204);
    expect((await draft(a, chat.id)).body).toEqual({ draft: null });
    expectError(await draft(stranger, chat.id), 404, "not_found");
  });
});

describe("the same changes over the socket", () => {
  it("message.edit, message.pin/unpin, message.delete, draft.set/clear take the REST paths and answer with acks", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await sent(a, chat.id, "typo hre");
    const sa = await openChatSocket(a, chat.id);
    const sb = await openChatSocket(b, chat.id);

    const edited = await sa.request({ type: "message.edit", messageId: m.id, text: "typo here" });
    expect(edited).toMatchObject({ type: "ack", message: { id: m.id, text: "typo here" } });
    expect(await sb.next("message.updated")).toMatchObject({ message: { text: "typo here" } });
    expect(await sa.request({ type: "message.edit", messageId: m.id })).toMatchObject({ type: "error", code: "validation_failed" });
    expect(await sb.request({ type: "message.edit", messageId: m.id, text: "mine now" })).toMatchObject({
      type: "error",
      code: "not_message_author",
    });

    expect(await sa.request({ type: "message.pin", messageId: m.id })).toMatchObject({
      type: "ack",
      pinnedBy: a.id,
      message: { id: m.id },
    });
    expect(await sb.request({ type: "message.pin", messageId: m.id })).toMatchObject({ type: "error", code: "pin_forbidden" });
    expect(await sa.request({ type: "message.unpin", messageId: m.id })).toMatchObject({ type: "ack" });

    expect(await sb.request({ type: "draft.set", text: "thinking…" })).toMatchObject({ type: "ack", draft: { text: "thinking…" } });
    expect((await draft(b, chat.id)).body.draft.text).toBe("thinking…");
    expect(await sb.request({ type: "draft.clear" })).toMatchObject({ type: "ack" });
    expect((await draft(b, chat.id)).body).toEqual({ draft: null });

    expect(await sa.request({ type: "message.delete", messageId: m.id })).toMatchObject({ type: "ack" });
    expect(await sb.next("message.deleted")).toMatchObject({ messageId: m.id, seq: m.seq });
    expect(await sa.request({ type: "message.delete", messageId: MISSING })).toMatchObject({ type: "error", code: "not_found" });
    sa.close();
    sb.close();
  });
});

describe("polls over the socket", () => {
  it("poll.vote, poll.retract and poll.close answer with the message as I see it", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const res = await sendRaw(a, chat.id, {
      clientMessageId: cid(),
      type: "poll",
      poll: { question: "Lunch?", options: [{ text: "yes" }, { text: "no" }], anonymous: false },
    });
    expect(res.status, res.text).toBe(201);
    const poll = res.body.message;
    const sb = await openChatSocket(b, chat.id);
    const voted = await sb.request({ type: "poll.vote", messageId: poll.id, optionIds: ["0"] });
    expect(voted).toMatchObject({ type: "ack", message: { poll: { myVotes: ["0"], totalVoters: 1 } } });
    expect(await sb.request({ type: "poll.vote", messageId: poll.id, optionIds: [] })).toMatchObject({
      type: "error",
      code: "validation_failed",
    });
    expect(await sb.request({ type: "poll.retract", messageId: poll.id })).toMatchObject({
      type: "ack",
      message: { poll: { myVotes: [] } },
    });
    expect(await sb.request({ type: "poll.close", messageId: poll.id })).toMatchObject({ type: "error", code: "permission_denied" });
    const sa = await openChatSocket(a, chat.id);
    expect(await sa.request({ type: "poll.close", messageId: poll.id })).toMatchObject({
      type: "ack",
      message: { poll: { closed: true } },
    });
    expect(await sb.next("poll.closed")).toMatchObject({ messageId: poll.id });
    sa.close();
    sb.close();
  });
});

describe("reactions over the socket", () => {
  it("reaction.add and reaction.remove take the REST path; a bad emoji is an error frame", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await sent(a, chat.id, "react to me");
    const sb = await openChatSocket(b, chat.id);
    const added = await sb.request({ type: "reaction.add", messageId: m.id, emoji: "❤" });
    expect(added).toMatchObject({ type: "ack", messageId: m.id, reactions: [{ emoji: "❤️", count: 1, me: true }] });
    expect(await sb.request({ type: "reaction.add", messageId: m.id, emoji: "👍👍" })).toMatchObject({
      type: "error",
      code: "validation_failed",
    });
    const listed = await api("GET", `${C}/${chat.id}/messages/${m.id}/reactions`, { token: a.accessToken });
    expect(listed.body.items).toMatchObject([{ userId: b.id, emoji: "❤️" }]);
    expect(await sb.request({ type: "reaction.remove", messageId: m.id, emoji: "❤️" })).toMatchObject({ type: "ack" });
    expect((await api("GET", `${C}/${chat.id}/messages/${m.id}`, { token: a.accessToken })).body.message.reactions).toEqual([]);
    sb.close();
  });
});
