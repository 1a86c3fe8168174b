import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { parseOrThrow } from "../lib/validate";
import { unwrap } from "./client";
import { loadMemberFromDirectory } from "./directory";
import { BARE_PING, BARE_PONG, ClientFrame, CLOSE, MAX_FRAME_BYTES, TYPING_TTL_MS } from "./protocol";
import { SendLimiter } from "./send-limiter";
import { type MemberState, RoomStore } from "./store";
import type { ChatConfig, FlatJson, MembershipChange, Message, RoomEvent, RoomResult, SendInput, SystemNotice } from "./types";

interface SocketInfo {
  userId: string;
  sessionId: string;
  connectedAt: number;
}

const SUMMARY_INTERVAL_MS = 1_000;
const HISTORY_MAX = 100;

/** Run an RPC body and return its result or its AppError as data (RPC drops custom errors). */
async function result<T>(fn: () => T | Promise<T>): Promise<RoomResult<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof AppError) {
      return { ok: false, error: { status: err.status, code: err.code, message: err.message, details: err.details as FlatJson | undefined } };
    }
    throw err;
  }
}

/**
 * One chat's room (SQLite-backed Durable Object). It is the only writer of the chat's message
 * log: it assigns each message a dense `seq` and every change an `eventSeq`, holds the chat's
 * hibernatable WebSockets, and writes the chat's summary to D1 at most once a second.
 * `fetch` only upgrades WebSockets (after the Worker authenticated and checked membership);
 * everything else is RPC from the Worker.
 */
