import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { loadConfigFromDirectory, loadMemberFromDirectory } from "./directory";
import { CLOSE } from "./protocol";
import { SendLimiter } from "./send-limiter";
import { type MemberState, RoomStore } from "./store";
import { type ChatConfig, effectivePermissions, type MembershipChange, type Message, type RoomEvent, type SendInput, type SystemNotice } from "./types";

const SUMMARY_INTERVAL_MS = 1_000;
const HISTORY_MAX = 100;

/** What the log needs from the Durable Object around it: sockets, the alarm, D1. */
export interface RoomHost {
  db: D1Database;
  /** The name the room was addressed by (the chat id), when the runtime knows it. */
  chatName: string | undefined;
  broadcast(frame: Record<string, unknown>): void;
  sendToUser(userId: string, frame: Record<string, unknown>): void;
  closeUser(userId: string, code: number, reason: string): void;
  scheduleAlarm(at: number): void;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * A chat's message log and its rules: membership and posting rights, dense seqs, idempotent
 * sends, edits, deletes, receipts, unread counts and the event log. Methods throw AppError; the
 * Durable Object turns them into RPC results and socket frames.
 */
export class RoomLog {
  readonly limiter = new SendLimiter();

  constructor(
    readonly store: RoomStore,
    private readonly host: RoomHost,
  ) {}

  // --- configuration and membership -------------------------------------------------------

  /** Set or update the chat's settings; `notice` appends a system message, `patch` a chat.updated event. */
  configure(config: ChatConfig, patch?: Record<string, unknown>, notice?: SystemNotice): Message | null {
    this.store.setConfig(config);
    if (patch) this.emit("chat.updated", { chat: patch });
    return notice ? this.appendSystem(notice) : null;
  }

  /** Apply membership changes decided in D1: refresh the cache, kick removed sockets, log it. */
  async membersChanged(change: MembershipChange): Promise<Message | null> {
    await this.ensureConfig();
    const at = Date.now();
    const lastSeq = this.store.lastSeq();
    for (const m of change.added ?? []) {
      // What was said before someone joined is history, not unread, for them.
      this.store.upsertMember(m, lastSeq);
      this.emit("member.joined", { userId: m.userId, role: m.role });
    }
    for (const m of change.updated ?? []) {
      this.store.upsertMember(m, lastSeq);
      this.emit("member.updated", { userId: m.userId, role: m.role, overrides: m.overrides });
    }
    for (const r of change.removed ?? []) {
      this.store.removeMember(r.userId, r.reason, at);
      this.store.transient.clearTyping(r.userId);
      this.emit(r.reason === "left" ? "member.left" : "member.removed", { userId: r.userId, reason: r.reason });
      this.host.closeUser(r.userId, r.reason === "banned" ? CLOSE.banned : CLOSE.removed, r.reason === "left" ? "left the chat" : `${r.reason} from the chat`);
    }
    return change.notice ? this.appendSystem(change.notice) : null;
  }

  // --- messages ---------------------------------------------------------------------------

  /**
   * Append a message. A retry with the same `clientMessageId` from the same sender returns the
   * stored message with `duplicate: true` instead of a second copy.
   */
  async send(input: SendInput): Promise<{ message: Message; duplicate: boolean }> {
    const member = await this.requireSender(input.userId);
    const existing = this.store.findByClientId(input.userId, input.clientMessageId);
    if (existing) return { message: this.store.toMessage(existing, this.chatId()), duplicate: true };
    this.limiter.take(input.userId, member.role === "member" ? this.config().slowModeSeconds : 0);
    const row = this.store.insertMessage({
      id: newId(),
      senderId: input.userId,
      clientMessageId: input.clientMessageId,
      type: "text",
      text: input.text,
      system: null,
      at: Date.now(),
    });
    const message = this.store.toMessage(row, this.chatId());
    this.emit("message.new", { message });
    // Sending implies having read everything before it. No receipt is broadcast for that:
    // every client can infer it from message.new, and it would double the fan-out.
    if (this.store.advance(input.userId, "read_seq", message.seq)) this.store.transient.notePendingRead(input.userId, message.seq);
    this.store.transient.clearTyping(input.userId);
    this.summaryChanged();
    return { message, duplicate: false };
  }

