/** Frames that queue within this long of the last send go out together, as one `batch` frame per socket. */
export const COALESCE_MS = 4;

/**
 * Every frame the room sends goes through here, in order per socket. At a quiet pace a frame
 * leaves at the end of the current turn (with whatever else that turn produced for the same
 * socket), so nothing waits. Under burst (frames queued within COALESCE_MS of the last send), they
 * wait for the window to close and each socket gets one frame: the single frame as it is, or
 * `{"type":"batch","frames":[…]}` holding several in the order they were produced. The per-frame
 * cost of a socket send is paid once per window instead of once per event. A socket's answer
 * (`reply`) is not an event: it leaves at once unless frames for that socket are waiting.
 */
export class Outbox {
  /** What waits per socket: one frame as it is (the usual case: no array per socket and event), or several in order. */
  private readonly queues = new Map<WebSocket, string | string[]>();
  private lastFlushAt = 0;
  private scheduled = false;

  /** Queue a serialized frame for one socket. */
  push(ws: WebSocket, text: string): void {
    const queue = this.queues.get(ws);
    if (queue === undefined) this.queues.set(ws, text);
    else if (typeof queue === "string") this.queues.set(ws, [queue, text]);
    else queue.push(text);
    this.schedule();
  }

  /**
   * A frame for `ws` alone, in answer to it (an ack, an error, its hello): sent at once when
   * nothing is waiting for the socket, else queued after what is (so it never overtakes an event).
   * Without this, an ack produced right after its own message's broadcast would count as burst
   * and wait out the window.
   */
  reply(ws: WebSocket, text: string): void {
    if (this.queues.has(ws)) this.push(ws, text);
    else sendText(ws, text);
  }

  /** Send what is queued for `ws` now (before closing it, so nothing queued is lost). */
  flushSocket(ws: WebSocket): void {
    const queue = this.queues.get(ws);
    if (queue === undefined) return;
    this.queues.delete(ws);
    send(ws, queue);
  }

  /**
   * Send everything queued, one frame per socket. Sockets that wait for the same frames (a burst
   * of broadcasts: the same strings, pushed in the same order) share one `batch` text, built once
   * instead of once per socket.
   */
  flush(): void {
    this.scheduled = false;
    this.lastFlushAt = Date.now();
    const built = new BatchTexts();
    for (const [ws, queue] of this.queues) sendText(ws, typeof queue === "string" ? queue : built.of(queue));
    this.queues.clear();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.lastFlushAt + COALESCE_MS - Date.now();
    if (wait <= 0) queueMicrotask(() => this.flush());
    else setTimeout(() => this.flush(), wait);
  }
}

const batchText = (frames: readonly string[]) => `{"type":"batch","frames":[${frames.join(",")}]}`;

/** The batch texts one flush built, found again by their frames (the same strings in the same order). */
class BatchTexts {
  /** The last few distinct ones: a flush's sockets differ by little (the sender's ack, a frame for one user). */
  private static readonly KEEP = 8;
  private readonly recent: { frames: string[]; text: string }[] = [];

  of(frames: string[]): string {
    const found = this.recent.find((r) => sameFrames(r.frames, frames));
    if (found) return found.text;
    const text = batchText(frames);
    if (this.recent.unshift({ frames, text }) > BatchTexts.KEEP) this.recent.pop();
    return text;
  }
}

function sameFrames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function send(ws: WebSocket, queue: string | string[]): void {
  sendText(ws, typeof queue === "string" ? queue : batchText(queue));
}

function sendText(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The socket is closing; its close handler cleans up.
  }
}
