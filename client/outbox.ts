import type { OutgoingMessage, SendResult } from "./chat-frames";
import { SocketRequestError } from "./errors";
import type { Ack } from "./socket-requests";

/** A message waiting in the outbox: not yet acknowledged by the server. */
export interface PendingMessage {
  clientMessageId: string;
  content: OutgoingMessage;
  queuedAt: number;
  /** How many times it went out (a resend after a reconnect carries the same clientMessageId). */
  attempts: number;
}

interface Entry extends PendingMessage {
  resolve(result: SendResult): void;
  reject(error: Error): void;
}

/** What the outbox needs from its socket. */
export interface OutboxTransport {
  /** Whether frames can go out now (connected, caught up). */
  ready(): boolean;
  /** Send a `message.send` frame; resolves to its ack, rejects with its error (`disconnected` when the connection is lost). */
  send(clientMessageId: string, content: OutgoingMessage): Promise<Ack>;
}

/** Errors that say nothing about the message: it stays queued and goes out again after the reconnect. */
const CONNECTION_ERRORS = new Set(["disconnected", "not_connected", "timeout", "session_revoked", "socket_closed"]);
const MAX_INTERNAL_RETRIES = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Messages on their way out, in order, one in flight at a time (so they are stored in the order they
 * were sent, whatever the server awaits meanwhile). A message stays queued until the server
 * acknowledges it: after a lost connection it goes out again with the same clientMessageId, which
 * the server recognises (it answers the message stored by the first try, `duplicate: true`), so a
 * message is stored once however often it is sent. Refusals (validation, permissions) reject its
 * promise; `rate_limited` waits the `retryAfter` the server gives.
 */
export class Outbox {
  private readonly entries: Entry[] = [];
  private pumping = false;

  constructor(
    private readonly transport: OutboxTransport,
    private readonly changed: (pending: PendingMessage[]) => void,
  ) {}

  /** Queue a message; resolves when the server has stored it. */
  add(clientMessageId: string, content: OutgoingMessage): Promise<SendResult> {
    if (this.entries.some((e) => e.clientMessageId === clientMessageId)) {
      return Promise.reject(new Error(`message ${clientMessageId} is already in the outbox`));
    }
    const promise = new Promise<SendResult>((resolve, reject) => {
      this.entries.push({ clientMessageId, content, queuedAt: Date.now(), attempts: 0, resolve, reject });
    });
    this.notify();
    void this.pump();
    return promise;
  }

  /** What is waiting, oldest first. */
  pending(): PendingMessage[] {
    return this.entries.map(({ clientMessageId, content, queuedAt, attempts }) => ({ clientMessageId, content, queuedAt, attempts }));
  }

  /** Send what is waiting (the socket is ready again). */
  async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let internalFailures = 0;
      while (this.transport.ready() && this.entries.length > 0) {
        const entry = this.entries[0]!;
        entry.attempts++;
        try {
          const ack = await this.transport.send(entry.clientMessageId, entry.content);
          this.settle(entry, () => entry.resolve({ message: ack.message as SendResult["message"], duplicate: ack.duplicate === true }));
          internalFailures = 0;
        } catch (err) {
          const error = err instanceof SocketRequestError ? err : new SocketRequestError("internal", String(err));
          if (CONNECTION_ERRORS.has(error.code)) break;
          if (error.code === "rate_limited") {
            await sleep(retryAfterMs(error.details));
            continue;
          }
          if (error.code === "internal" && ++internalFailures <= MAX_INTERNAL_RETRIES) {
            await sleep(500 * internalFailures);
            continue;
          }
          this.settle(entry, () => entry.reject(error));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Reject and drop everything waiting (the socket closed for good). */
  rejectAll(error: Error): void {
    const dropped = this.entries.splice(0);
    if (dropped.length === 0) return;
    for (const entry of dropped) entry.reject(error);
    this.notify();
  }

  private settle(entry: Entry, finish: () => void): void {
    const index = this.entries.indexOf(entry);
    if (index < 0) return; // rejected meanwhile (closed)
    this.entries.splice(index, 1);
    finish();
    this.notify();
  }

  private notify(): void {
    this.changed(this.pending());
  }
}

/** The wait a `rate_limited` error asks for (`details.retryAfter`, seconds), at least a second. */
function retryAfterMs(details: unknown): number {
  const seconds = Number((details as { retryAfter?: unknown } | undefined)?.retryAfter);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000;
}
