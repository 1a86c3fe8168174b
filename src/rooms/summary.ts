import type { RoomStore } from "./store";

/**
 * Write a chat's summary to D1: last seq, last activity and a preview of the newest message that
 * is not deleted, plus the messages added since the last flush to the admin stats counter. The
 * room calls this from its alarm, so D1 sees at most one such write per chat per second, plus
 * one read-position update per member who sent since the last flush.
 */
export async function writeSummary(db: D1Database, chatId: string, store: RoomStore, at: number): Promise<void> {
  const last = store.lastVisibleMessage();
  const lastSeq = store.lastSeq();
  const flushedSeq = Number(store.getMeta("flushedSeq") ?? 0);
  const preview = last
    ? JSON.stringify({
        id: last.id,
        seq: last.seq,
        senderId: last.sender_id,
        type: last.type,
        text: last.text?.slice(0, 140) ?? null,
        createdAt: new Date(last.created_at).toISOString(),
      })
    : null;
  // Senders have read up to their own messages: copy that to D1, once per sender per flush.
  const reads = store.transient.takePendingReads().map((r) =>
    db.prepare("UPDATE chat_members SET read_seq = ? WHERE chat_id = ? AND user_id = ? AND read_seq < ?").bind(r.seq, chatId, r.userId, r.seq),
  );
  await db.batch([
    ...reads,
    db
      .prepare("UPDATE chats SET last_seq = ?, last_activity_at = max(last_activity_at, ?), last_message = ? WHERE id = ?")
      .bind(lastSeq, last?.created_at ?? at, preview, chatId),
    db.prepare("UPDATE stat_counters SET value = value + ? WHERE key = 'messages'").bind(Math.max(0, lastSeq - flushedSeq)),
  ]);
  store.setMeta("flushedSeq", String(lastSeq));
}
