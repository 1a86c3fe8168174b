import type { AuthSession } from "./auth";
import { type BackoffOptions, backoffDelay } from "./backoff";
import { TypedEmitter } from "./emitter";
import { SignedOutError } from "./errors";

/**
 * The part of the WebSocket API the client uses. Browsers' WebSocket and the `ws` package's both
 * fit (the handlers are typed `unknown` here because each platform types its events its own way).
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: unknown;
  onmessage: unknown;
  onclose: unknown;
  onerror: unknown;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `idle` before start; `waiting` between a disconnection and the next attempt; `stopped` for good (until `start`). */
export type SocketState = "idle" | "connecting" | "open" | "waiting" | "stopped";
/** What a close code calls for: try again, refresh the access token and try again, or give up. */
export type CloseAction = "reconnect" | "refresh" | "stop";

/** A server frame before it is typed: a JSON object with a `type`. */
export type RawFrame = { type: string } & Record<string, unknown>;

export interface ReconnectingSocketEvents {
  state: SocketState;
  /** The transport is open (the server's `hello` follows). */
  open: undefined;
  /** One server frame (a `batch` arrives as its frames, in order). */
  frame: RawFrame;
  /** The connection was lost; another attempt follows unless `stopped` is emitted next. */
  disconnected: { code: number; reason: string };
  /** No more attempts: closed by the client, a final close code, or the session is over. */
  stopped: { code: number; reason: string };
}

export interface ReconnectingSocketOptions {
  /** The socket's URL with the access token in `?access_token=` (browsers cannot set headers on a WebSocket). */
  url: (accessToken: string) => string;
  auth: Pick<AuthSession, "accessToken" | "refresh" | "on">;
  WebSocket: WebSocketConstructor;
  closeAction: (code: number) => CloseAction;
  backoff?: BackoffOptions;
  /** Ping after this long without a frame (default 25 s; 0: never). */
  heartbeatMs?: number;
  /** Give the connection up when a ping gets no frame back within this (default 10 s). */
  heartbeatTimeoutMs?: number;
  /** A connection that stayed open this long resets the backoff (default 10 s). */
  stableAfterMs?: number;
}

/** The standard close code for a frame budget overrun: the server refuses the user's sockets for 30 s. */
const POLICY_VIOLATION = 1008;
const POLICY_VIOLATION_WAIT_MS = 30_000;
/** The close code this client uses for a connection it gave up on (no answer to a ping). */
export const HEARTBEAT_TIMEOUT_CLOSE = 4000;

/**
 * One WebSocket kept open: a fresh access token for each attempt, reconnection with exponential
 * backoff and full jitter, a heartbeat that notices dead connections, and the close codes handled
 * (an ended session refreshes the token first, which signs out when the session is really over;
 * final codes stop). ChatSocket and UserSocket build their protocols on it.
 */
export class ReconnectingSocket extends TypedEmitter<ReconnectingSocketEvents> {
  private ws: WebSocketLike | null = null;
  private current: SocketState = "idle";
  private attempt = 0;
  /** Bumped by every start and stop, so a connection attempt that was overtaken does nothing. */
  private generation = 0;
  private openedAt: number | null = null;
  private lastFrameAt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly offSignedOut: () => void;
  private readonly offOnline: () => void;

  constructor(private readonly options: ReconnectingSocketOptions) {
    super();
    this.offSignedOut = options.auth.on("signedOut", ({ reason }) => {
      if (this.current !== "idle" && this.current !== "stopped") this.stop(1000, `signed out (${reason})`);
    });
    // In a browser, the network coming back is the moment to try, not the end of the backoff.
    const events = globalThis as {
      addEventListener?: (type: string, fn: () => void) => void;
      removeEventListener?: (type: string, fn: () => void) => void;
    };
    const onOnline = () => this.reconnectNow();
    events.addEventListener?.("online", onOnline);
    this.offOnline = () => events.removeEventListener?.("online", onOnline);
  }

  get state(): SocketState {
    return this.current;
  }

  /** Connect (again, after a stop). */
  start(): void {
    if (this.current !== "idle" && this.current !== "stopped") return;
    this.attempt = 0;
    void this.connect(++this.generation);
  }

  /** Close for good (until `start`): no more attempts. */
  stop(code = 1000, reason = "closed by the client"): void {
    this.generation++;
    const ws = this.ws;
    this.detach();
    try {
      ws?.close(code, reason);
    } catch {
      // already closing
    }
    this.finish(code, reason);
  }

  /** Stop for good and drop the listeners (session, network): the socket is not used again. */
  dispose(): void {
    this.stop();
    this.offSignedOut();
    this.offOnline();
  }

  /** While waiting to reconnect, try now (the network came back, the page became visible). */
  reconnectNow(): void {
    if (this.current !== "waiting") return;
    clearTimeout(this.retryTimer);
    void this.connect(++this.generation);
  }

