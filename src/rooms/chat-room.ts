import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { errorFrame, readFrame } from "./frames";
import { BARE_PING, BARE_PONG, type ClientFrame, CLOSE, TYPING_TTL_MS } from "./protocol";
import { RoomLog } from "./room-log";
import { RoomStore } from "./store";
import { writeSummary } from "./summary";
import type { ChatConfig, FlatJson, MembershipChange, Message, RoomEvent, RoomResult, SendInput, SystemNotice } from "./types";

interface SocketInfo {
  userId: string;
  sessionId: string;
  connectedAt: number;
}

type HistoryQuery = { before?: number; after?: number; around?: number; limit: number };

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
 * log (RoomLog: dense `seq` per message, `eventSeq` per change), holds the chat's hibernatable
 * WebSockets, and writes the chat's summary to D1 at most once a second from its alarm.
 * `fetch` only upgrades WebSockets (after the Worker authenticated and checked membership);
 * everything else is RPC from the Worker, and socket frames take the same paths.
 */
export class ChatRoom extends DurableObject<Bindings> {
  private readonly store: RoomStore;
  private readonly log: RoomLog;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.store = new RoomStore(ctx.storage.sql);
    this.log = new RoomLog(this.store, {
      db: env.DB,
      chatName: ctx.id.name,
      broadcast: (frame) => this.broadcast(frame),
      sendToUser: (userId, frame) => {
        for (const ws of ctx.getWebSockets(userId)) this.sendFrame(ws, frame);
      },
      closeUser: (userId, code, reason) => {
        for (const ws of ctx.getWebSockets(userId)) ws.close(code, reason);
      },
      scheduleAlarm: (at) => void this.scheduleAlarm(at),
      waitUntil: (promise) => ctx.waitUntil(promise),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(BARE_PING, BARE_PONG));
  }

  // --- RPC from the Worker ------------------------------------------------------------------

  /** Set or update the chat's settings; `notice` appends a system message, `patch` a chat.updated event. */
  configure(config: ChatConfig, patch?: Record<string, unknown>, notice?: SystemNotice): Promise<RoomResult<Message | null>> {
    return result(() => this.log.configure(config, patch, notice));
  }

  /** Apply membership changes decided in D1: refresh the cache, kick removed sockets, log it. */
  membersChanged(change: MembershipChange): Promise<RoomResult<Message | null>> {
    return result(() => this.log.membersChanged(change));
  }

  /** Direct chats: one of the two blocked the other (or unblocked): posting stops (or resumes). */
  setBlocked(blocked: boolean): Promise<RoomResult<null>> {
    return result(() => {
      this.log.setBlocked(blocked);
      return null;
    });
  }

  /** Append a message; a retry with the same clientMessageId returns the stored one (`duplicate`). */
  send(input: SendInput): Promise<RoomResult<{ message: Message; duplicate: boolean }>> {
    return result(() => this.log.send(input));
  }

  truncate(actorId: string): Promise<RoomResult<{ seq: number; removed: number }>> {
    return result(() => this.log.truncate(actorId));
  }

  edit(userId: string, messageId: string, text: string): Promise<RoomResult<Message>> {
    return result(() => this.log.edit(userId, messageId, text));
  }

  remove(userId: string, messageId: string, scope: "me" | "everyone"): Promise<RoomResult<null>> {
    return result(() => this.log.remove(userId, messageId, scope));
  }

  history(userId: string, q: HistoryQuery): Promise<RoomResult<{ items: Message[]; hasMore: boolean }>> {
    return result(() => this.log.history(userId, q));
  }

  getMessage(userId: string, messageId: string): Promise<RoomResult<Message>> {
    return result(() => this.log.getMessage(userId, messageId));
  }

  events(userId: string, after: number, limit: number): Promise<RoomResult<{ events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean; lastEventSeq: number }>> {
    return result(() => this.log.events(userId, after, limit));
  }

  mark(userId: string, kind: "read" | "delivered", seq: number): Promise<RoomResult<{ seq: number; unread: number }>> {
    return result(() => this.log.mark(userId, kind, seq));
  }

