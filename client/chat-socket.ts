import type { AuthSession } from "./auth";
import type { BackoffOptions } from "./backoff";
import type { ChatEvent, ChatLiveFrame, ChatRequestFrame, ErrorFrame, OutgoingMessage, SendResult } from "./chat-frames";
import { TypedEmitter } from "./emitter";
import { SocketRequestError } from "./errors";
import { Outbox, type PendingMessage } from "./outbox";
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

/** Events of a ChatSocket: each server frame by its `type`, plus the socket's own. */
export type ChatSocketEvents = { [E in ChatEvent as E["type"]]: E } & { [L in ChatLiveFrame as L["type"]]: L } & {
  /** Every logged event, in eventSeq order, once (live or replayed after a reconnect). */
  event: ChatEvent;
  state: SocketState;
  /** Connected and caught up: everything up to `lastEventSeq` was delivered (`resumed`: after a replay). */
  ready: { lastEventSeq: number; resumed: boolean };
  /** The server could not replay what was missed (more than 10,000 events ago): reload the history, then carry on. */
  reset: { lastEventSeq: number };
  disconnected: { code: number; reason: string };
  stopped: { code: number; reason: string };
  /** The outbox changed (a message queued, stored or refused). */
  outbox: PendingMessage[];
  /** An error frame that answers no request (`rate_limited` for dropped frames, …). */
  error: ErrorFrame;
};

export interface ChatSocketOptions {
  chatId: string;
  /** The last eventSeq the app already has (its cached history): replay from there. By default, start from now. */
  afterEventSeq?: number;
  /** Send `typing.start` at most this often while typing (default 3 s; the server shows it for 6 s). */
  typingIntervalMs?: number;
  /** Fail a `request` that gets no answer within this (default 15 s). */
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
}

/** Close codes of the chat socket (README): 4005 the session ended; the rest of the 4xxx are final. */
export function chatCloseAction(code: number): CloseAction {
  if (code === 4005) return "refresh";
  // 4001 removed, 4002 banned, 4004 chat deleted, 4006 account restricted, 4007 device blocked,
  // 4008 a newer socket of this user replaced this one (reconnecting would evict that one in turn).
  if ([4001, 4002, 4004, 4006, 4007, 4008].includes(code)) return "stop";
  return "reconnect";
}

/**
 * One chat's socket (`GET /api/v1/chats/{chatId}/ws`): typed events, resumption from the last
 * eventSeq with no gap and no duplicate after every reconnect (ResumableStream over `sync`), an
 * outbox that sends each message until it is stored (Outbox), typing throttled, and requests
 * answered by frame id (edits, reactions, reads, …).
 */
export class ChatSocket extends TypedEmitter<ChatSocketEvents> {
  readonly chatId: string;
  private readonly socket: ReconnectingSocket;
  private readonly stream: ResumableStream<ChatEvent>;
  private readonly requests = new SocketRequests();
  private readonly outboxQueue: Outbox;
  private readonly typingIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private caughtUp = false;
  private typingSentAt = 0;

  constructor(baseUrl: string, auth: AuthSession, WebSocket: WebSocketConstructor, options: ChatSocketOptions) {
    super();
    this.chatId = options.chatId;
    this.typingIntervalMs = options.typingIntervalMs ?? 3000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    const path = `/api/v1/chats/${encodeURIComponent(options.chatId)}/ws`;
    this.socket = new ReconnectingSocket({
      url: (token) => `${socketOrigin(baseUrl)}${path}?access_token=${encodeURIComponent(token)}`,
      auth,
      WebSocket,
      closeAction: chatCloseAction,
      backoff: options.backoff,
      heartbeatMs: options.heartbeatMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
    });
    this.stream = new ResumableStream<ChatEvent>(
      (event) => event.eventSeq,
      (event) => {
        this.emit("event", event);
        this.emitFrame(event);
      },
      options.afterEventSeq ?? null,
    );
    this.outboxQueue = new Outbox(
      {
        ready: () => this.caughtUp,
        send: (clientMessageId, content) => this.transmit({ type: "message.send", clientMessageId, ...content }),
      },
      (pending) => this.emit("outbox", pending),
    );
    this.socket.on("state", (state) => this.emit("state", state));
    this.socket.on("frame", (frame) => this.receive(frame));
    this.socket.on("disconnected", (info) => {
      this.lostConnection();
      this.emit("disconnected", info);
    });
    this.socket.on("stopped", (info) => {
      this.lostConnection();
      this.outboxQueue.rejectAll(new SocketRequestError("socket_closed", `the chat socket closed (${info.code} ${info.reason})`, info));
      this.emit("stopped", info);
    });
  }

  /** The last eventSeq delivered (keep it with the history to resume from it later), or null before the first `hello`. */
  get lastEventSeq(): number | null {
    return this.stream.last;
  }

  get state(): SocketState {
    return this.socket.state;
  }

  /** Whether the socket is connected and caught up. */
  get ready(): boolean {
    return this.caughtUp;
  }

  /** Connect; reconnects by itself until `close`. */
  start(): this {
    this.socket.start();
    return this;
  }

  /**
   * Close for good. Messages still in the outbox are rejected (`socket_closed`), and so are sends
   * from now on: resend them later (another socket, REST) with the same clientMessageId.
   */
  close(): void {
    this.socket.dispose();
  }

