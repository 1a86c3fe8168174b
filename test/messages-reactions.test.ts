import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { roomFor, unwrap } from "../src/rooms/client";
import type { ReactionFeed } from "../src/rooms/reaction-feed";
import { C, createChannel, createGroup, MISSING, openChatSocket, send } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { connectRoom, member, seedChat, seedUsers } from "./room-helpers";

/** Reactions: REST, per-viewer `me`, the per-member limit, emoji validation, access, events, coalesced frames, concurrency. */

const path = (chatId: string, messageId: string, emoji?: string) =>
  `${C}/${chatId}/messages/${messageId}/reactions${emoji === undefined ? "" : `/${encodeURIComponent(emoji)}`}`;
const react = (u: TestUser, chatId: string, messageId: string, emoji: string) =>
  api("PUT", path(chatId, messageId, emoji), { token: u.accessToken });
const unreact = (u: TestUser, chatId: string, messageId: string, emoji: string) =>
  api("DELETE", path(chatId, messageId, emoji), { token: u.accessToken });
const reacted = async (u: TestUser, chatId: string, messageId: string, emoji: string) => {
  const res = await react(u, chatId, messageId, emoji);
  expect(res.status, res.text).toBe(200);
  return res.body.reactions as { emoji: string; count: number; me: boolean }[];
};
const getMessage = async (u: TestUser, chatId: string, messageId: string) => {
  const res = await api("GET", `${C}/${chatId}/messages/${messageId}`, { token: u.accessToken });
  expect(res.status, res.text).toBe(200);
  return res.body.message;
};
const events = async (u: TestUser, chatId: string) =>
  (await api("GET", `${C}/${chatId}/events?limit=1000`, { token: u.accessToken })).body.events as any[];

