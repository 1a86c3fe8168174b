import { AppError } from "../lib/errors";
import type { RoomCore } from "./room-core";
import type { Message } from "./types";

/** Pinned messages a chat may have at once. */
export const MAX_PINS = 50;

const SCHEMA = `CREATE TABLE IF NOT EXISTS pins (seq INTEGER PRIMARY KEY, pinned_by TEXT NOT NULL, pinned_at INTEGER NOT NULL)`;

/** A pinned message and who pinned it when. */
export interface PinnedMessage {
  message: Message;
  pinnedBy: string;
  pinnedAt: string;
}

/**
 * Pinned messages: owners and admins, or members with the `pinMessages` permission, pin and
 * unpin (`message.pinned` / `message.unpinned` events); a deleted or cleared message is unpinned
 * with it (the deletion event says so).
 */
export class Pins {
  constructor(
    private readonly sql: SqlStorage,
    private readonly room: RoomCore,
  ) {
    sql.exec(SCHEMA);
  }

  /** Pin a message I can see (idempotent: pinning it again changes nothing). */
  async pin(userId: string, messageId: string): Promise<PinnedMessage> {
    const row = await this.pinnable(userId, messageId);
    const existing = this.sql.exec<{ pinned_by: string; pinned_at: number }>("SELECT * FROM pins WHERE seq = ?", row.seq).toArray()[0];
    const message = this.room.store.toMessage(row, this.room.access.chatId());
    if (existing) return { message, pinnedBy: existing.pinned_by, pinnedAt: new Date(existing.pinned_at).toISOString() };
    const count = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM pins").one().n;
    if (count >= MAX_PINS)
      throw new AppError(409, "too_many_pins", `A chat can have at most ${MAX_PINS} pinned messages`, { limit: MAX_PINS });
    const at = Date.now();
    this.room.write((emit) => {
      this.sql.exec("INSERT INTO pins (seq, pinned_by, pinned_at) VALUES (?, ?, ?)", row.seq, userId, at);
      emit("message.pinned", { messageId: row.id, seq: row.seq, pinnedBy: userId });
    });
    return { message, pinnedBy: userId, pinnedAt: new Date(at).toISOString() };
  }

  /** Unpin a message (idempotent). */
  async unpin(userId: string, messageId: string): Promise<void> {
    const row = await this.pinnable(userId, messageId);
    this.room.write((emit) => {
      if (this.sql.exec("DELETE FROM pins WHERE seq = ?", row.seq).rowsWritten > 0) {
        emit("message.unpinned", { messageId: row.id, seq: row.seq, unpinnedBy: userId });
      }
    });
  }

  /** The chat's pinned messages, most recently pinned first (deleted-for-me ones left out). */
  async list(userId: string): Promise<PinnedMessage[]> {
    await this.room.access.requireMember(userId);
    const { store, access } = this.room;
    const pins = this.sql
      .exec<{ seq: number; pinned_by: string; pinned_at: number }>("SELECT * FROM pins ORDER BY pinned_at DESC, seq DESC")
      .toArray();
    const items: PinnedMessage[] = [];
    for (const pin of pins) {
      const row = store.findBySeq(pin.seq);
      if (!row || row.deleted_at !== null || store.isHidden(userId, pin.seq)) continue;
      items.push({
        message: store.toMessage(row, access.chatId()),
        pinnedBy: pin.pinned_by,
        pinnedAt: new Date(pin.pinned_at).toISOString(),
      });
    }
    return items;
  }

  /** Unpin messages that were deleted (`seq`) or cleared (`throughSeq`); inside the deleting write. */
  dropDeleted(where: { seq: number } | { throughSeq: number }): void {
    if ("seq" in where) this.sql.exec("DELETE FROM pins WHERE seq = ?", where.seq);
    else this.sql.exec("DELETE FROM pins WHERE seq <= ?", where.throughSeq);
  }

  /** A visible, not deleted message, and the caller's right to pin in a chat that is not frozen. */
  private async pinnable(userId: string, messageId: string) {
    const { access } = this.room;
    const member = await access.requireMember(userId);
    access.requirePermission(member, "pinMessages", "pin_forbidden", "You may not pin messages in this chat");
    if (access.config().frozen) throw new AppError(403, "chat_frozen", "This chat is frozen");
    const row = access.visibleMessage(userId, messageId);
    if (row.deleted_at !== null) throw new AppError(404, "not_found", "Message not found");
    return row;
  }
}
