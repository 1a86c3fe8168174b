import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { unwrap } from "../src/rooms/client";
import { connectRoom, member, seedChat, seedUsers } from "./room-helpers";

const send = (room: DurableObjectStub<ChatRoom>, userId: string, clientMessageId: string, text = `hello ${clientMessageId}`) =>
  room.send({ userId, clientMessageId, type: "text", text });

describe("ChatRoom: the message log", () => {
  it("gives messages dense seqs and every change an eventSeq", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const first = unwrap(await send(room, a!, "c1"));
    const second = unwrap(await send(room, b!, "c2"));
    expect(first.message).toMatchObject({ seq: 1, chatId, senderId: a, type: "text", text: "hello c1", deleted: false, editedAt: null });
    expect(second.message.seq).toBe(2);
    const log = unwrap(await room.events(a!, 0, 100));
    const seqs = log.events.map((e) => e.eventSeq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(log.events.filter((e) => e.type === "message.new").map((e) => (e.message as { seq: number }).seq)).toEqual([1, 2]);
    expect(log.lastEventSeq).toBe(seqs.at(-1));
  });

  it("makes sends idempotent per sender, also for concurrent retries", async () => {
    const [a, b] = await seedUsers(2);
    const { room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const results = await Promise.all(Array.from({ length: 8 }, () => send(room, a!, "same-id", "only once")));
    const values = results.map(unwrap);
    expect(new Set(values.map((v) => v.message.id)).size).toBe(1);
    expect(values.filter((v) => !v.duplicate)).toHaveLength(1);
    // Another sender may reuse the same client id: idempotency is per sender.
    const other = unwrap(await send(room, b!, "same-id", "mine"));
    expect(other.duplicate).toBe(false);
    expect(other.message.seq).toBe(2);
    expect(unwrap(await room.history(a!, { limit: 50 })).items.map((m) => m.text)).toEqual(["only once", "mine"]);
  });

  it("refuses non-members, frozen chats and channel subscribers with their own codes", async () => {
    const [owner, sub, stranger] = await seedUsers(3);
    const channel = await seedChat("channel", [
      [owner!, "owner"],
      [sub!, "member"],
    ]);
    expect(await send(channel.room, sub!, "x")).toMatchObject({ ok: false, error: { status: 403, code: "channel_read_only" } });
    expect(await send(channel.room, stranger!, "x")).toMatchObject({ ok: false, error: { status: 403, code: "not_member" } });
    expect(unwrap(await send(channel.room, owner!, "post")).message.seq).toBe(1);

    const frozen = await seedChat("group", [[owner!, "owner"]], { frozen: true });
    expect(await send(frozen.room, owner!, "x")).toMatchObject({ ok: false, error: { code: "chat_frozen" } });
  });

  it("refuses removed and banned members, and forgets that when they are added back", async () => {
    const [owner, removed, banned] = await seedUsers(3);
    const { room } = await seedChat("group", [
      [owner!, "owner"],
      [removed!, "member"],
      [banned!, "member"],
    ]);
    unwrap(await send(room, removed!, "before"));
    // D1 first, as the chats service does, then the room.
    const { chatId } = unwrap(await room.getMessage(owner!, unwrap(await room.history(owner!, { limit: 1 })).items[0]!.id));
    await env.DB.prepare("DELETE FROM chat_members WHERE chat_id = ? AND user_id IN (?, ?)").bind(chatId, removed!, banned!).run();
    unwrap(
      await room.membersChanged({
        removed: [
          { userId: removed!, reason: "removed" },
          { userId: banned!, reason: "banned" },
        ],
        notice: { event: "removed", actorId: owner!, userIds: [removed!, banned!] },
      }),
    );
    expect(await send(room, removed!, "after")).toMatchObject({ ok: false, error: { code: "member_removed" } });
    expect(await send(room, banned!, "after")).toMatchObject({ ok: false, error: { code: "member_banned" } });
    expect(await room.history(removed!, { limit: 10 })).toMatchObject({ ok: false, error: { code: "member_removed" } });
    unwrap(await room.membersChanged({ added: [member(removed!)] }));
    expect(unwrap(await send(room, removed!, "back")).message.text).toBe("hello back");
    // Re-added in D1 while the room's call was lost: D1 decides, and the room heals.
    await env.DB.prepare("INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)")
      .bind(chatId, banned!, Date.now())
      .run();
    expect(unwrap(await send(room, banned!, "healed")).message.text).toBe("hello healed");
    const system = unwrap(await room.history(owner!, { limit: 50 })).items.filter((m) => m.type === "system");
    expect(system[0]).toMatchObject({
      senderId: null,
      text: null,
      system: { event: "removed", actorId: owner, userIds: [removed, banned] },
    });
  });

  it("pages history by seq through before, after and around", async () => {
    const [a] = await seedUsers(1);
    const { room } = await seedChat("group", [[a!, "owner"]]);
    for (let i = 1; i <= 25; i++) unwrap(await send(room, a!, `m${i}`));
    const latest = unwrap(await room.history(a!, { limit: 10 }));
    expect(latest.items.map((m) => m.seq)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(latest.hasMore).toBe(true);
    const older = unwrap(await room.history(a!, { before: 16, limit: 10 }));
    expect(older.items.map((m) => m.seq)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const oldest = unwrap(await room.history(a!, { before: 6, limit: 10 }));
    expect(oldest).toMatchObject({ hasMore: false });
    expect(oldest.items.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    const after = unwrap(await room.history(a!, { after: 20, limit: 10 }));
    expect(after.items.map((m) => m.seq)).toEqual([21, 22, 23, 24, 25]);
    expect(after.hasMore).toBe(false);
    const around = unwrap(await room.history(a!, { around: 10, limit: 4 }));
    expect(around.items.map((m) => m.seq)).toEqual([8, 9, 10, 11]);
    expect(unwrap(await room.history(a!, { after: 25, limit: 10 })).items).toEqual([]);
  });

  it("edits and deletes: author or admin only, tombstones keep their seq, delete-for-me hides for one member", async () => {
    const [owner, a, b] = await seedUsers(3);
    const { room } = await seedChat("group", [
      [owner!, "owner"],
      [a!, "member"],
      [b!, "member"],
    ]);
    const m = unwrap(await send(room, a!, "e1", "first")).message;
    expect(await room.edit(b!, m.id, { text: "hijack" })).toMatchObject({ ok: false, error: { code: "not_message_author" } });
    const edited = unwrap(await room.edit(a!, m.id, { text: "first, edited" }));
    expect(edited).toMatchObject({ text: "first, edited", seq: 1 });
    expect(edited.editedAt).not.toBeNull();
    expect(await room.remove(b!, m.id, "everyone")).toMatchObject({ ok: false, error: { code: "not_message_author" } });
    unwrap(await room.remove(b!, m.id, "me"));
    expect(unwrap(await room.history(b!, { limit: 10 })).items).toEqual([]);
    expect(await room.getMessage(b!, m.id)).toMatchObject({ ok: false, error: { status: 404 } });
    unwrap(await room.remove(owner!, m.id, "everyone"));
    const [tomb] = unwrap(await room.history(a!, { limit: 10 })).items;
    expect(tomb).toMatchObject({ seq: 1, deleted: true, text: null });
    const types = unwrap(await room.events(a!, 0, 100)).events.map((e) => e.type);
    // Sending reads the chat for the sender without a receipt event (clients infer it).
    expect(types).toEqual(["message.new", "message.updated", "message.deleted"]);
  });

  it("counts unread exactly: others' messages after my read position, not deleted ones", async () => {
    const [a, b] = await seedUsers(2);
    const { room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(unwrap(await send(room, a!, `u${i}`)).message.id);
    unwrap(await send(room, b!, "mine"));
    // b sent after reading everything: sending marks what came before as read.
    expect(unwrap(await room.unread(b!)).count).toBe(0);
    for (let i = 5; i < 8; i++) ids.push(unwrap(await send(room, a!, `u${i}`)).message.id);
    expect(unwrap(await room.unread(b!)).count).toBe(3);
    unwrap(await room.remove(a!, ids[6]!, "everyone"));
    expect(unwrap(await room.unread(b!)).count).toBe(2);
    expect(unwrap(await room.mark(b!, "read", 8))).toEqual({ seq: 8, unread: 1, mentions: 0 });
    // A lower seq is ignored (monotonic).
    expect(unwrap(await room.mark(b!, "read", 2))).toEqual({ seq: 8, unread: 1, mentions: 0 });
    expect(unwrap(await room.mark(b!, "read", 999))).toEqual({ seq: 9, unread: 0, mentions: 0 });
    // a sent after b's message, so a has read it: nothing unread for a.
    expect(unwrap(await room.unread(a!)).count).toBe(0);
  });

  it("writes the chat summary to D1 once per flush, with the message count for admin stats", async () => {
    const [a] = await seedUsers(1);
    const { chatId, room } = await seedChat("group", [[a!, "owner"]]);
    const before = await env.DB.prepare("SELECT value FROM stat_counters WHERE key = 'messages'").first<{ value: number }>();
    for (let i = 0; i < 5; i++) unwrap(await send(room, a!, `s${i}`, `text ${i}`));
    // The room coalesces: nothing reaches D1 until the alarm runs (at most once a second).
    expect(await runDurableObjectAlarm(room)).toBe(true);
    const chat = await env.DB.prepare("SELECT last_seq, last_message FROM chats WHERE id = ?")
      .bind(chatId)
      .first<{ last_seq: number; last_message: string }>();
    expect(chat!.last_seq).toBe(5);
    expect(JSON.parse(chat!.last_message)).toMatchObject({ seq: 5, senderId: a, text: "text 4" });
    const after = await env.DB.prepare("SELECT value FROM stat_counters WHERE key = 'messages'").first<{ value: number }>();
    expect(after!.value - before!.value).toBe(5);
    // Nothing new: the next alarm has nothing to flush and does not count again.
    await runDurableObjectAlarm(room);
    const again = await env.DB.prepare("SELECT value FROM stat_counters WHERE key = 'messages'").first<{ value: number }>();
    expect(again!.value).toBe(after!.value);
  });

  it("limits each member to a burst of 60 sends, then about one per second", async () => {
    const [a, b] = await seedUsers(2);
    const { room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    for (let i = 0; i < 60; i++) unwrap(await send(room, a!, `burst${i}`));
    const refused = await send(room, a!, "burst60");
    expect(refused).toMatchObject({ ok: false, error: { status: 429, code: "rate_limited" } });
    expect(!refused.ok && refused.error.details?.retryAfter).toBeGreaterThanOrEqual(1);
    // Per member: b is not affected.
    expect(unwrap(await send(room, b!, "fine")).duplicate).toBe(false);
  });

  it("loads a member from D1 when its cache has not seen them", async () => {
    const [owner, late] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [[owner!, "owner"]]);
    await env.DB.prepare("INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES (?, ?, 'member', ?)")
      .bind(chatId, late!, Date.now())
      .run();
    expect(unwrap(await send(room, late!, "hi")).message.senderId).toBe(late);
    const cached = await runInDurableObject(room, (_instance, state) =>
      state.storage.sql.exec<{ role: string }>("SELECT role FROM members WHERE user_id = ?", late!).one(),
    );
    expect(cached.role).toBe("member");
  });
});

describe("ChatRoom: survives eviction", () => {
  it("keeps order, members and sockets across evictDurableObject", async () => {
    const [a, b] = await seedUsers(2);
    const { room, chatId } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const sa = await connectRoom(chatId, a!);
    const sb = await connectRoom(chatId, b!);
    expect((await sa.request({ type: "message.send", clientMessageId: "before", text: "before" })).message.seq).toBe(1);
    await evictDurableObject(room);
    // Same sockets, after the object was torn down: they were hibernated, not closed.
    const ack = await sb.request({ type: "message.send", clientMessageId: "after", text: "after eviction" });
    expect(ack).toMatchObject({ type: "ack", message: { seq: 2, senderId: b } });
    const seen = await sa.next("message.new", (f) => f.message.seq === 2);
    expect(seen.message.text).toBe("after eviction");
    // The retry after eviction is still recognised.
    expect((await sa.request({ type: "message.send", clientMessageId: "before", text: "before" })).duplicate).toBe(true);
    expect(unwrap(await room.history(a!, { limit: 10 })).items.map((m) => m.seq)).toEqual([1, 2]);
    sa.close();
    sb.close();
  });
});