describe("reactions over REST", () => {
  it("count per emoji, most first, with `me` for each viewer; idempotent PUT and DELETE; every change logged", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const m = await send(a, chat.id, "react to me");
    expect(m.reactions).toEqual([]);

    expect(await reacted(b, chat.id, m.id, "👍")).toEqual([{ emoji: "👍", count: 1, me: true }]);
    await reacted(c, chat.id, m.id, "👍");
    await reacted(c, chat.id, m.id, "❤️");
    // ❤ without its emoji selector is the same reaction as ❤️.
    expect(await reacted(a, chat.id, m.id, "❤")).toEqual([
      { emoji: "👍", count: 2, me: false },
      { emoji: "❤️", count: 2, me: true },
    ]);
    await reacted(a, chat.id, m.id, "😂");
    // Again: nothing changes.
    expect(await reacted(b, chat.id, m.id, "👍")).toEqual([
      { emoji: "👍", count: 2, me: true },
      { emoji: "❤️", count: 2, me: false },
      { emoji: "😂", count: 1, me: false },
    ]);

    // Every read renders for its viewer: one message, history, thread.
    expect((await getMessage(c, chat.id, m.id)).reactions).toEqual([
      { emoji: "👍", count: 2, me: true },
      { emoji: "❤️", count: 2, me: true },
      { emoji: "😂", count: 1, me: false },
    ]);
    const page = await api("GET", `${C}/${chat.id}/messages`, { token: b.accessToken });
    expect(page.body.items.find((x: any) => x.id === m.id).reactions[0]).toEqual({ emoji: "👍", count: 2, me: true });
    const thread = await api("GET", `${C}/${chat.id}/messages/${m.id}/thread`, { token: a.accessToken });
    expect(thread.body.parent.reactions[1]).toEqual({ emoji: "❤️", count: 2, me: true });

    expect((await unreact(b, chat.id, m.id, "👍")).status).toBe(204);
    expect((await unreact(b, chat.id, m.id, "👍")).status).toBe(204);
    expect((await getMessage(b, chat.id, m.id)).reactions).toEqual([
      { emoji: "❤️", count: 2, me: false },
      { emoji: "👍", count: 1, me: false },
      { emoji: "😂", count: 1, me: false },
    ]);

    const logged = (await events(a, chat.id)).filter((e) => e.type.startsWith("reaction."));
    expect(logged.map((e) => [e.type, e.userId, e.emoji])).toEqual([
      ["reaction.added", b.id, "👍"],
      ["reaction.added", c.id, "👍"],
      ["reaction.added", c.id, "❤️"],
      ["reaction.added", a.id, "❤️"],
      ["reaction.added", a.id, "😂"],
      ["reaction.removed", b.id, "👍"],
    ]);
    expect(logged[0]).toMatchObject({ messageId: m.id, seq: m.seq });
  });

  it("lists who reacted, oldest first, by emoji, in keyset pages", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const m = await send(a, chat.id);
    for (const [u, e] of [
      [a, "👍"],
      [b, "👍"],
      [b, "🎉"],
      [c, "👍"],
    ] as const)
      await reacted(u, chat.id, m.id, e);
    const first = await api("GET", `${path(chat.id, m.id)}?limit=3`, { token: c.accessToken });
    expect(first.status, first.text).toBe(200);
    expect(first.body.items.map((r: any) => [r.userId, r.emoji])).toEqual([
      [a.id, "👍"],
      [b.id, "👍"],
      [b.id, "🎉"],
    ]);
    expect(typeof first.body.items[0].createdAt).toBe("string");
    const rest = await api("GET", `${path(chat.id, m.id)}?limit=3&cursor=${first.body.nextCursor}`, { token: c.accessToken });
    expect(rest.body).toMatchObject({ items: [{ userId: c.id, emoji: "👍" }], nextCursor: null });
    const party = await api("GET", `${path(chat.id, m.id)}?emoji=${encodeURIComponent("🎉")}`, { token: a.accessToken });
    expect(party.body).toEqual({ items: [expect.objectContaining({ userId: b.id })], nextCursor: null });
    expectError(await api("GET", `${path(chat.id, m.id)}?cursor=nonsense`, { token: a.accessToken }), 400, "invalid_cursor");
  });

  it("allows 3 different emojis per member and message (409 too_many_reactions for a 4th)", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const m = await send(a, chat.id);
    for (const e of ["👍", "❤️", "😂"]) await reacted(a, chat.id, m.id, e);
    expect((await reacted(a, chat.id, m.id, "😂")).length).toBe(3); // the same one again is fine
    const error = expectError(await react(a, chat.id, m.id, "🔥"), 409, "too_many_reactions");
    expect(error.details).toEqual({ max: 3 });
    expect((await unreact(a, chat.id, m.id, "❤️")).status).toBe(204);
    expect((await reacted(a, chat.id, m.id, "🔥")).map((r) => r.emoji)).toEqual(["👍", "😂", "🔥"]);
    // Another message has its own three.
    const other = await send(a, chat.id);
    await reacted(a, chat.id, other.id, "🔥");
  });

  it("takes exactly one emoji: sequences, skin tones, flags and keycaps, not text, digits or two emojis", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const m = await send(a, chat.id);
    for (const e of ["👨‍👩‍👧", "👍🏽", "🇩🇪", "1️⃣", "🏳️‍🌈"]) {
      expect((await react(a, chat.id, m.id, e)).status, e).not.toBe(400);
      expect((await unreact(a, chat.id, m.id, e)).status, e).toBe(204);
    }
    for (const bad of ["a", "ok", "👍👍", "👍 ", "1", "#", ":)", "👍x", " "]) {
      expectError(await react(a, chat.id, m.id, bad), 400, "validation_failed");
      expectError(await unreact(a, chat.id, m.id, bad), 400, "validation_failed");
    }
    expectError(await api("GET", `${path(chat.id, m.id)}?emoji=`, { token: a.accessToken }), 400, "validation_failed");
    expectError(await api("GET", `${path(chat.id, m.id)}?emoji=x`, { token: a.accessToken }), 400, "validation_failed");
    expect((await react(a, chat.id, m.id, "")).status).toBe(404); // no emoji segment: no such route
    expect((await getMessage(a, chat.id, m.id)).reactions).toEqual([]);
  });

  it("needs a member and a message they can see that is not deleted; frozen chats refuse; subscribers may react", async () => {
    const [a, b, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await send(a, chat.id);
    expectError(await react(stranger, chat.id, m.id, "👍"), 404, "not_found");
    expectError(await api("GET", path(chat.id, m.id), { token: stranger.accessToken }), 404, "not_found");
    expectError(await react(a, chat.id, MISSING, "👍"), 404, "not_found");

    // Hidden for me: gone for me only.
    expect((await api("DELETE", `${C}/${chat.id}/messages/${m.id}?for=me`, { token: b.accessToken })).status).toBe(204);
    expectError(await react(b, chat.id, m.id, "👍"), 404, "not_found");
    await reacted(a, chat.id, m.id, "👍");

    // Deleted for everyone: its reactions are erased with it.
    expect((await api("DELETE", `${C}/${chat.id}/messages/${m.id}`, { token: a.accessToken })).status).toBe(204);
    expectError(await react(a, chat.id, m.id, "👍"), 404, "not_found");
    expectError(await unreact(a, chat.id, m.id, "👍"), 404, "not_found");
    expectError(await api("GET", path(chat.id, m.id), { token: a.accessToken }), 404, "not_found");
    expect((await getMessage(a, chat.id, m.id)).reactions).toEqual([]);

    const kept = await send(a, chat.id);
    await reacted(b, chat.id, kept.id, "👍");
    expect((await api("POST", `${C}/${chat.id}/freeze`, { token: a.accessToken })).status).toBe(200);
    expectError(await react(b, chat.id, kept.id, "🎉"), 403, "chat_frozen");
    expectError(await unreact(b, chat.id, kept.id, "👍"), 403, "chat_frozen");

    const channel = await createChannel(a, [b]);
    const post = await send(a, channel.id, "news");
    expect(await reacted(b, channel.id, post.id, "🔥")).toEqual([{ emoji: "🔥", count: 1, me: true }]);
  });

  it("clearing the history erases the reactions of what it cleared", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const m = await send(a, chat.id);
    await reacted(a, chat.id, m.id, "👍");
    expect((await api("POST", `${C}/${chat.id}/truncate`, { token: a.accessToken })).status).toBeLessThan(300);
    const rows = await runInDurableObject(roomFor(env, chat.id), (_i, state) =>
      state.storage.sql.exec("SELECT * FROM reactions").toArray(),
    );
    expect(rows).toEqual([]);
  });
});