  /**
   * Clear the chat's history for everyone (owners and admins; the Worker checked the role): every
   * message so far is deleted, seqs are never reused, and a `chat.truncated` event tells clients
   * to drop what they hold up to `seq`. Unread counts fall to zero with it.
   */
  async truncate(actorId: string): Promise<{ seq: number; removed: number }> {
    const member = await this.requireMember(actorId);
    if (member.role !== "owner" && member.role !== "admin") throw new AppError(403, "permission_denied", "Only owners and admins can clear the history");
    const seq = this.store.lastSeq();
    const removed = this.store.truncate(seq);
    this.emit("chat.truncated", { seq, actorId });
    this.summaryChanged();
    return { seq, removed };
  }

  /** Edit my own text message within 48 hours. */
  async edit(userId: string, messageId: string, text: string): Promise<Message> {
    await this.requireMember(userId);
    const row = this.visibleMessage(userId, messageId);
    if (row.sender_id !== userId || row.type !== "text") throw new AppError(403, "not_message_author", "Only the author can edit a message");
    if (row.deleted_at) throw new AppError(404, "not_found", "Message not found");
    if (Date.now() - row.created_at > 48 * 3600_000) throw new AppError(403, "edit_window_passed", "Messages can be edited for 48 hours");
    if (this.config().frozen) throw new AppError(403, "chat_frozen", "This chat is frozen");
    this.store.editMessage(row.seq, text, Date.now());
    const message = this.store.toMessage(this.store.findBySeq(row.seq)!, this.chatId());
    this.emit("message.updated", { message });
    if (row.seq === this.store.lastSeq()) this.summaryChanged();
    return message;
  }

  /** Delete for everyone (author, or an owner/admin) or hide for me. */
  async remove(userId: string, messageId: string, scope: "me" | "everyone"): Promise<null> {
    const member = await this.requireMember(userId);
    const row = this.visibleMessage(userId, messageId);
    if (scope === "me") {
      this.store.hideFor(userId, row.seq);
      return null;
    }
    const moderator = member.role === "owner" || member.role === "admin";
    if (row.sender_id !== userId && !moderator) throw new AppError(403, "not_message_author", "Only the author or an admin can delete this for everyone");
    if (row.deleted_at) return null;
    this.store.deleteMessage(row.seq, Date.now());
    this.emit("message.deleted", { messageId: row.id, seq: row.seq });
    this.summaryChanged();
    return null;
  }

  async history(userId: string, q: { before?: number; after?: number; around?: number; limit: number }): Promise<{ items: Message[]; hasMore: boolean }> {
    await this.requireMember(userId);
    const { rows, hasMore } = this.store.page(userId, { ...q, limit: Math.min(q.limit, HISTORY_MAX) });
    return { items: rows.map((r) => this.store.toMessage(r, this.chatId())), hasMore };
  }

  async getMessage(userId: string, messageId: string): Promise<Message> {
    await this.requireMember(userId);
    return this.store.toMessage(this.visibleMessage(userId, messageId), this.chatId());
  }

  async events(userId: string, after: number, limit: number): Promise<{ events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean; lastEventSeq: number }> {
    await this.requireMember(userId);
    return { ...this.store.eventsAfter(after, Math.min(limit, 1000)), lastEventSeq: this.store.lastEventSeq() };
  }

  // --- receipts and unread ------------------------------------------------------------------

  /** Move my read (or delivered) position up to `seq`; lower values are ignored. */
  async mark(userId: string, kind: "read" | "delivered", seq: number): Promise<{ seq: number; unread: number }> {
    const member = await this.requireMember(userId);
    const target = Math.min(seq, this.store.lastSeq());
    const column = kind === "read" ? "read_seq" : "delivered_seq";
    if (this.store.advance(userId, column, target)) {
      if (kind === "read") this.readChanged(userId, target);
      else this.emit("receipt", { userId, kind, seq: target });
    }
    const current = this.store.member(userId) ?? member;
    return { seq: kind === "read" ? current.readSeq : current.deliveredSeq, unread: this.store.unreadCount(userId, current.readSeq) };
  }

  /** Exact unread count for a member: others' messages after their read position, minus deleted. */
  async unread(userId: string): Promise<{ count: number; readSeq: number; lastSeq: number }> {
    const member = await this.requireMember(userId);
    return { count: this.store.unreadCount(userId, member.readSeq), readSeq: member.readSeq, lastSeq: this.store.lastSeq() };
  }

  /** Who received and who read a message (readers who hide receipts are left out). */
  async receipts(userId: string, messageId: string): Promise<{ read: string[]; delivered: string[] }> {
    await this.requireMember(userId);
    const row = this.visibleMessage(userId, messageId);
    const others = this.store.members().filter((m) => m.userId !== row.sender_id);
    return {
      read: others.filter((m) => m.readSeq >= row.seq && m.readReceipts).map((m) => m.userId),
      delivered: others.filter((m) => m.deliveredSeq >= row.seq).map((m) => m.userId),
    };
  }

