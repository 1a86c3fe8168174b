import { SocketRequestError } from "./errors";
import type { RawFrame } from "./reconnecting-socket";

/** An `ack` frame: the answer to a client frame that carried an `id`, with the operation's fields. */
export type Ack = { type: "ack"; id?: string } & Record<string, unknown>;

interface Waiting {
  resolve(ack: Ack): void;
  reject(error: SocketRequestError): void;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Client frames waiting for their answer, by frame `id`: the server answers each with `ack` or
 * `error` carrying the same id. A lost connection fails them all (`disconnected`): an answer can no
 * longer come, and whether the server acted is unknown (sends are safe to retry: clientMessageId).
 */
export class SocketRequests {
  private counter = 0;
  private readonly waiting = new Map<string, Waiting>();

  /** A new frame id and the promise of its answer (rejected with `timeout` after `timeoutMs`, if given). */
  open(timeoutMs?: number): { id: string; answer: Promise<Ack> } {
    const id = `r${++this.counter}`;
    const answer = new Promise<Ack>((resolve, reject) => {
      const waiting: Waiting = { resolve, reject };
      if (timeoutMs !== undefined) {
        waiting.timer = setTimeout(() => this.fail(id, new SocketRequestError("timeout", `no answer within ${timeoutMs} ms`)), timeoutMs);
      }
      this.waiting.set(id, waiting);
    });
    return { id, answer };
  }

  /** Settle the request a frame answers; false when it answers none (an ack without id, an unsolicited error). */
  settle(frame: RawFrame): boolean {
    const id = typeof frame.id === "string" ? frame.id : undefined;
    const waiting = id === undefined ? undefined : this.waiting.get(id);
    if (!waiting || id === undefined) return false;
    this.waiting.delete(id);
    clearTimeout(waiting.timer);
    if (frame.type === "ack") waiting.resolve(frame as Ack);
    else waiting.reject(new SocketRequestError(String(frame.code ?? "error"), String(frame.message ?? "refused"), frame.details));
    return true;
  }

  /** Fail one request. */
  fail(id: string, error: SocketRequestError): void {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    this.waiting.delete(id);
    clearTimeout(waiting.timer);
    waiting.reject(error);
  }

  /** Fail every request (the connection is gone). */
  failAll(error: SocketRequestError): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, error);
  }
}
