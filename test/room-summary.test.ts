import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { unwrap } from "../src/rooms/client";
import { DEFAULT_PERMISSIONS } from "../src/rooms/types";
import { runAlarmAt } from "./chat-helpers";
import { seedChat, seedUsers } from "./room-helpers";

/**
 * The room's D1 summary derives the admin message count and the senders' read positions from
 * its log when it flushes: a send writes neither. These cases check the derived numbers against
 * every way a message leaves the log.
 */

type Room = DurableObjectStub<ChatRoom>;

const send = async (room: Room, userId: string, text: string, ttlSeconds?: number) =>
  unwrap(await room.send({ userId, clientMessageId: crypto.randomUUID(), type: "text", text, ttlSeconds })).message;

const messagesCounter = async () =>
  (await env.DB.prepare("SELECT value FROM stat_counters WHERE key = 'messages'").first<{ value: number }>())?.value ?? 0;

const readPositions = async (chatId: string) => {
  const { results } = await env.DB.prepare("SELECT user_id, read_seq FROM chat_members WHERE chat_id = ?")
    .bind(chatId)
    .all<{ user_id: string; read_seq: number }>();
  return Object.fromEntries(results.map((r) => [r.user_id, r.read_seq]));
};

const summaryState = (room: Room) =>
  runInDurableObject(room, (_instance, state) =>
    state.storage.sql
      .exec<{ user_messages: number; counted_seq: number; reads_seq: number }>(
        "SELECT user_messages, counted_seq, reads_seq FROM summary_state",
      )
      .one(),
  );

afterEach(() => vi.useRealTimers());

describe("room summary", () => {
  it("counts people's messages and moves senders' read positions through sends, deletes, notices, expiry and a cleared history", async () => {
    const [a, b, c] = await seedUsers(3);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
      [c!, "member"],
    ]);
    const start = await messagesCounter();
    const a1 = await send(room, a!, "a1");
    const a2 = await send(room, a!, "a2");
    await send(room, b!, "b1");
    const a3 = await send(room, a!, "a3");
    // Deleted before any flush counted it: it never reaches the counter.
    await room.remove(a!, a2.id, "everyone");
    // A system notice is not a person's message.
    const config = { chatId, type: "group" as const, frozen: false, slowModeSeconds: 0, permissions: DEFAULT_PERMISSIONS };
    unwrap(await room.configure(config, { name: "renamed" }, { event: "renamed", actorId: a!, name: "renamed" }));
    expect(await runDurableObjectAlarm(room)).toBe(true);
    expect((await messagesCounter()) - start).toBe(3);
    expect(await readPositions(chatId)).toEqual({ [a!]: a3.seq, [b!]: 3, [c!]: 0 });
    expect(await summaryState(room)).toEqual({ user_messages: 3, counted_seq: 5, reads_seq: 5 });

    // Deleted after a flush counted it; a timed message sent and erased before the next flush.
    await room.remove(a!, a1.id, "everyone");
    const timed = await send(room, b!, "gone soon", 60);
    const c1 = await send(room, c!, "c1");
    await runAlarmAt(chatId, Date.parse(timed.expiresAt!) + 1_000);
    vi.useRealTimers();
    expect((await messagesCounter()) - start).toBe(3);
    expect(await readPositions(chatId)).toEqual({ [a!]: a3.seq, [b!]: timed.seq, [c!]: c1.seq });

    // Clearing the history takes every counted message out; later sends count again.
    unwrap(await room.truncate(a!));
    const c2 = await send(room, c!, "after the clear");
    expect(await runDurableObjectAlarm(room)).toBe(true);
    expect((await messagesCounter()) - start).toBe(1);
    expect((await readPositions(chatId))[c!]).toBe(c2.seq);
    // Nothing new: the next flush writes nothing more.
    await runDurableObjectAlarm(room);
    expect((await messagesCounter()) - start).toBe(1);
  });

  it("never moves a read position back when a member read further than their last send", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const b1 = await send(room, b!, "b1");
    await send(room, a!, "a1");
    await send(room, a!, "a2");
    // b reads everything (written to D1 at once), then the flush carries b's older send.
    expect(unwrap(await room.mark(b!, "read", 3)).seq).toBe(3);
    await runDurableObjectAlarm(room);
    expect(await readPositions(chatId)).toEqual({ [a!]: 3, [b!]: 3 });
    expect(b1.seq).toBe(1);
  });

  it("upgrades a room that kept senders' positions in a pending_reads table, without counting anything twice", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const start = await messagesCounter();
    await send(room, a!, "a1");
    await send(room, b!, "b1");
    await send(room, a!, "a2");
    await runDurableObjectAlarm(room);
    expect((await messagesCounter()) - start).toBe(3);
    // As the previous version left it: no watermarks, b's position still waiting to reach D1.
    await env.DB.prepare("UPDATE chat_members SET read_seq = 0 WHERE chat_id = ? AND user_id = ?").bind(chatId, b!).run();
    await runInDurableObject(room, async (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("ALTER TABLE summary_state DROP COLUMN counted_seq");
      sql.exec("ALTER TABLE summary_state DROP COLUMN reads_seq");
      sql.exec("UPDATE summary_state SET dirty = 1");
      sql.exec("CREATE TABLE pending_reads (user_id TEXT PRIMARY KEY, seq INTEGER NOT NULL)");
      sql.exec("INSERT INTO pending_reads (user_id, seq) VALUES (?, 2)", b!);
      await state.storage.setAlarm(Date.now());
    });
    await evictDurableObject(room);
    expect(await summaryState(room)).toEqual({ user_messages: 3, counted_seq: 3, reads_seq: 1 });
    const tables = await runInDurableObject(room, (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'pending_reads'").toArray(),
    );
    expect(tables).toEqual([]);
    expect(await runDurableObjectAlarm(room)).toBe(true);
    expect(await readPositions(chatId)).toEqual({ [a!]: 3, [b!]: 2 });
    expect((await messagesCounter()) - start).toBe(3);
  });
});