describe("reaction frames", () => {
  it("reach sockets as a `reactions` frame with counts and lastEventSeq, and replay as logged events", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await send(a, chat.id);
    const sb = await openChatSocket(b, chat.id);
    await reacted(a, chat.id, m.id, "🎉");
    const frame = await sb.next("reactions");
    const last = (await events(a, chat.id)).at(-1);
    expect(last).toMatchObject({ type: "reaction.added", userId: a.id, emoji: "🎉", messageId: m.id });
    expect(frame).toEqual({
      type: "reactions",
      messageId: m.id,
      seq: m.seq,
      reactions: [{ emoji: "🎉", count: 1 }],
      lastEventSeq: last.eventSeq,
    });
    // The logged event itself is not sent live.
    expect(sb.frames.filter((f) => f.type === "reaction.added")).toEqual([]);

    // sync replays it exactly.
    const ack = await sb.request({ type: "sync", afterEventSeq: last.eventSeq - 1 });
    expect(ack.lastEventSeq).toBe(last.eventSeq);
    expect(sb.frames.find((f) => f.eventSeq === last.eventSeq)).toMatchObject({ type: "reaction.added", emoji: "🎉" });
    sb.close();
  });

  it("coalesce: 20 members reacting at once cost a socket 2 frames (the first at once, the rest at the next flush, not the early alarm)", async () => {
    const users = await seedUsers(21);
    const [owner, ...reactors] = users as [string, ...string[]];
    const { chatId, room } = await seedChat("group", [[owner, "owner"], ...reactors.map((u) => [u, "member"] as [string, "member"])]);
    unwrap(await room.membersChanged({ updated: users.map((u) => member(u, u === owner ? "owner" : "member")) }));
    const { message } = unwrap(await room.send({ userId: owner, clientMessageId: "m1", type: "text", text: "vote" }));
    const socket = await connectRoom(chatId, owner);
    const start = socket.frames.length;
    // All at once inside the room (no network between them): well within one interval.
    await runInDurableObject(room, async (instance: ChatRoom) => {
      const results = await Promise.all(reactors.map((u) => instance.react(u, message.id, "👍")));
      expect(results.every((r) => r.ok)).toBe(true);
    });
    // The alarm (due a minute later at most) flushes nothing before the interval has passed …
    expect(await runDurableObjectAlarm(room)).toBe(true);
    // … the flush timer does, once: here called directly instead of waiting for it.
    await runInDurableObject(room, (instance: ChatRoom) => (instance as unknown as { reactionFeed: ReactionFeed }).reactionFeed.flush());
    await socket.next("reactions", (f) => f.reactions[0]?.count === 20, start);
    const frames = socket.frames.slice(start).filter((f) => f.type === "reactions");
    expect(frames.map((f) => f.reactions[0].count)).toEqual([1, 20]);
    expect(frames[1].lastEventSeq).toBe(unwrap(await room.events(owner, 0, 1000)).lastEventSeq);
    socket.close();
  });

  it("go out before any later logged event, so a socket that saw eventSeq N has every reaction up to N", async () => {
    const [owner, b, c] = await seedUsers(3);
    const { chatId, room } = await seedChat("group", [
      [owner!, "owner"],
      [b!, "member"],
      [c!, "member"],
    ]);
    const { message } = unwrap(await room.send({ userId: owner!, clientMessageId: "m1", type: "text", text: "hi" }));
    const socket = await connectRoom(chatId, owner!);
    const start = socket.frames.length;
    await runInDurableObject(room, async (instance: ChatRoom) => {
      unwrap(await instance.react(b!, message.id, "👍")); // at once
      unwrap(await instance.react(c!, message.id, "👍")); // waits for the interval …
      unwrap(await instance.send({ userId: owner!, clientMessageId: "m2", type: "text", text: "next" })); // … or this event
    });
    await socket.next("message.new", (f) => f.message.clientMessageId === "m2", start);
    const seen = socket.frames.slice(start).map((f) => (f.type === "reactions" ? `reactions:${f.reactions[0].count}` : f.type));
    expect(seen).toEqual(["reactions:1", "reactions:2", "message.new"]);
    socket.close();
  });
});