  /** Send a frame if the socket is open; false otherwise (nothing is queued here). */
  send(frame: object | string): boolean {
    if (!this.ws || this.current !== "open") return false;
    try {
      this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private async connect(generation: number): Promise<void> {
    this.setState("connecting");
    let token: string | null;
    try {
      token = await this.options.auth.accessToken();
    } catch (err) {
      if (generation !== this.generation) return;
      if (err instanceof SignedOutError) return this.finish(1000, `signed out (${err.reason})`);
      return this.retry(1006, "no access token (refresh failed)");
    }
    if (generation !== this.generation) return;
    if (!token) return this.finish(1000, "not signed in");
    let ws: WebSocketLike;
    try {
      ws = new this.options.WebSocket(this.options.url(token));
    } catch (err) {
      return this.retry(1006, err instanceof Error ? err.message : String(err));
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.openedAt = this.lastFrameAt = Date.now();
      this.setState("open");
      this.startHeartbeat();
      this.emit("open", undefined);
    };
    ws.onmessage = (event: { data: unknown }) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      this.receive(event.data);
    };
    ws.onclose = (event: { code: number; reason: string }) => {
      if (this.ws === ws) this.lost(event.code, event.reason);
    };
    ws.onerror = () => {
      // a close event follows
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!isFrame(frame)) return;
    if (frame.type === "batch" && Array.isArray(frame.frames)) {
      for (const inner of frame.frames) if (isFrame(inner)) this.emit("frame", inner);
    } else {
      this.emit("frame", frame);
    }
  }

  private lost(code: number, reason: string): void {
    this.detach();
    const action = this.options.closeAction(code);
    if (action === "stop") {
      this.finish(code, reason);
      return;
    }
    this.emit("disconnected", { code, reason });
    if (action === "reconnect") {
      this.retry(code, reason);
      return;
    }
    const generation = this.generation;
    this.setState("waiting");
    this.options.auth.refresh().then(
      () => generation === this.generation && this.retry(code, reason),
      (err: unknown) => {
        if (generation !== this.generation) return;
        if (err instanceof SignedOutError) this.finish(code, reason);
        else this.retry(code, reason);
      },
    );
  }

  private retry(code: number, _reason: string): void {
    let delay = backoffDelay(this.attempt++, this.options.backoff);
    if (code === POLICY_VIOLATION) delay = Math.max(delay, POLICY_VIOLATION_WAIT_MS);
    this.setState("waiting");
    const generation = this.generation;
    this.retryTimer = setTimeout(() => {
      if (generation === this.generation) void this.connect(generation);
    }, delay);
  }

  private startHeartbeat(): void {
    const every = this.options.heartbeatMs ?? 25_000;
    if (every <= 0) return;
    const timeout = this.options.heartbeatTimeoutMs ?? 10_000;
    this.heartbeatTimer = setInterval(
      () => {
        if (this.current !== "open" || Date.now() - this.lastFrameAt < every || this.pongTimer) return;
        const pingAt = Date.now();
        this.send('{"type":"ping"}');
        this.pongTimer = setTimeout(() => {
          this.pongTimer = undefined;
          if (this.lastFrameAt >= pingAt || !this.ws) return;
          // A dead connection may take minutes to report its close: give it up now.
          const ws = this.ws;
          this.detach();
          try {
            ws.close(HEARTBEAT_TIMEOUT_CLOSE, "no answer to ping");
          } catch {
            // already closing
          }
          this.emit("disconnected", { code: HEARTBEAT_TIMEOUT_CLOSE, reason: "no answer to ping" });
          this.retry(HEARTBEAT_TIMEOUT_CLOSE, "no answer to ping");
        }, timeout);
      },
      Math.min(every, 1000),
    );
  }

  /** Forget the current connection: its handlers do nothing from now on. */
  private detach(): void {
    const stable = this.openedAt !== null && Date.now() - this.openedAt >= (this.options.stableAfterMs ?? 10_000);
    if (stable) this.attempt = 0;
    this.openedAt = null;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.pongTimer);
    this.heartbeatTimer = this.pongTimer = undefined;
    // No-ops rather than null: the `ws` package throws on an `error` event nobody listens to.
    if (this.ws) this.ws.onopen = this.ws.onmessage = this.ws.onclose = this.ws.onerror = ignore;
    this.ws = null;
  }

  private finish(code: number, reason: string): void {
    clearTimeout(this.retryTimer);
    this.detach();
    if (this.current === "stopped") return;
    this.setState("stopped");
    this.emit("stopped", { code, reason });
  }

  private setState(state: SocketState): void {
    if (this.current === state) return;
    this.current = state;
    this.emit("state", state);
  }
}

/** `https://host` → `wss://host` (and http → ws): where a deployment's sockets are. */
export function socketOrigin(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "").replace(/^http(s?):/i, "ws$1:");
}

const ignore = () => {};

const isFrame = (value: unknown): value is RawFrame =>
  typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
