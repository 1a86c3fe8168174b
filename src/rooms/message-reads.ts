import { writeReadPosition } from "./directory";
import type { RoomCore } from "./room-core";
import { previewOf } from "./summary";
import type { KeyDevice, Message } from "./types";

const HISTORY_MAX = 100;

/** A page of history; `device`: the reader's key device, whose envelopes an encrypted chat's messages carry. */
export type HistoryQuery = { before?: number; after?: number; around?: number; limit: number; device?: KeyDevice | null };

/** Reading the log as one member sees it: history, threads, receipts, read positions and counts. */
export class MessageReads {
  constructor(private readonly room: RoomCore) {}

  async history(userId: string, q: HistoryQuery): Promise<{ items: Message[]; hasMore: boolean }> {
    await this.room.access.requireMember(userId);
    const { rows, hasMore } = this.room.store.page(userId, { ...q, limit: Math.min(q.limit, HISTORY_MAX) });
    const items = this.room.store.toMessages(rows, this.room.access.chatId(), userId);
    return { items: this.forViewer(items, userId, q.device), hasMore };
  }

  /** One message as the member sees it (on key device `device`: with its envelope). */
  async getMessage(userId: string, messageId: string, device: KeyDevice | null = null): Promise<Message> {
    await this.room.access.requireMember(userId);
    const message = this.room.store.toMessages([this.room.access.visibleMessage(userId, messageId)], this.room.access.chatId(), userId);
    return this.forViewer(message, userId, device)[0]!;
  }

  /** The replies to a message, oldest first, after a seq (keyset), with the message itself. */
  async thread(
    userId: string,
    messageId: string,
    q: { after?: number; limit: number; device?: KeyDevice | null },
  ): Promise<{ parent: Message; items: Message[]; hasMore: boolean }> {
    await this.room.access.requireMember(userId);
    const { store, access } = this.room;
    const parent = access.visibleMessage(userId, messageId);
    const { rows, hasMore } = store.threadPage(userId, parent.seq, { after: q.after, limit: Math.min(q.limit, HISTORY_MAX) });
    const [first, ...items] = this.forViewer(store.toMessages([parent, ...rows], access.chatId(), userId), userId, q.device);
    return { parent: first!, items, hasMore };
  }

  /** `messages` as the member sees them: their reactions (`me`) and, in encrypted chats, their device's envelopes. */
  private forViewer(messages: Message[], userId: string, device: KeyDevice | null = null): Message[] {
    this.room.encrypted.withEnvelopes(messages, { userId, device });
    return this.withReactions(userId, messages);
  }

  /** Fill in the reactions of `messages` as `userId` sees them (`me`): one query for all of them. */
  private withReactions(userId: string, messages: Message[]): Message[] {
    const summaries = this.room.store.reactions.summaries(
      messages.filter((m) => !m.deleted).map((m) => m.seq),
      userId,
    );
    for (const m of messages) m.reactions = summaries.get(m.seq) ?? [];
    return messages;
  }

  /** Move my read (or delivered) position up to `seq`; lower values are ignored. */
  async mark(userId: string, kind: "read" | "delivered", seq: number): Promise<{ seq: number; unread: number; mentions: number }> {
    const { store, access, host } = this.room;
    const member = await access.requireMember(userId);
    const target = Math.min(seq, store.lastSeq());
    const column = kind === "read" ? "read_seq" : "delivered_seq";
    const moved = this.room.write((emit) => {
      if (!store.members.advance(userId, column, target)) return false;
      // With read receipts off, only the reader's own sockets hear that they read.
      if (kind === "delivered" || member.readReceipts) emit("receipt", { userId, kind, seq: target });
      return true;
    });
    if (moved && kind === "read") {
      if (!member.readReceipts) host.sendToUser(userId, { type: "receipt", userId, kind, seq: target });
      host.waitUntil(writeReadPosition(host.db, access.chatId(), userId, target));
    }
    const current = store.members.get(userId) ?? member;
    const state = {
      seq: kind === "read" ? current.readSeq : current.deliveredSeq,
      unread: store.unreadCount(userId, current.readSeq),
      mentions: store.mentions.count(userId, current.readSeq),
    };
    // My other devices update their chat list (the read position and what is left unread).
    if (moved && kind === "read") {
      host.publish([userId], {
        type: "chat.read",
        chatId: access.chatId(),
        readSeq: state.seq,
        unread: state.unread,
        mentions: state.mentions,
      });
    }
    return state;
  }

  /** Exact unread and mention counts for a member: others' messages after their read position, minus deleted. */
  async unread(userId: string): Promise<{ count: number; mentions: number; readSeq: number; lastSeq: number }> {
    const { store, access } = this.room;
    const member = await access.requireMember(userId);
    return {
      count: store.unreadCount(userId, member.readSeq),
      mentions: store.mentions.count(userId, member.readSeq),
      readSeq: member.readSeq,
      lastSeq: store.lastSeq(),
    };
  }

  /** The chat list's preview as `userId` sees it (a shadow-banned member's own messages included). */
  async preview(userId: string): Promise<Record<string, string | number | null> | null> {
    await this.room.access.requireMember(userId);
    return previewOf(this.room.store.lastVisibleMessageFor(userId) ?? null);
  }

  /**
   * Whether `userId` ever sent a message here. Every message a member sends carries a client id, and
   * its row outlives deletion and expiry (a tombstone keeps sender and seq), so this is one probe of
   * the (sender_id, client_message_id) index, whatever the history's length.
   */
  hasSent(userId: string): boolean {
    const sql = "SELECT 1 AS x FROM messages WHERE sender_id = ? AND client_message_id IS NOT NULL LIMIT 1";
    return this.room.store.sql.exec(sql, userId).toArray().length > 0;
  }

  /** Who received and who read a message (readers who hide receipts are left out). */
  async receipts(userId: string, messageId: string): Promise<{ read: string[]; delivered: string[] }> {
    await this.room.access.requireMember(userId);
    const row = this.room.access.visibleMessage(userId, messageId);
    const others = this.room.store.members.all().filter((m) => m.userId !== row.sender_id);
    return {
      read: others.filter((m) => m.readSeq >= row.seq && m.readReceipts).map((m) => m.userId),
      delivered: others.filter((m) => m.deliveredSeq >= row.seq).map((m) => m.userId),
    };
  }
}
