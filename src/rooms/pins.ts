import { AppError } from "../lib/errors";
import { isShadowBanned } from "./member-cache";
import { shadowedFrom } from "./message-rows";
import type { RoomCore } from "./room-core";
import { addMissingColumns } from "./schema-upgrade";
import type { Message } from "./types";

/** Pinned messages a chat may have at once. */
export const MAX_PINS = 50;

const SCHEMA = `CREATE TABLE IF NOT EXISTS pins (seq INTEGER PRIMARY KEY, pinned_by TEXT NOT NULL, pinned_at INTEGER NOT NULL, shadow INTEGER)`;

type PinRow = { seq: number; pinned_by: string; pinned_at: number; shadow: number | null };

/** A pin `viewerId` sees: everyone's, or their own shadow pin. */
const seenBy = (pin: PinRow, viewerId: string) => pin.shadow === null || pin.pinned_by === viewerId;

/** A pinned message and who pinned it when. */
export interface PinnedMessage {
  message: Message;
  pinnedBy: string;
  pinnedAt: string;
}

/**
 * Pinned messages: owners and admins, or members with the `pinMessages` permission, pin and
 * unpin (`message.pinned` / `message.unpinned` events); a deleted or cleared message is unpinned
 * with it (the deletion event says so). A shadow-banned member's pins (and pins of their shadow
 * messages) are shadow pins: listed and told to them alone; their unpinning of someone else's
 * pin changes nothing. A pin by anyone else replaces a shadow pin of the same message.
 */
export class Pins {
  constructor(
    private readonly sql: SqlStorage,
    private readonly room: RoomCore,
  ) {
    sql.exec(SCHEMA);
    // Rooms whose pins predate shadow bans get the column.
    addMissingColumns(sql, "pins", [["shadow", "INTEGER"]]);
  }

  /** Pin a message I can see (idempotent: pinning it again changes nothing). */
  async pin(userId: string, messageId: string): Promise<PinnedMessage> {
    const { row, shadow } = await this.pinnable(userId, messageId);
    const existing = this.find(row.seq);
    const message = this.room.store.toMessage(row, this.room.access.chatId());
    if (existing && (seenBy(existing, userId) || shadow)) {
      return { message, pinnedBy: existing.pinned_by, pinnedAt: new Date(existing.pinned_at).toISOString() };
    }
    const count = this.visible(userId).length;
    if (count >= MAX_PINS)
      throw new AppError(409, "too_many_pins", `A chat can have at most ${MAX_PINS} pinned messages`, { limit: MAX_PINS });
    const at = Date.now();
    this.room.write((emit) => {
      this.sql.exec(
        "INSERT OR REPLACE INTO pins (seq, pinned_by, pinned_at, shadow) VALUES (?, ?, ?, ?)",
        row.seq,
        userId,
        at,
        shadow ? 1 : null,
      );
      emit("message.pinned", { messageId: row.id, seq: row.seq, pinnedBy: userId }, { audience: shadow ? userId : undefined });
    });
    return { message, pinnedBy: userId, pinnedAt: new Date(at).toISOString() };
  }

  /** Unpin a message (idempotent). */
  async unpin(userId: string, messageId: string): Promise<void> {
    const { row, shadow } = await this.pinnable(userId, messageId);
    const existing = this.find(row.seq);
    if (!existing || !seenBy(existing, userId) || (shadow && existing.shadow === null)) return;
    this.room.write((emit) => {
      if (this.sql.exec("DELETE FROM pins WHERE seq = ?", row.seq).rowsWritten > 0) {
        const audience = existing.shadow === 1 ? existing.pinned_by : undefined;
        emit("message.unpinned", { messageId: row.id, seq: row.seq, unpinnedBy: userId }, { audience });
      }
    });
  }

  /** The chat's pinned messages, most recently pinned first (deleted-for-me ones left out). */
  async list(userId: string): Promise<PinnedMessage[]> {
    await this.room.access.requireMember(userId);
    const { store, access } = this.room;
    const items: PinnedMessage[] = [];
    for (const pin of this.visible(userId)) {
      const row = store.findBySeq(pin.seq);
      if (!row || row.deleted_at !== null || store.isHidden(userId, pin.seq) || shadowedFrom(row, userId)) continue;
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

  private find(seq: number): PinRow | undefined {
    return this.sql.exec<PinRow>("SELECT * FROM pins WHERE seq = ?", seq).toArray()[0];
  }

  /** The pins `userId` sees, most recently pinned first. */
  private visible(userId: string): PinRow[] {
    return this.sql
      .exec<PinRow>("SELECT * FROM pins ORDER BY pinned_at DESC, seq DESC")
      .toArray()
      .filter((p) => seenBy(p, userId));
  }

  /**
   * A visible, not deleted message, and the caller's right to pin in a chat that is not frozen;
   * `shadow` when what they pin is seen by them alone (they are shadow-banned, or it is their shadow message).
   */
  private async pinnable(userId: string, messageId: string) {
    const { access } = this.room;
    const member = await access.requireMember(userId);
    access.requirePermission(member, "pinMessages", "pin_forbidden", "You may not pin messages in this chat");
    if (access.config().frozen) throw new AppError(403, "chat_frozen", "This chat is frozen");
    const row = access.visibleMessage(userId, messageId);
    if (row.deleted_at !== null) throw new AppError(404, "not_found", "Message not found");
    return { row, shadow: isShadowBanned(member) || row.shadow === 1 };
  }
}
