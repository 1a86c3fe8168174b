import { Outbox } from "./outbox";
import type { PresenceRules } from "./presence";
import { CLOSE, MAX_SOCKETS_PER_USER } from "./protocol";
import type { KeyDevice } from "./types";

/** What a socket carries through hibernation (its attachment); tags are the user id and `session:<id>`. */
export interface SocketInfo {
  userId: string;
  sessionId: string;
  /** The session's key device (encrypted chats deliver its envelopes); null when it had no keys when the socket opened. */
  keyDevice?: KeyDevice | null;
  connectedAt: number;
  /** The upgrade request's id, for logs about this socket. */
  requestId: string | null;
  /** Set when the room closed the socket: frames still in flight are refused with this. */
  closedWith?: { code: number; reason: string };
}

export const sessionTag = (sessionId: string) => `session:${sessionId}`;

/** Who a socket reads as: its user, on its session's key device. */
export const viewerOf = (info: SocketInfo) => ({ userId: info.userId, device: info.keyDevice ?? null });

/**
 * The room's live sockets: accepting (with the per-user cap), reading their attachments
 * (cached, so a broadcast does not deserialize every socket), sending, closing with a reason that
 * in-flight frames are refused with, and who is online as each viewer may see it.
 */
export class RoomSockets {
  private readonly infos = new WeakMap<WebSocket, SocketInfo>();
  private readonly refused = new WeakSet<WebSocket>();
  private readonly outbox = new Outbox();
  /** Every accepted socket (ctx.getWebSockets()), kept between broadcasts; replaced, never changed, when one opens or closes. */
  private everySocket: readonly WebSocket[] | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly rules: PresenceRules,
  ) {}

  /** Accept a socket; past the per-user cap the user's oldest socket closes with 4008. */
  accept(ws: WebSocket, info: SocketInfo): void {
    const mine = this.openSockets(info.userId).sort((a, b) => this.info(a)!.connectedAt - this.info(b)!.connectedAt);
    for (const old of mine.slice(0, Math.max(0, mine.length - MAX_SOCKETS_PER_USER + 1))) {
      this.close(old, CLOSE.tooManySockets, `more than ${MAX_SOCKETS_PER_USER} sockets to this chat`);
    }
    this.ctx.acceptWebSocket(ws, [info.userId, sessionTag(info.sessionId)]);
    ws.serializeAttachment(info);
    this.infos.set(ws, info);
    this.everySocket = null;
  }

  /** A socket closed (its close or error handler ran): broadcasts stop counting it. */
  closed(): void {
    this.everySocket = null;
  }

  info(ws: WebSocket): SocketInfo | null {
    let info = this.infos.get(ws);
    if (!info) {
      info = (ws.deserializeAttachment() as SocketInfo | null) ?? undefined;
      if (info) this.infos.set(ws, info);
    }
    return info ?? null;
  }

  /** The user's sockets that are open and not being closed by the room (all sockets without a user). */
  openSockets(userId?: string): WebSocket[] {
    return this.ctx.getWebSockets(userId).filter((ws) => this.isOpen(ws));
  }

  /** Open, and not being closed by the room. */
  isOpen(ws: WebSocket): boolean {
    return ws.readyState === WebSocket.OPEN && !this.info(ws)?.closedWith;
  }

  isOnline(userId: string): boolean {
    return this.openSockets(userId).length > 0;
  }

  /** Users with an open socket here. */
  onlineUsers(): Set<string> {
    const ids = new Set<string>();
    for (const ws of this.openSockets()) {
      const info = this.info(ws);
      if (info) ids.add(info.userId);
    }
    return ids;
  }

  /** The users online here whom `viewerId` may see online. */
  onlineFor(viewerId: string): string[] {
    return [...this.onlineUsers()].filter((id) => this.rules.visible(id, viewerId));
  }

  /** Queue a frame for one socket (see Outbox: in order, coalesced under burst). */
  send(ws: WebSocket, frame: Record<string, unknown>): void {
    this.outbox.push(ws, JSON.stringify(frame));
  }

  /** Queue an already serialized frame for one socket. */
  sendText(ws: WebSocket, text: string): void {
    this.outbox.push(ws, text);
  }

  /** The socket's answer (an ack, an error, its hello): at once, unless frames for it are waiting (then after them). */
  reply(ws: WebSocket, frame: Record<string, unknown>): void {
    this.outbox.reply(ws, JSON.stringify(frame));
  }

  /** One serialization, every socket (but `except`). */
  broadcast(frame: Record<string, unknown>, except?: WebSocket): void {
    this.broadcastText(JSON.stringify(frame), except);
  }

  /** A serialized frame to every socket (but `except`). */
  broadcastText(text: string, except?: WebSocket): void {
    this.everySocket ??= this.ctx.getWebSockets();
    this.outbox.broadcast(this.everySocket, text, except);
  }

  sendToUser(userId: string, frame: Record<string, unknown>): void {
    const text = JSON.stringify(frame);
    for (const ws of this.openSockets(userId)) this.outbox.push(ws, text);
  }

  /** Each open socket (of `userId` alone, when given) its own frame, rendered for its user and key device. */
  sendEach(render: (viewer: { userId: string; device: KeyDevice | null }) => string, userId?: string): void {
    for (const ws of this.openSockets(userId)) {
      const info = this.info(ws);
      if (info) this.outbox.push(ws, render(viewerOf(info)));
    }
  }

  /** The first frame after the room closed the socket is answered; returns false for the rest. */
  markRefused(ws: WebSocket): boolean {
    if (this.refused.has(ws)) return false;
    this.refused.add(ws);
    return true;
  }

  /** Close one socket; frames it still sends are refused with the same reason. */
  close(ws: WebSocket, code: number, reason: string): void {
    const info = this.info(ws);
    if (info?.closedWith) return;
    if (info) {
      const closed = { ...info, closedWith: { code, reason } };
      this.infos.set(ws, closed);
      try {
        ws.serializeAttachment(closed);
      } catch {
        // already closed
      }
    }
    // What was queued for it goes first: an error frame before its close, in order.
    this.outbox.flushSocket(ws);
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
    this.everySocket = null;
  }

  /** Close the user's sockets (only those of `sessionIds`, when given); returns how many. */
  closeUser(userId: string, code: number, reason: string, sessionIds?: string[]): number {
    const sessions = sessionIds ? new Set(sessionIds) : null;
    let closed = 0;
    for (const ws of this.openSockets(userId)) {
      if (sessions && !sessions.has(this.info(ws)?.sessionId ?? "")) continue;
      this.close(ws, code, reason);
      closed += 1;
    }
    return closed;
  }
}
