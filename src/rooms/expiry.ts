import { attachmentIdsOf, type MessageRow } from "./message-rows";
import type { RoomCore } from "./room-core";

/** Messages one alarm erases at most (the rest on the next wake-up, at once). */
const BATCH = 200;

/**
 * Disappearing messages: a message with `expires_at` (the chat's time to live when it was sent,
 * or its own `ttlSeconds`) is erased by the room's alarm once that time has come, like a delete
 * for everyone (text, content, edit history, reactions, poll, mentions, search entry; unpinned;
 * a tombstone keeps the seq; the events that carried it keep only the tombstone), with a
 * `message.expired {messageId, seq}` event; its attachments are dropped (media erases what
 * nothing references any more).
 */
export class MessageExpiry {
  constructor(private readonly room: RoomCore) {}

  /** The alarm: erase what is due at `now`. Answers when the next message expires, or null. */
  async expireDue(now: number): Promise<number | null> {
    const { store } = this.room;
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
          store.summary.countMessages(-1);
          // The thread it replied to counts one reply fewer (a shadow reply was never counted).
          if (row.reply_to_seq !== null && row.shadow === null) {
            const parent = store.findBySeq(row.reply_to_seq);
            if (parent) emit("message.replies", { messageId: parent.id, seq: parent.seq, replyCount: parent.reply_count });
          }
        }
        store.events.scrubMessages({ seqs: due.map((r) => r.seq) });
      });
      this.room.summaryChanged();
      const withMedia = due.filter((r) => r.content?.includes('"attachments"')).map((r) => r.id);
      if (withMedia.length > 0) {
        try {
          await this.room.host.detachMedia(withMedia);
        } catch (err) {
          console.error(JSON.stringify({ level: "error", msg: "detaching expired media failed", error: String(err) }));
        }
      }
      if (due.length === BATCH) return now;
    }
    return this.nextAt();
  }

  /** When the next message expires, or null. */
  nextAt(): number | null {
    return this.room.store.sql
      .exec<{ at: number | null }>("SELECT min(expires_at) AS at FROM messages WHERE expires_at IS NOT NULL AND deleted_at IS NULL")
      .one().at;
  }
}
