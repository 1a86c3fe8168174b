import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { writeReadPosition } from "./directory";
import { CLOSE } from "./protocol";
import { RoomAccess } from "./room-access";
import type { RoomStore } from "./store";
import type { ChatConfig, MembershipChange, Message, RoomEvent, SendInput, SystemNotice } from "./types";

const HISTORY_MAX = 100;

/** What the log needs from the Durable Object around it: sockets, the alarm, D1. */
export interface RoomHost {
  db: D1Database;
  /** The name the room was addressed by (the chat id), when the runtime knows it. */
  chatName: string | undefined;
  /** Send an already serialized frame to every socket. */
  broadcastText(text: string): void;
  sendToUser(userId: string, frame: Record<string, unknown>): void;
  closeUser(userId: string, code: number, reason: string): void;
  /** The summary changed: write it to D1 at `at` (not before). */
  summaryDue(at: number): void;
  waitUntil(promise: Promise<unknown>): void;
  /** Run `fn` as one SQLite transaction: a throw leaves nothing of it behind. */
  transaction<T>(fn: () => T): T;
}

/**
 * A chat's message log and its rules: membership and posting rights, dense seqs, idempotent
 * sends, edits, deletes, receipts, unread counts and the event log. Methods throw AppError; the
 * Durable Object turns them into RPC results and socket frames.
 */
export class RoomLog {
  /** Who may do what here: the chat's settings and its members' rights. */
  readonly access: RoomAccess;

  constructor(
    readonly store: RoomStore,
    private readonly host: RoomHost,
  ) {
    this.access = new RoomAccess(store, host.db, host.chatName);
  }

  // --- configuration and membership -------------------------------------------------------

  /** Set or update the chat's settings; `notice` appends a system message, `patch` a chat.updated event. */
  configure(config: ChatConfig, patch?: Record<string, unknown>, notice?: SystemNotice): Message | null {
    const message = this.write((emit) => {
      this.store.setConfig(config);
      if (patch) emit("chat.updated", { chat: patch });
      return notice ? this.appendSystem(notice, emit) : null;
    });
    if (message) this.summaryChanged();
    return message;
  }

  /** Apply membership changes decided in D1: refresh the cache, kick removed sockets, log it. */
  async membersChanged(change: MembershipChange): Promise<Message | null> {
    await this.access.ensureConfig();
    const at = Date.now();
    const removed = change.removed ?? [];
    const notice = this.write((emit) => {
      const lastSeq = this.store.lastSeq();
      for (const m of change.added ?? []) {
        // What was said before someone joined is history, not unread, for them.
        this.store.members.upsert(m, lastSeq);
        emit("member.joined", { userId: m.userId, role: m.role });
      }
      for (const m of change.updated ?? []) {
        this.store.members.upsert(m, lastSeq);
        emit("member.updated", { userId: m.userId, role: m.role, overrides: m.overrides });
      }
      for (const r of removed) {
        this.store.members.remove(r.userId, r.reason, at);
        emit(r.reason === "left" ? "member.left" : "member.removed", { userId: r.userId, reason: r.reason });
      }
      return change.notice ? this.appendSystem(change.notice, emit) : null;
    });
    if (notice) this.summaryChanged();
    for (const r of removed) {
      this.host.closeUser(
        r.userId,
        r.reason === "banned" ? CLOSE.banned : CLOSE.removed,
        r.reason === "left" ? "left the chat" : `${r.reason} from the chat`,
      );
    }
    return notice;
  }

  /** A member changed their read-receipts setting: later reads follow it. */
  async memberSettingsChanged(userId: string, readReceipts: boolean): Promise<void> {
    await this.access.ensureConfig();
    this.store.members.setReadReceipts(userId, readReceipts);
  }

  // --- messages ---------------------------------------------------------------------------

