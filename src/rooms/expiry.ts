import { attachmentIdsOf, type MessageRow } from "./message-rows";
import type { RoomCore } from "./room-core";

/** Messages one alarm erases at most (the rest on the next wake-up, at once). */
const BATCH = 200;
/** A failed detach of expired messages' media is tried again this much later. */
const DETACH_RETRY_MS = 30_000;

/** Expired messages whose media references are still to be dropped in D1 (kept until that succeeded). */
const SCHEMA = "CREATE TABLE IF NOT EXISTS expired_media (message_id TEXT PRIMARY KEY)";

/**
 * Disappearing messages: a message with `expires_at` (the chat's time to live when it was sent,
 * or its own `ttlSeconds`) is erased by the room's alarm once that time has come, like a delete
 * for everyone (text, content, edit history, reactions, poll, mentions, search entry; unpinned;
 * a tombstone keeps the seq; the events that carried it keep only the tombstone), with a
 * `message.expired {messageId, seq}` event; its attachments are dropped (media erases what
 * nothing references any more; a failed drop is kept in `expired_media` and retried by the alarm).
 */
export class MessageExpiry {
  constructor(private readonly room: RoomCore) {
    room.store.sql.exec(SCHEMA);
  }

  /** The alarm: erase what is due at `now`. Answers when the next message expires, or null. */
  async expireDue(now: number): Promise<number | null> {
    const { store } = this.room;
    let retryAt = await this.detachExpired();
    const due = store.sql
      .exec<MessageRow>(
        "SELECT * FROM messages WHERE expires_at IS NOT NULL AND expires_at <= ? AND deleted_at IS NULL ORDER BY expires_at LIMIT ?",
        now,
        BATCH,
      )
      .toArray();
    if (due.length > 0) {
      this.room.write((emit) => {
        for (const row of due) {
          this.room.media.staged.unstage(...attachmentIdsOf(row));
          store.deleteMessage(row, now);
          this.room.pins.dropDeleted({ seq: row.seq });
          const audience = row.shadow === 1 ? (row.sender_id ?? undefined) : undefined;
          emit("message.expired", { messageId: row.id, seq: row.seq }, { audience });
          if (row.type !== "system") store.summary.countRemoved(1);
          // The thread it replied to counts one reply fewer (a shadow reply was never counted).
          if (row.reply_to_seq !== null && row.shadow === null) {
            const parent = store.findBySeq(row.reply_to_seq);
            if (parent) emit("message.replies", { messageId: parent.id, seq: parent.seq, replyCount: parent.reply_count });
          }
        }
        store.events.scrubMessages({ seqs: due.map((r) => r.seq) });
        for (const r of due) {
          if (attachmentIdsOf(r).length > 0) store.sql.exec("INSERT OR IGNORE INTO expired_media (message_id) VALUES (?)", r.id);
        }
      });
      this.room.summaryChanged();
      retryAt = await this.detachExpired();
      if (due.length === BATCH) return now;
    }
    const next = this.nextAt();
    return retryAt !== null && (next === null || retryAt < next) ? retryAt : next;
  }

  /**
   * Drop the D1 media references of expired messages (media erases what nothing references any
   * more). Answers null when done, or when to try again after a failure (the rows stay).
   */
  private async detachExpired(): Promise<number | null> {
    const { store, host } = this.room;
    const ids = store.sql
      .exec<{ message_id: string }>("SELECT message_id FROM expired_media LIMIT 500")
      .toArray()
      .map((r) => r.message_id);
    if (ids.length === 0) return null;
    try {
      await host.detachMedia(ids);
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "detaching expired media failed", error: String(err) }));
      return Date.now() + DETACH_RETRY_MS;
    }
    store.sql.exec("DELETE FROM expired_media WHERE message_id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
    return null;
  }

  /** When the next message expires, or null. */
  nextAt(): number | null {
    return this.room.store.sql
      .exec<{ at: number | null }>("SELECT min(expires_at) AS at FROM messages WHERE expires_at IS NOT NULL AND deleted_at IS NULL")
      .one().at;
  }
}