  /** While waiting to reconnect, try now (the browser's `online` event, the page becoming visible). */
  reconnectNow(): void {
    this.socket.reconnectNow();
  }

  /**
   * Send a message through the outbox: it goes out now if connected, else after the reconnect, and
   * again after every lost connection until stored. Pass the `clientMessageId` of a message sent
   * before (kept across a reload) to resend it without a duplicate.
   */
  send(content: OutgoingMessage, { clientMessageId = crypto.randomUUID() }: { clientMessageId?: string } = {}): Promise<SendResult> {
    this.typingSentAt = 0;
    if (this.socket.state === "stopped") return Promise.reject(new SocketRequestError("socket_closed", "the chat socket is closed"));
    return this.outboxQueue.add(clientMessageId, content);
  }

  /** Messages not yet stored, oldest first. */
  pending(): PendingMessage[] {
    return this.outboxQueue.pending();
  }

  /** Send a frame and wait for its answer: `request({type: "reaction.add", messageId, emoji: "👍"})`. Needs a ready socket. */
  request(frame: ChatRequestFrame): Promise<Ack> {
    if (!this.caughtUp) return Promise.reject(new SocketRequestError("not_connected", "the chat socket is not connected"));
    return this.transmit(frame, this.requestTimeoutMs);
  }

  /** Mark the chat read up to `seq` (`ack {seq, unread, mentions}`). */
  markRead(seq: number): Promise<Ack> {
    return this.request({ type: "read", seq });
  }

  /** Call on every keystroke: `typing.start` goes out at most once per typing interval. */
  typing(): void {
    const now = Date.now();
    if (!this.caughtUp || now - this.typingSentAt < this.typingIntervalMs) return;
    if (this.socket.send({ type: "typing.start" })) this.typingSentAt = now;
  }

  /** The user stopped typing (cleared the field, left the chat): `typing.stop`, if a start is still showing. */
  stopTyping(): void {
    if (this.typingSentAt === 0) return;
    this.typingSentAt = 0;
    if (this.caughtUp) this.socket.send({ type: "typing.stop" });
  }

  private transmit(frame: object, timeoutMs?: number): Promise<Ack> {
    const { id, answer } = this.requests.open(timeoutMs);
    if (!this.socket.send({ ...frame, id }))
      this.requests.fail(id, new SocketRequestError("not_connected", "the chat socket is not connected"));
    return answer;
  }

  private receive(frame: RawFrame): void {
    if (frame.type === "ack" || frame.type === "error") {
      if (this.requests.settle(frame)) return;
      if (frame.type === "error") this.emit("error", frame as unknown as ErrorFrame);
      return;
    }
    if (frame.type === "hello") {
      this.emitFrame(frame);
      this.catchUp(frame as unknown as Extract<ChatLiveFrame, { type: "hello" }>);
      return;
    }
    if (typeof frame.eventSeq === "number") {
      this.stream.receive(frame as unknown as ChatEvent);
      return;
    }
    this.emitFrame(frame);
  }

  /** After `hello`: replay what was missed since the last delivered event, then go live. */
  private catchUp(hello: Extract<ChatLiveFrame, { type: "hello" }>): void {
    const last = this.stream.last;
    if (last === null) {
      this.stream.last = hello.lastEventSeq;
      this.live(false);
      return;
    }
    if (hello.lastEventSeq === last) {
      this.live(false);
      return;
    }
    if (hello.lastEventSeq < last) {
      // The room's log is behind what this client saw (another chat's seq, a restored room): start over.
      this.stream.skipTo(hello.lastEventSeq);
      this.emit("reset", { lastEventSeq: hello.lastEventSeq });
      this.live(false);
      return;
    }
    this.stream.hold();
    this.replay(last);
  }

  private replay(after: number): void {
    this.transmit({ type: "sync", afterEventSeq: after }).then(
      (ack) => {
        if (ack.tooFarBehind === true) {
          this.stream.skipTo(Number(ack.lastEventSeq));
          this.emit("reset", { lastEventSeq: Number(ack.lastEventSeq) });
          return this.live(true);
        }
        const next = this.stream.settle(ack.hasMore !== true);
        if (next !== null) return this.replay(next);
        // Complete: every event up to the room's last that this member may see was replayed; events
        // it may not see (another member's scheduled messages) still take seqs: skip past them.
        this.stream.last = Math.max(this.stream.last ?? 0, Number(ack.lastEventSeq) || 0);
        this.live(true);
      },
      () => {
        // The connection was lost mid-replay: the next hello starts it again from the last delivered event.
        this.stream.abort();
      },
    );
  }

  private live(resumed: boolean): void {
    this.caughtUp = true;
    this.emit("ready", { lastEventSeq: this.stream.last ?? 0, resumed });
    void this.outboxQueue.pump();
  }

  private lostConnection(): void {
    this.caughtUp = false;
    this.typingSentAt = 0;
    this.stream.abort();
    this.requests.failAll(new SocketRequestError("disconnected", "the connection was lost before the answer came"));
  }

  private emitFrame(frame: RawFrame | ChatEvent): void {
    (this.emit as (type: string, payload: unknown) => void)(frame.type, frame);
  }
}