  /**
   * Append a message. A retry with the same `clientMessageId` from the same sender returns the
   * stored message with `duplicate: true` instead of a second copy.
   */
  async send(input: SendInput): Promise<{ message: Message; duplicate: boolean }> {
    const member = await this.access.requireSender(input.userId);
    const at = Date.now();
    const refusal = this.store.limiter.refusal(input.userId, member.role === "member" ? this.access.config().slowModeSeconds : 0, at);
    // Over budget: a retry of something already sent still gets its message; anything else is refused.
    if (refusal) return { message: this.existingSend(input) ?? throwError(refusal), duplicate: true };
    const result = this.write((emit) => {
      const row = this.store.insertMessage({
        id: newId(),
        senderId: input.userId,
        clientMessageId: input.clientMessageId,
        type: "text",
        text: input.text,
        system: null,
        storyId: input.storyReply?.storyId ?? null,
        at,
      });
      if (!row) return { message: this.existingSend(input)!, duplicate: true };
      this.store.limiter.take(input.userId, at);
      const message = this.store.toMessage(row, this.access.chatId());
      emit("message.new", { message });
      this.store.summary.countMessages(1);
      // Sending implies having read everything before it. No receipt is broadcast for that:
      // every client can infer it from message.new, and it would double the fan-out.
      if (this.store.members.advance(input.userId, "read_seq", message.seq))
        this.store.transient.notePendingRead(input.userId, message.seq);
      this.store.transient.clearTyping(input.userId);
      return { message, duplicate: false };
    });
    if (!result.duplicate) this.summaryChanged();
    return result;
  }

  /** The message a sender already sent with this client id, if any. */
  private existingSend(input: SendInput): Message | null {
    const row = this.store.findByClientId(input.userId, input.clientMessageId);
    return row ? this.store.toMessage(row, this.access.chatId()) : null;
  }

  /**
   * Clear the chat's history for everyone (owners and admins; the Worker checked the role): every
   * message so far is deleted, seqs are never reused, and a `chat.truncated` event tells clients
   * to drop what they hold up to `seq`. Unread counts fall to zero with it.
   */
  async truncate(actorId: string): Promise<{ seq: number; removed: number }> {
    const member = await this.access.requireMember(actorId);
    if (member.role !== "owner" && member.role !== "admin")
      throw new AppError(403, "permission_denied", "Only owners and admins can clear the history");
    const result = this.write((emit) => {
      const seq = this.store.lastSeq();
      this.store.summary.countMessages(-this.store.countUserMessagesThrough(seq));
      const removed = this.store.truncate(seq);
      emit("chat.truncated", { seq, actorId });
      return { seq, removed };
    });
    this.summaryChanged();
    return result;
  }

  /** Edit my own text message within 48 hours. */
  async edit(userId: string, messageId: string, text: string): Promise<Message> {
    await this.access.requireMember(userId);
    const row = this.access.visibleMessage(userId, messageId);
    if (row.sender_id !== userId || row.type !== "text")
      throw new AppError(403, "not_message_author", "Only the author can edit a message");
    if (row.deleted_at) throw new AppError(404, "not_found", "Message not found");
    if (Date.now() - row.created_at > 48 * 3600_000) throw new AppError(403, "edit_window_passed", "Messages can be edited for 48 hours");
    if (this.access.config().frozen) throw new AppError(403, "chat_frozen", "This chat is frozen");
    const message = this.write((emit) => {
      this.store.editMessage(row.seq, text, Date.now());
      const edited = this.store.toMessage(this.store.findBySeq(row.seq)!, this.access.chatId());
      emit("message.updated", { message: edited });
      return edited;
    });
    if (row.seq === this.store.lastSeq()) this.summaryChanged();
    return message;
  }

  /** Delete for everyone (author, or an owner/admin) or hide for me. */
  async remove(userId: string, messageId: string, scope: "me" | "everyone"): Promise<null> {
    const member = await this.access.requireMember(userId);
    const row = this.access.visibleMessage(userId, messageId);
    if (scope === "me") {
      this.store.hideFor(userId, row.seq);
      return null;
    }
    const moderator = member.role === "owner" || member.role === "admin";
    if (row.sender_id !== userId && !moderator)
      throw new AppError(403, "not_message_author", "Only the author or an admin can delete this for everyone");
    if (row.deleted_at) return null;
    this.write((emit) => {
      this.store.deleteMessage(row.seq, Date.now());
      if (row.type !== "system") this.store.summary.countMessages(-1);
      emit("message.deleted", { messageId: row.id, seq: row.seq });
    });
    this.summaryChanged();
    return null;
  }

  async history(
    userId: string,
    q: { before?: number; after?: number; around?: number; limit: number },
  ): Promise<{ items: Message[]; hasMore: boolean }> {
    await this.access.requireMember(userId);
    const { rows, hasMore } = this.store.page(userId, { ...q, limit: Math.min(q.limit, HISTORY_MAX) });
    return { items: rows.map((r) => this.store.toMessage(r, this.access.chatId())), hasMore };
  }