export class ChatRoom extends DurableObject<Bindings> {
  private readonly store: RoomStore;
  private readonly limiter = new SendLimiter();

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.store = new RoomStore(ctx.storage.sql);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(BARE_PING, BARE_PONG));
  }

  // --- configuration and membership (RPC from the Worker) ---------------------------------

  /** Set or update the chat's settings; `notice` appends a system message, `patch` a chat.updated event. */
  async configure(config: ChatConfig, patch?: Record<string, unknown>, notice?: SystemNotice): Promise<RoomResult<Message | null>> {
    return result(() => {
      this.store.setConfig(config);
      if (patch) this.emit("chat.updated", { chat: patch });
      return notice ? this.appendSystem(notice) : null;
    });
  }

  /** Apply membership changes decided in D1: refresh the cache, kick removed sockets, log it. */
  async membersChanged(change: MembershipChange): Promise<RoomResult<Message | null>> {
    return result(() => {
      const at = Date.now();
      for (const m of change.added ?? []) {
        this.store.upsertMember(m);
        this.emit("member.joined", { userId: m.userId, role: m.role });
      }
      for (const m of change.updated ?? []) {
        this.store.upsertMember(m);
        this.emit("member.updated", { userId: m.userId, role: m.role, permissions: m.permissions });
      }
      for (const r of change.removed ?? []) {
        this.store.removeMember(r.userId, r.reason, at);
        this.store.clearTyping(r.userId);
        this.emit(r.reason === "left" ? "member.left" : "member.removed", { userId: r.userId, reason: r.reason });
        for (const ws of this.ctx.getWebSockets(r.userId)) {
          ws.close(r.reason === "banned" ? CLOSE.banned : CLOSE.removed, r.reason === "left" ? "left the chat" : `${r.reason} from the chat`);
        }
      }
      return change.notice ? this.appendSystem(change.notice) : null;
    });
  }

  /** The chat was deleted: close every socket and erase the room. */
  async destroy(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) ws.close(CLOSE.chatDeleted, "chat deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  // --- messages (RPC; the socket takes the same paths) ------------------------------------

  /**
   * Append a message. A retry with the same `clientMessageId` from the same sender returns the
   * stored message with `duplicate: true` instead of a second copy.
   */
  async send(input: SendInput): Promise<RoomResult<{ message: Message; duplicate: boolean }>> {
    return result(async () => {
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
      // Sending implies having read everything before it.
      if (this.store.advance(input.userId, "read_seq", message.seq)) this.readChanged(input.userId, message.seq, false);
      this.store.clearTyping(input.userId);
      this.summaryChanged();
      return { message, duplicate: false };
    });
  }

  /** Edit my own text message within 48 hours. */
  async edit(userId: string, messageId: string, text: string): Promise<RoomResult<Message>> {
    return result(async () => {
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
    });
  }

  /** Delete for everyone (author, or an owner/admin) or hide for me. */
  async remove(userId: string, messageId: string, scope: "me" | "everyone"): Promise<RoomResult<null>> {
    return result(async () => {
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
    });
  }

  async history(userId: string, q: { before?: number; after?: number; around?: number; limit: number }): Promise<RoomResult<{ items: Message[]; hasMore: boolean }>> {
    return result(async () => {
      await this.requireMember(userId);
      const { rows, hasMore } = this.store.page(userId, { ...q, limit: Math.min(q.limit, HISTORY_MAX) });
      return { items: rows.map((r) => this.store.toMessage(r, this.chatId())), hasMore };
    });
  }

  async getMessage(userId: string, messageId: string): Promise<RoomResult<Message>> {
    return result(async () => {
      await this.requireMember(userId);
      return this.store.toMessage(this.visibleMessage(userId, messageId), this.chatId());
    });
  }

  async events(userId: string, after: number, limit: number): Promise<RoomResult<{ events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean; lastEventSeq: number }>> {
    return result(async () => {
      await this.requireMember(userId);
      return { ...this.store.eventsAfter(after, Math.min(limit, 1000)), lastEventSeq: this.store.lastEventSeq() };
    });
  }

  // --- receipts and unread ------------------------------------------------------------------

  /** Move my read (or delivered) position up to `seq`; lower values are ignored. */
  async mark(userId: string, kind: "read" | "delivered", seq: number): Promise<RoomResult<{ seq: number; unread: number }>> {
    return result(async () => {
      const member = await this.requireMember(userId);
      const target = Math.min(seq, this.store.lastSeq());
      const column = kind === "read" ? "read_seq" : "delivered_seq";
      if (this.store.advance(userId, column, target)) {
        if (kind === "read") this.readChanged(userId, target, true);
        else this.emit("receipt", { userId, kind, seq: target });
      }
      const current = this.store.member(userId) ?? member;
      return { seq: kind === "read" ? current.readSeq : current.deliveredSeq, unread: this.store.unreadCount(userId, current.readSeq) };
    });
  }

  /** Exact unread count for a member: others' messages after their read position, minus deleted. */
  async unread(userId: string): Promise<RoomResult<{ count: number; readSeq: number; lastSeq: number }>> {
    return result(async () => {
      const member = await this.requireMember(userId);
      return { count: this.store.unreadCount(userId, member.readSeq), readSeq: member.readSeq, lastSeq: this.store.lastSeq() };
    });
  }

  /** Who received and who read a message (readers who hide receipts are left out). */
  async receipts(userId: string, messageId: string): Promise<RoomResult<{ read: string[]; delivered: string[] }>> {
    return result(async () => {
      await this.requireMember(userId);
      const row = this.visibleMessage(userId, messageId);
      const others = this.store.members().filter((m) => m.userId !== row.sender_id);
      return {
        read: others.filter((m) => m.readSeq >= row.seq && m.readReceipts).map((m) => m.userId),
        delivered: others.filter((m) => m.deliveredSeq >= row.seq).map((m) => m.userId),
      };
    });
  }

  // --- sockets ----------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get("x-user-id");
    const sessionId = request.headers.get("x-session-id");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !sessionId) {
      return new Response("expected a WebSocket upgrade from the API Worker", { status: 400 });
    }
    try {
      await this.requireMember(userId);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      // The Worker checked D1 a moment ago; the room may know better (just removed or banned).
      return Response.json({ error: { code: err.code, message: err.message } }, { status: err.status });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [userId, `session:${sessionId}`]);
    const info: SocketInfo = { userId, sessionId, connectedAt: Date.now() };
    server.serializeAttachment(info);
    const firstSocket = this.ctx.getWebSockets(userId).length === 1;
    this.sendFrame(server, {
      type: "hello",
      chatId: this.chatId(),
      lastSeq: this.store.lastSeq(),
      lastEventSeq: this.store.lastEventSeq(),
      online: this.onlineUserIds(),
    });
    if (firstSocket) this.broadcast({ type: "presence", userId, online: true }, server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const info = ws.deserializeAttachment() as SocketInfo;
    const size = typeof data === "string" ? new TextEncoder().encode(data).byteLength : data.byteLength;
    if (size > MAX_FRAME_BYTES) {
      this.sendFrame(ws, { type: "error", code: "frame_too_large", message: `Frames are limited to ${MAX_FRAME_BYTES} bytes` });
      ws.close(CLOSE.tooBig, "frame too large");
      return;
    }
    let raw: unknown;
    try {
      if (typeof data !== "string") throw new AppError(400, "unsupported_frame", "Frames must be JSON text");
      raw = JSON.parse(data);
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError(400, "malformed_json", "Frame is not valid JSON");
      this.sendFrame(ws, { type: "error", code: e.code, message: e.message });
      return;
    }
    const id = typeof (raw as { id?: unknown })?.id === "string" ? (raw as { id: string }).id : undefined;
    try {
      const frame = parseOrThrow(ClientFrame, raw);
      await this.handleFrame(ws, info, frame);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.sendFrame(ws, { type: "error", id, code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) });
    }
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    const info = ws.deserializeAttachment() as SocketInfo | null;
    if (!info) return;
    const remaining = this.ctx.getWebSockets(info.userId).filter((s) => s !== ws && s.readyState === WebSocket.OPEN);
    if (remaining.length === 0) {
      if (this.store.clearTyping(info.userId)) this.broadcast({ type: "typing", userId: info.userId, typing: false });
      this.broadcast({ type: "presence", userId: info.userId, online: false }, ws);
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws);
  }

  private async handleFrame(ws: WebSocket, info: SocketInfo, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case "message.send": {
        const { message, duplicate } = unwrap(await this.send({ userId: info.userId, clientMessageId: frame.clientMessageId, type: "text", text: frame.text }));
        this.sendFrame(ws, { type: "ack", id: frame.id, message, duplicate });
        return;
      }
      case "typing.start":
      case "typing.stop": {
        await this.requireMember(info.userId);
        const typing = frame.type === "typing.start";
        if (typing) {
          const expiresAt = Date.now() + TYPING_TTL_MS;
          this.store.setTyping(info.userId, expiresAt);
          this.broadcast({ type: "typing", userId: info.userId, typing, expiresAt: new Date(expiresAt).toISOString() }, ws);
          await this.scheduleAlarm(expiresAt);
        } else if (this.store.clearTyping(info.userId)) {
          this.broadcast({ type: "typing", userId: info.userId, typing: false }, ws);
        }
        this.sendFrame(ws, { type: "ack", id: frame.id });
        return;
      }
      case "read":
      case "delivered": {
        const state = unwrap(await this.mark(info.userId, frame.type, frame.seq));
        this.sendFrame(ws, { type: "ack", id: frame.id, ...state });
        return;
      }
      case "sync": {
        const page = unwrap(await this.events(info.userId, frame.afterEventSeq, 500));
        for (const event of page.events) this.sendFrame(ws, event);
        this.sendFrame(ws, { type: "ack", id: frame.id, lastEventSeq: page.lastEventSeq, hasMore: page.hasMore, tooFarBehind: page.tooFarBehind });
        return;
      }
      case "ping":
        this.sendFrame(ws, { type: "ack", id: frame.id, pong: true, now: new Date().toISOString() });
        return;
    }
  }

  // --- alarm: coalesced D1 summary, typing expiry, event pruning ----------------------------

  override async alarm(): Promise<void> {
    const at = Date.now();
    for (const userId of this.store.expireTyping(at)) this.broadcast({ type: "typing", userId, typing: false });
    if (this.store.getMeta("summaryDirty") === "1") await this.flushSummary(at);
    this.store.pruneEvents();
    const next = this.store.nextTypingExpiry();
    if (next !== null) await this.scheduleAlarm(next);
  }

  /** Write last seq, activity time and preview to D1 (the room stays the source of truth). */
  private async flushSummary(at: number): Promise<void> {
    const config = this.store.config();
    if (!config) return;
    this.store.setMeta("summaryDirty", "0");
    this.store.setMeta("lastFlushAt", String(at));
    const last = this.store.lastVisibleMessage();
    const lastSeq = this.store.lastSeq();
    const preview = last
      ? JSON.stringify({ id: last.id, seq: last.seq, senderId: last.sender_id, type: last.type, text: last.text?.slice(0, 140) ?? null, createdAt: new Date(last.created_at).toISOString() })
      : null;
    const activity = last?.created_at ?? at;
    const flushedSeq = Number(this.store.getMeta("flushedSeq") ?? 0);
    await this.env.DB.batch([
      this.env.DB.prepare("UPDATE chats SET last_seq = ?, last_activity_at = max(last_activity_at, ?), last_message = ? WHERE id = ?").bind(
        lastSeq,
        activity,
        preview,
        config.chatId,
      ),
      // Admin stats: messages counted here, once per flush, never per message.
      this.env.DB.prepare("UPDATE stat_counters SET value = value + ? WHERE key = 'messages'").bind(Math.max(0, lastSeq - flushedSeq)),
    ]);
    this.store.setMeta("flushedSeq", String(lastSeq));
  }

  /** Mark the summary dirty: flush now if the last flush is a second old, else when it is. */
  private summaryChanged(): void {
    this.store.setMeta("summaryDirty", "1");
    const lastFlush = Number(this.store.getMeta("lastFlushAt") ?? 0);
    void this.scheduleAlarm(Math.max(Date.now(), lastFlush + SUMMARY_INTERVAL_MS));
  }

  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  // --- helpers ------------------------------------------------------------------------------

  private config(): ChatConfig {
    const config = this.store.config();
    if (!config) throw new AppError(404, "not_found", "Chat not found");
    return config;
  }

  private chatId(): string {
    return this.config().chatId;
  }

  /** The caller's membership from the cache, or from D1 when the cache has not seen them yet. */
  private async requireMember(userId: string): Promise<MemberState> {
    const cached = this.store.member(userId);
    if (cached) return cached;
    const former = this.store.formerReason(userId);
    if (former === "banned") throw new AppError(403, "member_banned", "You are banned from this chat");
    if (former === "removed") throw new AppError(403, "member_removed", "You were removed from this chat");
    const loaded = await loadMemberFromDirectory(this.env.DB, this.chatId(), userId);
    if (!loaded) throw new AppError(403, "not_member", "You are not a member of this chat");
    this.store.upsertMember(loaded);
    return this.store.member(userId)!;
  }

  /** Membership plus the right to post: frozen chats, channel subscribers and muted members are refused. */
  private async requireSender(userId: string): Promise<MemberState> {
    const member = await this.requireMember(userId);
    const config = this.config();
    if (config.frozen) throw new AppError(403, "chat_frozen", "This chat is frozen: nobody can post");
    const privileged = member.role === "owner" || member.role === "admin";
    if (config.type === "channel" && !privileged) throw new AppError(403, "channel_read_only", "Only channel admins can post");
    if (!privileged && !member.permissions.sendMessages) throw new AppError(403, "send_forbidden", "You may not send messages in this chat");
    return member;
  }

  private visibleMessage(userId: string, messageId: string) {
    const row = this.store.findById(messageId);
    if (!row || this.store.isHidden(userId, row.seq)) throw new AppError(404, "not_found", "Message not found");
    return row;
  }

  private appendSystem(notice: SystemNotice): Message {
    const row = this.store.insertMessage({ id: newId(), senderId: null, clientMessageId: null, type: "system", text: null, system: notice, at: Date.now() });
    const message = this.store.toMessage(row, this.chatId());
    this.emit("message.new", { message });
    this.summaryChanged();
    return message;
  }

  /** Log a change (eventSeq) and push it to every socket. */
  private emit(type: string, payload: Record<string, unknown>): RoomEvent {
    const event = this.store.appendEvent(type, payload, Date.now());
    this.broadcast(event);
    return event;
  }

  /** A read position moved: a logged receipt, or with receipts off only the reader's own sockets hear it. */
  private readChanged(userId: string, seq: number, persist: boolean): void {
    const member = this.store.member(userId);
    if (member?.readReceipts) this.emit("receipt", { userId, kind: "read", seq });
    else for (const ws of this.ctx.getWebSockets(userId)) this.sendFrame(ws, { type: "receipt", userId, kind: "read", seq });
    if (persist) {
      this.ctx.waitUntil(
        this.env.DB.prepare("UPDATE chat_members SET read_seq = ? WHERE chat_id = ? AND user_id = ? AND read_seq < ?").bind(seq, this.chatId(), userId, seq).run(),
      );
    }
  }

  private onlineUserIds(): string[] {
    const ids = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      const info = ws.deserializeAttachment() as SocketInfo | null;
      if (info && ws.readyState === WebSocket.OPEN) ids.add(info.userId);
    }
    return [...ids];
  }

  private sendFrame(ws: WebSocket, frame: Record<string, unknown>): void {
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      // The socket is closing; its close handler cleans up.
    }
  }

  private broadcast(frame: Record<string, unknown>, except?: WebSocket): void {
    const text = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except) continue;
      try {
        ws.send(text);
      } catch {
        // closing
      }
    }
  }
}
