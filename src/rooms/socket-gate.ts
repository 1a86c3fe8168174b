import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { TokenBuckets } from "../lib/token-buckets";
import { FLOOD_PENALTY_MS, FrameBudget, type FrameVerdict } from "./frame-budget";
import { answerFrame, errorFrame, readFrame, refuseOnClosedSocket } from "./frames";
import type { PresenceRules } from "./presence";
import type { PresenceFeed } from "./presence-feed";
import { CLOSE, SOCKET_OPENS } from "./protocol";
import type { RoomLog } from "./room-log";
import { admitSocket } from "./socket-admission";
import type { RoomSockets } from "./sockets";
import type { RoomStore } from "./store";
import type { KeyDevice } from "./types";

/** The parts of the room its sockets pass through. */
export interface GateParts {
  env: Bindings;
  store: RoomStore;
  log: RoomLog;
  sockets: RoomSockets;
  rules: PresenceRules;
  presence: PresenceFeed;
  scheduleAlarm: (at: number) => Promise<void>;
}

/**
 * The room's sockets from the outside in: the upgrade (admitted by socket-admission.ts against
 * the opens budget), every frame (checked against its socket's frame budget before it is even
 * parsed, then answered by frames.ts), the close handshake, and the presence change when a
 * user's last socket goes. ChatRoom hands its WebSocket handlers here.
 */
export class SocketGate {
  private readonly budget = new FrameBudget();
  private readonly opens = new TokenBuckets(SOCKET_OPENS);

  constructor(private readonly room: GateParts) {}

  /**
   * Accept a socket the Worker authenticated (user, session and request id in headers only the
   * Worker can set), or answer the refusal in the API's error shape (the Worker passes it on).
   */
  async upgrade(request: Request): Promise<Response> {
    const { sockets, log, store } = this.room;
    const userId = request.headers.get("x-user-id");
    const sessionId = request.headers.get("x-session-id");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !sessionId) {
      return new Response("expected a WebSocket upgrade from the API Worker", { status: 400 });
    }
    try {
      const admission = { ...this.room, access: log.access, opens: this.opens, needsRule: () => !sockets.isOnline(userId) };
      await admitSocket(admission, userId, sessionId);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      // The Worker checked D1 a moment ago; the room may know better (just removed or banned).
      return Response.json({ error: { code: err.code, message: err.message, details: err.details } }, { status: err.status });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const firstSocket = !sockets.isOnline(userId);
    sockets.accept(server, {
      userId,
      sessionId,
      keyDevice: keyDeviceOf(request.headers),
      connectedAt: Date.now(),
      requestId: request.headers.get("x-request-id"),
    });
    sockets.reply(server, {
      type: "hello",
      chatId: log.access.chatId(),
      lastSeq: store.lastSeq(),
      lastEventSeq: store.lastEventSeq(),
      online: sockets.onlineFor(userId),
    });
    if (firstSocket) this.room.presence.changed(userId, true);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** A frame: the budget is checked before anything is parsed, so a flood costs almost nothing. */
  async message(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const { sockets } = this.room;
    const verdict = this.budget.check(ws);
    if (verdict.kind !== "accept") return this.overBudget(ws, verdict);
    const info = sockets.info(ws);
    if (!info) return;
    if (info.closedWith) return refuseOnClosedSocket(sockets, ws, info, data);
    const reading = readFrame(data);
    if (!reading.ok) {
      sockets.reply(ws, errorFrame(reading.error, reading.id));
      if (reading.tooLarge) sockets.close(ws, CLOSE.tooBig, "frame too large");
      return;
    }
    const { log, store, scheduleAlarm } = this.room;
    await answerFrame({ log, sockets, store, scheduleAlarm }, ws, info, reading.frame);
  }

  /** The client closed (or the socket failed): complete the closing handshake, which a hibernatable socket is not answered with automatically. */
  closed(ws: WebSocket, code: number): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
    this.room.sockets.closed();
    const info = this.room.sockets.info(ws);
    if (info) this.offlineIfGone(info.userId);
  }

  /** When a user's last socket here closed: stop their typing and tell whoever saw them online (coalesced). */
  offlineIfGone(userId: string): void {
    const { sockets, rules, store } = this.room;
    if (sockets.isOnline(userId) || !rules.has(userId)) return;
    if (store.transient.clearTyping(userId)) sockets.broadcast({ type: "typing", userId, typing: false });
    this.room.presence.changed(userId, false);
  }

  /** One warning per run of dropped frames; a socket that keeps flooding is closed (1008). */
  private overBudget(ws: WebSocket, verdict: Exclude<FrameVerdict, { kind: "accept" }>): void {
    const { sockets, store } = this.room;
    if (verdict.kind === "warn") {
      const error = new AppError(429, "rate_limited", "Too many frames: frames are dropped unanswered until the budget refills", {
        retryAfter: verdict.retryAfter,
      });
      sockets.reply(ws, errorFrame(error));
    } else if (verdict.kind === "close") {
      const info = sockets.info(ws);
      sockets.close(ws, CLOSE.policyViolation, "frame flood");
      if (!info) return;
      // Reconnecting to flood again is refused for a while (429 at the upgrade).
      store.admission.penalize(info.userId, Date.now() + FLOOD_PENALTY_MS);
      this.offlineIfGone(info.userId);
    }
  }
}

/** The socket's key device, as the Worker found it for the session (headers only it can set). */
function keyDeviceOf(headers: Headers): KeyDevice | null {
  const deviceId = Number(headers.get("x-key-device-id") ?? Number.NaN);
  const registrationId = Number(headers.get("x-key-registration-id") ?? Number.NaN);
  return Number.isInteger(deviceId) && Number.isInteger(registrationId) ? { deviceId, registrationId } : null;
}
