import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { unwrap } from "../src/rooms/client";
import { RoomStore } from "../src/rooms/store";
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

/** A group of two (a owns it), straight from the room helpers. */
async function twoMembers() {
  const [a, b] = (await seedUsers(2)) as [string, string];
  const { chatId, room } = await seedChat("group", [
    [a, "owner"],
    [b, "member"],
  ]);
  return { chatId, room, a, b };
}

/** Text messages by `senders`, in order, written by `store` in one transaction (no room timers involved). */
function insert(state: DurableObjectState, store: RoomStore, senders: string[]) {
  state.storage.transactionSync(() => {
    for (const senderId of senders)
      store.insertMessage({
        id: crypto.randomUUID(),
        senderId,
        clientMessageId: null,
        type: "text",
        text: "x",
        system: null,
        at: Date.now(),
      });
  });
}

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
    const { chatId, room, a, b } = await twoMembers();
    await runInDurableObject(room, async (_instance, state) => {
      // A store of its own, so no timer of the room flushes these sends before b reads further.
      const store = new RoomStore(state.storage.sql);
      insert(state, store, [b, a, a]);
      store.summary.changed();
      await env.DB.prepare("UPDATE chat_members SET read_seq = 3 WHERE chat_id = ? AND user_id = ?").bind(chatId, b).run();
      await store.summary.flush(env.DB, chatId, Date.now());
    });
    expect(await readPositions(chatId)).toEqual({ [a]: 3, [b]: 3 });
  });

  /**
   * Three sends, flushed by a store of the test's own; `meanwhile` runs while that flush waits on
   * D1 (`flush` starts another). Answers how much the admin counter grew in all.
   */
  async function counterGrowth(
    meanwhile: (t: {
      store: RoomStore;
      state: DurableObjectState;
      a: string;
      flushing: Promise<void>;
      flush: () => Promise<void>;
    }) => Promise<void>,
  ) {
    const { chatId, room, a } = await twoMembers();
    const start = await messagesCounter();
    await runInDurableObject(room, async (_instance, state) => {
      const store = new RoomStore(state.storage.sql);
      insert(state, store, [a, a, a]);
      store.summary.changed();
      const flush = () => store.summary.flush(env.DB, chatId, Date.now());
      await meanwhile({ store, state, a, flushing: flush(), flush });
    });
    return (await messagesCounter()) - start;
  }

  it("runs one flush at a time: a send during a flush is counted once, by the next", async () => {
    const growth = await counterGrowth(async ({ store, state, a, flushing, flush }) => {
      insert(state, store, [a]);
      store.summary.changed();
      await Promise.all([flushing, flush()]);
    });
    expect(growth).toBe(4);
  });

  it("counts nothing twice when a rolled-back write reloads the state while a flush waits on D1", async () => {
    const growth = await counterGrowth(async ({ store, state, a, flushing, flush }) => {
      // A write rolls back meanwhile: memory is dropped and read again from storage.
      store.reset();
      expect(store.summary.dirty).toBe(false);
      await flushing;
      insert(state, store, [a]);
      store.summary.changed();
      await flush();
    });
    expect(growth).toBe(4);
  });

  describe("rooms an older version wrote", () => {
    /**
     * Three sends flushed (a, b, a), then `older` rewrites the room's SQLite as that version left
     * it, with b's position (`pendingSeq`) waiting in pending_reads and not yet in D1.
     */
    async function olderRoom(older: (sql: SqlStorage, b: string) => void, pendingSeq = 2) {
      const { chatId, room, a, b } = await twoMembers();
      const start = await messagesCounter();
      for (const userId of [a, b, a]) await send(room, userId, "before");
      await runDurableObjectAlarm(room);
      expect((await messagesCounter()) - start).toBe(3);
      await env.DB.prepare("UPDATE chat_members SET read_seq = 0 WHERE chat_id = ? AND user_id = ?").bind(chatId, b).run();
      await runInDurableObject(room, async (_instance, state) => {
        older(state.storage.sql, b);
        state.storage.sql.exec("CREATE TABLE IF NOT EXISTS pending_reads (user_id TEXT PRIMARY KEY, seq INTEGER NOT NULL)");
        state.storage.sql.exec("INSERT INTO pending_reads (user_id, seq) VALUES (?, ?)", b, pendingSeq);
        await state.storage.setAlarm(Date.now());
      });
      await evictDurableObject(room);
      return { chatId, room, a, b, start };
    }

    /** After the restart: pending_reads is gone, and the flush writes b's position without counting anything twice. */
    async function expectUpgraded(
      r: Awaited<ReturnType<typeof olderRoom>>,
      state: Record<string, number>,
      bReadSeq: number,
      count: number,
    ) {
      expect(await summaryState(r.room)).toEqual(state);
      const tables = await runInDurableObject(r.room, (_instance, s) =>
        s.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'pending_reads'").toArray(),
      );
      expect(tables).toEqual([]);
      expect(await runDurableObjectAlarm(r.room)).toBe(true);
      expect(await readPositions(r.chatId)).toEqual({ [r.a]: 3, [r.b]: bReadSeq });
      expect((await messagesCounter()) - r.start).toBe(count);
    }

    it("one without the watermark columns", async () => {
      const r = await olderRoom((sql) => {
        sql.exec("ALTER TABLE summary_state DROP COLUMN counted_seq");
        sql.exec("ALTER TABLE summary_state DROP COLUMN reads_seq");
        sql.exec("UPDATE summary_state SET dirty = 1");
      });
      await expectUpgraded(r, { user_messages: 3, counted_seq: 3, reads_seq: 1 }, 2, 3);
    });

    it("one that kept the summary in meta keys", async () => {
      const r = await olderRoom((sql) => {
        sql.exec("DROP TABLE summary_state");
        sql.exec("INSERT INTO meta (key, value) VALUES ('flushedSeq', '3'), ('summaryDirty', '1'), ('lastFlushAt', '0')");
      });
      await expectUpgraded(r, { user_messages: 3, counted_seq: 3, reads_seq: 1 }, 2, 3);
    });

    it("this version's room after the older one ran again (a rollback): its sends are counted once", async () => {
      const r = await olderRoom((sql, b) => {
        // The older version stored and counted b's next send (seq 4) without moving the watermarks.
        sql.exec(
          "INSERT INTO messages (id, sender_id, type, text, created_at) VALUES (?, ?, 'text', 'older', ?)",
          crypto.randomUUID(),
          b,
          Date.now(),
        );
        sql.exec("UPDATE summary_state SET user_messages = 4, dirty = 1");
      }, 4);
      // What this version had flushed stays the read watermark (3): the older version's position is past it.
      await expectUpgraded(r, { user_messages: 4, counted_seq: 4, reads_seq: 3 }, 4, 4);
    });
  });
});