  /** Mark the summary dirty: flush now if the last flush is a second old, else when it is. */
  summaryChanged(): void {
    this.store.setMeta("summaryDirty", "1");
    const lastFlush = Number(this.store.getMeta("lastFlushAt") ?? 0);
    this.host.scheduleAlarm(Math.max(Date.now(), lastFlush + SUMMARY_INTERVAL_MS));
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Direct chats only: whether one of the two blocked the other (then nobody may post). */
  setBlocked(blocked: boolean): void {
    this.store.setMeta("blocked", blocked ? "1" : "0");
  }

  config(): ChatConfig {
    const config = this.store.config();
    if (!config) throw new AppError(404, "not_found", "Chat not found");
    return config;
  }

  /**
   * The chat's settings, read back from D1 when this room never got (or lost) its configure
   * call; `chatName` is the name the room was addressed by, which is the chat id.
   */
  async ensureConfig(): Promise<ChatConfig> {
    const known = this.store.config();
    if (known) return known;
    const loaded = this.host.chatName ? await loadConfigFromDirectory(this.host.db, this.host.chatName) : null;
    if (!loaded) throw new AppError(404, "not_found", "Chat not found");
    this.store.setConfig(loaded);
    return loaded;
  }

  chatId(): string {
    return this.config().chatId;
  }

  /** The caller's membership from the cache, or from D1 when the cache has not seen them yet. */
  async requireMember(userId: string): Promise<MemberState> {
    await this.ensureConfig();
    const cached = this.store.member(userId);
    if (cached) return cached;
    const former = this.store.formerReason(userId);
    if (former === "banned") throw new AppError(403, "member_banned", "You are banned from this chat");
    if (former === "removed") throw new AppError(403, "member_removed", "You were removed from this chat");
    const loaded = await loadMemberFromDirectory(this.host.db, this.chatId(), userId);
    if (!loaded) throw new AppError(403, "not_member", "You are not a member of this chat");
    this.store.upsertMember(loaded, loaded.readSeq);
    return this.store.member(userId)!;
  }

  /** Membership plus the right to post: frozen chats, channel subscribers and muted members are refused. */
  async requireSender(userId: string): Promise<MemberState> {
    const member = await this.requireMember(userId);
    const config = this.config();
    if (config.frozen) throw new AppError(403, "chat_frozen", "This chat is frozen: nobody can post");
    const privileged = member.role === "owner" || member.role === "admin";
    if (config.type === "channel" && !privileged) throw new AppError(403, "channel_read_only", "Only channel admins can post");
    if (config.type === "direct" && this.store.getMeta("blocked") === "1") {
      throw new AppError(403, "blocked", "Messages can't be sent in this chat: one of you blocked the other");
    }
    if (!effectivePermissions(member.role, config.permissions, member.overrides).sendMessages) {
      throw new AppError(403, "send_forbidden", "You may not send messages in this chat");
    }
    return member;
  }

  visibleMessage(userId: string, messageId: string) {
    const row = this.store.findById(messageId);
    if (!row || this.store.isHidden(userId, row.seq)) throw new AppError(404, "not_found", "Message not found");
    return row;
  }

  appendSystem(notice: SystemNotice): Message {
    const row = this.store.insertMessage({ id: newId(), senderId: null, clientMessageId: null, type: "system", text: null, system: notice, at: Date.now() });
    const message = this.store.toMessage(row, this.chatId());
    this.emit("message.new", { message });
    this.summaryChanged();
    return message;
  }

  /** Log a change (eventSeq) and push it to every socket. */
  emit(type: string, payload: Record<string, unknown>): RoomEvent {
    const event = this.store.appendEvent(type, payload, Date.now());
    this.host.broadcast(event);
    return event;
  }

  /** A read position moved: a logged receipt, or with receipts off only the reader's own sockets hear it. */
  readChanged(userId: string, seq: number): void {
    const member = this.store.member(userId);
    if (member?.readReceipts) this.emit("receipt", { userId, kind: "read", seq });
    else this.host.sendToUser(userId, { type: "receipt", userId, kind: "read", seq });
    this.host.waitUntil(
      this.host.db.prepare("UPDATE chat_members SET read_seq = ? WHERE chat_id = ? AND user_id = ? AND read_seq < ?").bind(seq, this.chatId(), userId, seq).run(),
    );
  }

}
