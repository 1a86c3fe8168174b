import { readJsonFrame } from "../lib/frames";
import { type Take, TokenBuckets } from "../lib/token-buckets";
import { type CallFrameTarget, HUB_SOCKET_OPENS, HubClientFrame, MAX_HUB_FRAME_BYTES, MAX_HUB_SOCKETS_PER_SESSION } from "./protocol";
import type { UpdateLog } from "./updates";

/** What a realtime socket carries through hibernation: its session (also its tag) and user. */
export interface HubSocketInfo {
  sessionId: string;
  /** Absent on sockets accepted before it was recorded: the hub's own user, then. */
  userId?: string;
  connectedAt: number;
}

/** Close codes of the realtime socket, the same as the chat sockets' where they mean the same. */
export const HUB_CLOSE = { tooBig: 1009, tooManySockets: 4008 } as const;

/**
 * The hub's realtime sockets (hibernatable, tagged by session): accepting with a per-session
 * cap, reading client frames, fanning updates out, and closing a session's sockets when it ends.
 */
export class HubSockets {
  private readonly opens = new TokenBuckets(HUB_SOCKET_OPENS);

  constructor(private readonly ctx: DurableObjectState) {}

  /** Count one socket opening for `sessionId` against HUB_SOCKET_OPENS. */
  mayOpen(sessionId: string): Take {
    return this.opens.take(sessionId);
  }

  /** Accept a socket of `sessionId`; past the per-session cap its oldest socket closes with 4008. */
  accept(ws: WebSocket, info: HubSocketInfo): void {
    const mine = this.ctx.getWebSockets(info.sessionId).filter((s) => s.readyState === WebSocket.OPEN);
    mine.sort((a, b) => infoOf(a).connectedAt - infoOf(b).connectedAt);
    for (const old of mine.slice(0, Math.max(0, mine.length - MAX_HUB_SOCKETS_PER_SESSION + 1))) {
      close(old, HUB_CLOSE.tooManySockets, `more than ${MAX_HUB_SOCKETS_PER_SESSION} realtime sockets for this session`);
    }
    this.ctx.acceptWebSocket(ws, [info.sessionId]);
    ws.serializeAttachment(info);
  }

  /** Open sockets, not counting `except` (one being closed). */
  openCount(except?: WebSocket): number {
    return this.ctx.getWebSockets().filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN).length;
  }

  /** Sessions with an open socket. */
  liveSessions(): Set<string> {
    const open = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    return new Set(open.map((ws) => infoOf(ws).sessionId));
  }

  /** An already serialized frame to every open socket. */
  broadcastText(text: string): void {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
      } catch {
        // closing meanwhile
      }
    }
  }

  send(ws: WebSocket, frame: Record<string, unknown>): void {
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      // closing meanwhile
    }
  }

  /** An already serialized frame to some of the user's devices (see CallFrameTarget); answers how many sockets it reached. */
  sendToDevices(text: string, target: CallFrameTarget): number {
    const sockets = target.sessionId ? this.ctx.getWebSockets(target.sessionId) : this.ctx.getWebSockets();
    let reached = 0;
    for (const ws of sockets) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (target.exceptSessionId && infoOf(ws).sessionId === target.exceptSessionId) continue;
      try {
        ws.send(text);
        reached++;
      } catch {
        // closing meanwhile
      }
    }
    return reached;
  }

  /** Whether the session holds an open socket. */
  hasOpenSocket(sessionId: string): boolean {
    return this.ctx.getWebSockets(sessionId).some((ws) => ws.readyState === WebSocket.OPEN);
  }

  /** What the socket carries (its session and user). */
  info(ws: WebSocket): HubSocketInfo {
    return infoOf(ws);
  }

  /** Close the sockets of these sessions (every socket, with `all`). */
  closeSessions(sessionIds: string[], code: number, reason: string, all = false): void {
    const sockets = all ? this.ctx.getWebSockets() : sessionIds.flatMap((id) => this.ctx.getWebSockets(id));
    for (const ws of sockets) close(ws, code, reason);
  }

  /**
   * Read one client frame: the frame, or null once an `error` frame told the client why not
   * (a frame over MAX_HUB_FRAME_BYTES also closes the socket with 1009).
   */
  read(ws: WebSocket, data: string | ArrayBuffer): HubClientFrame | null {
    const reading = readJsonFrame(data, HubClientFrame, MAX_HUB_FRAME_BYTES);
    if (reading.ok) return reading.frame;
    this.sendError(ws, reading.id, reading.error);
    if (reading.tooLarge) close(ws, HUB_CLOSE.tooBig, "frame too large");
    return null;
  }

  /** An `error` frame answering the frame `id` (when it had one). */
  sendError(ws: WebSocket, id: string | undefined, error: { code: string; message: string; details?: unknown }): void {
    const { code, message, details } = error;
    this.send(ws, { type: "error", ...(id ? { id } : {}), code, message, ...(details ? { details } : {}) });
  }

  /** Answer a `sync` (replays the log after a point) or a `ping`. */
  answer(ws: WebSocket, frame: Extract<HubClientFrame, { type: "sync" | "ping" }>, log: UpdateLog): void {
    if (frame.type === "ping") {
      this.send(ws, { type: "ack", id: frame.id, pong: true, now: new Date().toISOString() });
      return;
    }
    const page = log.after(frame.afterUpdateSeq, 500);
    for (const update of page.updates) this.send(ws, update);
    this.send(ws, {
      type: "ack",
      id: frame.id,
      lastUpdateSeq: log.lastUpdateSeq(),
      hasMore: page.hasMore,
      tooFarBehind: page.tooFarBehind,
    });
  }
}

const infoOf = (ws: WebSocket) => ws.deserializeAttachment() as HubSocketInfo;

function close(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}
