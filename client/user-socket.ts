import type { AuthSession } from "./auth";
import type { BackoffOptions } from "./backoff";
import { TypedEmitter } from "./emitter";
import { SocketRequestError } from "./errors";
import type { HubLiveFrame, HubUpdate } from "./hub-frames";
import {
  type CloseAction,
  type RawFrame,
  ReconnectingSocket,
  type SocketState,
  socketOrigin,
  type WebSocketConstructor,
} from "./reconnecting-socket";
import { ResumableStream } from "./resume";
import { type Ack, SocketRequests } from "./socket-requests";

/** Events of a UserSocket: each update and live frame by its `type`, plus the socket's own. */
export type UserSocketEvents = { [U in HubUpdate as U["type"]]: U } & { [L in HubLiveFrame as L["type"]]: L } & {
  /** Every update, in updateSeq order, once (live or replayed after a reconnect). */
  update: HubUpdate;
  state: SocketState;
  /** Connected and caught up to `lastUpdateSeq` (`resumed`: after a replay). */
  ready: { lastUpdateSeq: number; resumed: boolean };
  /** The hub could not replay what was missed (more than 5,000 updates ago): reload the chat list. */
  reset: { lastUpdateSeq: number };
  disconnected: { code: number; reason: string };
  stopped: { code: number; reason: string };
};

export interface UserSocketOptions {
  /** The last updateSeq the app has applied (kept with its chat list): replay from there. By default, start from now. */
  afterUpdateSeq?: number;
  backoff?: BackoffOptions;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
}

/** Close codes of the realtime socket: 4005 the session ended; 4006, 4007 and 4008 (a newer socket of this session) are final. */
export function userCloseAction(code: number): CloseAction {
  if (code === 4005) return "refresh";
  if ([4006, 4007, 4008].includes(code)) return "stop";
  return "reconnect";
}

/**
 * The user's realtime socket (`GET /api/v1/realtime`, one per device): chat list updates, read
 * positions, drafts, settings, security events, typed and delivered once each in updateSeq order,
 * resumed after every reconnect with `sync {afterUpdateSeq}`; `presence` frames pass through live.
 */
export class UserSocket extends TypedEmitter<UserSocketEvents> {
  private readonly socket: ReconnectingSocket;
  private readonly stream: ResumableStream<HubUpdate>;
  private readonly requests = new SocketRequests();
  private caughtUp = false;

  constructor(baseUrl: string, auth: AuthSession, WebSocket: WebSocketConstructor, options: UserSocketOptions = {}) {
    super();
    this.socket = new ReconnectingSocket({
      url: (token) => `${socketOrigin(baseUrl)}/api/v1/realtime?access_token=${encodeURIComponent(token)}`,
      auth,
      WebSocket,
      closeAction: userCloseAction,
      backoff: options.backoff,
      heartbeatMs: options.heartbeatMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
    });
    this.stream = new ResumableStream<HubUpdate>(
      (update) => update.updateSeq,
      (update) => {
        this.emit("update", update);
        (this.emit as (type: string, payload: unknown) => void)(update.type, update);
      },
      options.afterUpdateSeq ?? null,
    );
    this.socket.on("state", (state) => this.emit("state", state));
    this.socket.on("frame", (frame) => this.receive(frame));
    this.socket.on("disconnected", (info) => {
      this.lostConnection();
      this.emit("disconnected", info);
    });
    this.socket.on("stopped", (info) => {
      this.lostConnection();
      this.emit("stopped", info);
    });
  }

  /** The last updateSeq delivered, or null before the first `hello`. */
  get lastUpdateSeq(): number | null {
    return this.stream.last;
  }

  get state(): SocketState {
    return this.socket.state;
  }

  get ready(): boolean {
    return this.caughtUp;
  }

  /** Connect; reconnects by itself until `close`. */
  start(): this {
    this.socket.start();
    return this;
  }

  /** Close for good. */
  close(): void {
    this.socket.dispose();
  }

  /** While waiting to reconnect, try now. */
  reconnectNow(): void {
    this.socket.reconnectNow();
  }

  private receive(frame: RawFrame): void {
    if (frame.type === "ack" || frame.type === "error") {
      this.requests.settle(frame);
      return;
    }
    if (frame.type === "hello") {
      this.emit("hello", frame as unknown as Extract<HubLiveFrame, { type: "hello" }>);
      this.catchUp(Number(frame.updateSeq));
      return;
    }
    if (typeof frame.updateSeq === "number") {
      this.stream.receive(frame as unknown as HubUpdate);
      return;
    }
    if (frame.type === "presence") this.emit("presence", frame as unknown as Extract<HubLiveFrame, { type: "presence" }>);
  }

  private catchUp(hubSeq: number): void {
    const last = this.stream.last;
    if (last === null) {
      this.stream.last = hubSeq;
      this.live(false);
      return;
    }
    if (hubSeq === last) {
      this.live(false);
      return;
    }
    // Behind (replay) or ahead (a seq this hub never gave out: sync answers tooFarBehind).
    this.stream.hold();
    this.replay(last);
  }

  private replay(after: number): void {
    const { id, answer } = this.requests.open();
    if (!this.socket.send({ type: "sync", id, afterUpdateSeq: after })) {
      this.requests.fail(id, new SocketRequestError("not_connected", "the realtime socket is not connected"));
    }
    answer.then(
      (ack: Ack) => {
        if (ack.tooFarBehind === true) {
          this.stream.skipTo(Number(ack.lastUpdateSeq));
          this.emit("reset", { lastUpdateSeq: Number(ack.lastUpdateSeq) });
          return this.live(true);
        }
        const next = this.stream.settle(ack.hasMore !== true);
        if (next === null) this.live(true);
        else this.replay(next);
      },
      () => this.stream.abort(),
    );
  }

  private live(resumed: boolean): void {
    this.caughtUp = true;
    this.emit("ready", { lastUpdateSeq: this.stream.last ?? 0, resumed });
  }

  private lostConnection(): void {
    this.caughtUp = false;
    this.stream.abort();
    this.requests.failAll(new SocketRequestError("disconnected", "the connection was lost before the answer came"));
  }
}