  async getMessage(userId: string, messageId: string): Promise<Message> {
    await this.access.requireMember(userId);
    return this.store.toMessage(this.access.visibleMessage(userId, messageId), this.access.chatId());
  }

  async events(
    userId: string,
    after: number,
    limit: number,
  ): Promise<{ events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean; lastEventSeq: number }> {
    await this.access.requireMember(userId);
    return { ...this.store.events.after(after, Math.min(limit, 1000)), lastEventSeq: this.store.lastEventSeq() };
  }

  // --- receipts and unread ------------------------------------------------------------------

  /** Move my read (or delivered) position up to `seq`; lower values are ignored. */
  async mark(userId: string, kind: "read" | "delivered", seq: number): Promise<{ seq: number; unread: number }> {
    const member = await this.access.requireMember(userId);
    const target = Math.min(seq, this.store.lastSeq());
    const column = kind === "read" ? "read_seq" : "delivered_seq";
    const moved = this.write((emit) => {
      if (!this.store.members.advance(userId, column, target)) return false;
      // With read receipts off, only the reader's own sockets hear that they read.
      if (kind === "delivered" || member.readReceipts) emit("receipt", { userId, kind, seq: target });
      return true;
    });
    if (moved && kind === "read") {
      if (!member.readReceipts) this.host.sendToUser(userId, { type: "receipt", userId, kind, seq: target });
      this.host.waitUntil(writeReadPosition(this.host.db, this.access.chatId(), userId, target));
    }
    const current = this.store.members.get(userId) ?? member;
    return { seq: kind === "read" ? current.readSeq : current.deliveredSeq, unread: this.store.unreadCount(userId, current.readSeq) };
  }

  /** Exact unread count for a member: others' messages after their read position, minus deleted. */
  async unread(userId: string): Promise<{ count: number; readSeq: number; lastSeq: number }> {
    const member = await this.access.requireMember(userId);
    return { count: this.store.unreadCount(userId, member.readSeq), readSeq: member.readSeq, lastSeq: this.store.lastSeq() };
  }

  /** Who received and who read a message (readers who hide receipts are left out). */
  async receipts(userId: string, messageId: string): Promise<{ read: string[]; delivered: string[] }> {
    await this.access.requireMember(userId);
    const row = this.access.visibleMessage(userId, messageId);
    const others = this.store.members.all().filter((m) => m.userId !== row.sender_id);
    return {
      read: others.filter((m) => m.readSeq >= row.seq && m.readReceipts).map((m) => m.userId),
      delivered: others.filter((m) => m.deliveredSeq >= row.seq).map((m) => m.userId),
    };
  }

  /** The summary changed: flush now if the last flush is a second old, else when it is. */
  summaryChanged(): void {
    this.host.summaryDue(this.store.summary.changed());
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Direct chats only: whether one of the two blocked the other (then nobody may post). */
  setBlocked(blocked: boolean): void {
    this.store.setMeta("blocked", blocked ? "1" : "0");
  }

  /** Direct chats only: the other person deleted their account; the history stays readable. */
  setPeerDeleted(): void {
    this.store.setMeta("peerDeleted", "1");
  }

  /** Append a system notice (inside a write). */
  private appendSystem(notice: SystemNotice, emit: Emit): Message {
    const row = this.store.insertMessage({
      id: newId(),
      senderId: null,
      clientMessageId: null,
      type: "system",
      text: null,
      system: notice,
      at: Date.now(),
    })!; // no client id: never a duplicate
    const message = this.store.toMessage(row, this.access.chatId());
    emit("message.new", { message });
    return message;
  }

  /**
   * Run a change as one transaction. `emit` logs an event (its eventSeq) inside it; the events
   * go out to the sockets (serialized once) only once the transaction committed, so a failure
   * sends nothing, and the store's memory is dropped so it cannot run ahead of storage.
   */
  private write<T>(fn: (emit: Emit) => T): T {
    const texts: string[] = [];
    let result: T;
    try {
      result = this.host.transaction(() =>
        fn((type, payload) => {
          const { event, text } = this.store.events.append(type, payload, Date.now());
          texts.push(text);
          return event;
        }),
      );
    } catch (err) {
      // Rolled back: what memory holds may be ahead of storage now.
      this.store.reset();
      throw err;
    }
    for (const text of texts) this.host.broadcastText(text);
    return result;
  }
}

type Emit = (type: string, payload: Record<string, unknown>) => RoomEvent;

const throwError = (error: Error): never => {
  throw error;
};