  unread(userId: string): Promise<RoomResult<{ count: number; readSeq: number; lastSeq: number }>> {
    return result(() => this.log.unread(userId));
  }

  receipts(userId: string, messageId: string): Promise<RoomResult<{ read: string[]; delivered: string[] }>> {
    return result(() => this.log.receipts(userId, messageId));
  }

  /** The chat was deleted: close every socket and erase the room. */
  async destroy(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) ws.close(CLOSE.chatDeleted, "chat deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  // --- sockets ----------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get("x-user-id");
    const sessionId = request.headers.get("x-session-id");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !sessionId) {
      return new Response("expected a WebSocket upgrade from the API Worker", { status: 400 });
    }
    try {
      await this.log.requireMember(userId);
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
      chatId: this.log.chatId(),
      lastSeq: this.store.lastSeq(),
      lastEventSeq: this.store.lastEventSeq(),
      online: this.onlineUserIds(),
    });
    if (firstSocket) this.broadcast({ type: "presence", userId, online: true }, server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const reading = readFrame(data);
    if (!reading.ok) {
      this.sendFrame(ws, errorFrame(reading.error, reading.id));
      if (reading.close) ws.close(reading.close, "frame too large");
      return;
    }
    const frame = reading.frame;
    try {
      await this.handleFrame(ws, ws.deserializeAttachment() as SocketInfo, frame);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.sendFrame(ws, errorFrame(err, frame.id));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // Complete the closing handshake: a hibernatable socket is not answered automatically.
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
    const info = ws.deserializeAttachment() as SocketInfo | null;
    if (!info) return;
    const remaining = this.ctx.getWebSockets(info.userId).filter((s) => s !== ws && s.readyState === WebSocket.OPEN);
    if (remaining.length === 0) {
      if (this.store.transient.clearTyping(info.userId)) this.broadcast({ type: "typing", userId: info.userId, typing: false });
      this.broadcast({ type: "presence", userId: info.userId, online: false }, ws);
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws, 1011);
  }

  private async handleFrame(ws: WebSocket, info: SocketInfo, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case "message.send": {
        const { message, duplicate } = await this.log.send({ userId: info.userId, clientMessageId: frame.clientMessageId, type: "text", text: frame.text });
        this.sendFrame(ws, { type: "ack", id: frame.id, message, duplicate });
        return;
      }
      case "typing.start":
      case "typing.stop": {
        await this.log.requireMember(info.userId);
        const typing = frame.type === "typing.start";
        if (typing) {
          const expiresAt = Date.now() + TYPING_TTL_MS;
          this.store.transient.setTyping(info.userId, expiresAt);
          this.broadcast({ type: "typing", userId: info.userId, typing, expiresAt: new Date(expiresAt).toISOString() }, ws);
          await this.scheduleAlarm(expiresAt);
        } else if (this.store.transient.clearTyping(info.userId)) {
          this.broadcast({ type: "typing", userId: info.userId, typing: false }, ws);
        }
        this.sendFrame(ws, { type: "ack", id: frame.id });
        return;
      }
      case "read":
      case "delivered": {
        const state = await this.log.mark(info.userId, frame.type, frame.seq);
        this.sendFrame(ws, { type: "ack", id: frame.id, ...state });
        return;
      }
      case "sync": {
        const page = await this.log.events(info.userId, frame.afterEventSeq, 500);
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
    for (const userId of this.store.transient.expireTyping(at)) this.broadcast({ type: "typing", userId, typing: false });
    if (this.store.getMeta("summaryDirty") === "1") await this.flushSummary(at);
    this.store.pruneEvents();
    const next = this.store.transient.nextTypingExpiry();
    if (next !== null) await this.scheduleAlarm(next);
  }

  /** Write last seq, activity time and preview to D1 (the room stays the source of truth). */
  private async flushSummary(at: number): Promise<void> {
    const config = this.store.config();
    if (!config) return;
    this.store.setMeta("summaryDirty", "0");
    this.store.setMeta("lastFlushAt", String(at));
    await writeSummary(this.env.DB, config.chatId, this.store, at);
  }

  /** Mark the summary dirty: flush now if the last flush is a second old, else when it is. */
  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
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