describe("concurrent reactions", () => {
  it("20 members reacting with the same emoji at once count exactly 20; one member 10 times at once counts 1", async () => {
    const users = await seedUsers(20);
    const { room } = await seedChat(
      "group",
      users.map((u, i) => [u, i === 0 ? "owner" : "member"]),
    );
    const { message } = unwrap(await room.send({ userId: users[0]!, clientMessageId: "m1", type: "text", text: "hi" }));
    const results = await Promise.all(users.map((u) => room.react(u, message.id, "🔥")));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(unwrap(await room.getMessage(users[1]!, message.id)).reactions).toEqual([{ emoji: "🔥", count: 20, me: true }]);

    const again = await Promise.all(Array.from({ length: 10 }, () => room.react(users[0]!, message.id, "🎉")));
    expect(again.every((r) => r.ok)).toBe(true);
    expect(unwrap(await room.getMessage(users[1]!, message.id)).reactions).toEqual([
      { emoji: "🔥", count: 20, me: true },
      { emoji: "🎉", count: 1, me: false },
    ]);
    const { events: logged } = unwrap(await room.events(users[0]!, 0, 1000));
    expect(logged.filter((e) => e.type === "reaction.added" && e.emoji === "🎉")).toHaveLength(1);

    // Four different emojis at once from one member: three win, one is refused.
    const four = await Promise.all(["😀", "😎", "🤔", "🙃"].map((e) => room.react(users[2]!, message.id, e)));
    expect(four.filter((r) => r.ok)).toHaveLength(2); // 🔥 already counts as one of their three
    expect(four.filter((r) => !r.ok).map((r) => !r.ok && r.error.code)).toEqual(["too_many_reactions", "too_many_reactions"]);
  });
});
