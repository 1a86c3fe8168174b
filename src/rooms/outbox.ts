/** Frames that queue within this long of the last send go out together, as one `batch` frame per socket. */
export const COALESCE_MS = 4;

/**
 * One queued frame: for one socket, or a broadcast to `all` (the room's sockets when it was
 * queued: a list never changed once handed over) but `except`.
 */
type Queued = { text: string; to: WebSocket } | { text: string; all: readonly WebSocket[]; except: WebSocket | undefined };

/**
 * Every frame the room sends goes through here, in order per socket. At a quiet pace a frame
 * leaves at the end of the current turn (with whatever else that turn produced for the same
 * socket), so nothing waits. Under burst (frames queued within COALESCE_MS of the last send), they
 * wait for the window to close and each socket gets one frame: the single frame as it is, or
 * `{"type":"batch","frames":[…]}` holding several in the order they were produced. The per-frame
 * cost of a socket send is paid once per window instead of once per event. A socket's answer
 * (`reply`) is not an event: it leaves at once unless frames for that socket are waiting.
 *
 * A broadcast is queued once, not once per socket: every socket that gets exactly the window's
 * broadcasts (the usual case) is sent one shared text, so the cost per recipient is the send alone.
 */
export class Outbox {
  private queued: Queued[] = [];
  /** Sockets with a frame of their own waiting, or left out of a waiting broadcast: their frames differ from the shared ones. */
  private readonly distinct = new Set<WebSocket>();
  /** Sockets already sent their frames in this window (flushSocket, before a close). */
  private readonly sentEarly = new Set<WebSocket>();
  private lastFlushAt = 0;
  private scheduled = false;

  /** Queue a serialized frame for one socket. */
  push(ws: WebSocket, text: string): void {
    this.queued.push({ text, to: ws });
    this.distinct.add(ws);
    this.schedule();
  }

  /** Queue a serialized frame for every socket of `all` (a list the caller never changes afterwards) but `except`. */
  broadcast(all: readonly WebSocket[], text: string, except?: WebSocket): void {
    if (all.length === 0) return;
    this.queued.push({ text, all, except });
    if (except) this.distinct.add(except);
    this.schedule();
  }

  /**
   * A frame for `ws` alone, in answer to it (an ack, an error, its hello): sent at once when
   * nothing is waiting for the socket, else queued after what is (so it never overtakes an event).
   * Without this, an ack produced right after its own message's broadcast would count as burst
   * and wait out the window.
   */
  reply(ws: WebSocket, text: string): void {
    if (this.isWaiting(ws)) this.push(ws, text);
    else sendText(ws, text);
  }

  /** Send what is queued for `ws` now (before closing it, so nothing queued is lost). */
  flushSocket(ws: WebSocket): void {
    if (!this.isWaiting(ws)) return;
    new OwnFrames(this.queued).send(ws);
    this.sentEarly.add(ws);
  }

  /**
   * Send everything queued, one frame per socket. The sockets that get exactly the window's
   * broadcasts share one text (the broadcast as it is, or their batch), built once; the others
   * (distinct) get theirs built for them, and those with the same frames share a batch text too.
   */
  flush(): void {
    this.scheduled = false;
    this.lastFlushAt = Date.now();
    const queued = this.queued;
    this.queued = [];
    const broadcasts = queued.filter((q): q is Extract<Queued, { all: readonly WebSocket[] }> => "all" in q);
    const audience = broadcasts[0]?.all;
    const sameAudience = audience !== undefined && broadcasts.every((b) => b.all === audience);
    if (sameAudience) {
      const shared = broadcasts.length === 1 ? broadcasts[0]!.text : batchText(broadcasts.map((b) => b.text));
      for (const ws of audience) if (!this.distinct.has(ws) && !this.sentEarly.has(ws)) sendText(ws, shared);
    }
    // The sockets whose frames differ from the shared ones: all of them when the sockets changed
    // within the window (one opened or closed) and the broadcasts went to different lists.
    const separate = sameAudience ? this.distinct : new Set([...this.distinct, ...broadcasts.flatMap((b) => b.all)]);
    if (separate.size > 0) {
      const own = new OwnFrames(queued);
      for (const ws of separate) if (!this.sentEarly.has(ws)) own.send(ws);
    }
    this.distinct.clear();
    this.sentEarly.clear();
  }

  /** Whether frames for `ws` wait to be sent. */
  private isWaiting(ws: WebSocket): boolean {
    return !this.sentEarly.has(ws) && this.queued.some((q) => receives(q, ws));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.lastFlushAt + COALESCE_MS - Date.now();
    if (wait <= 0) queueMicrotask(() => this.flush());
    else setTimeout(() => this.flush(), wait);
  }
}

/** Whether a queued frame is for `ws`. */
const receives = (q: Queued, ws: WebSocket) => ("to" in q ? q.to === ws : q.except !== ws && q.all.includes(ws));

/**
 * One flush's frames for sockets that need their own: each socket's frames of its own merged in
 * order with the broadcasts that reach it (an audience looked up in a set once it is long), so a
 * flush costs what was queued, not sockets × frames. Sockets with the same frames share one batch text.
 */
class OwnFrames {
  private readonly built = new BatchTexts();
  private readonly audiences = new Map<readonly WebSocket[], Set<WebSocket>>();
  /** Where each socket's frames of its own are in the queue, in order. */
  private readonly direct = new Map<WebSocket, number[]>();
  /** Where the broadcasts are in the queue. */
  private readonly broadcasts: number[] = [];

  constructor(private readonly queued: readonly Queued[]) {
    queued.forEach((q, at) => {
      if (!("to" in q)) this.broadcasts.push(at);
      else if (this.direct.has(q.to)) this.direct.get(q.to)!.push(at);
      else this.direct.set(q.to, [at]);
    });
  }

  send(ws: WebSocket): void {
    const mine = this.direct.get(ws) ?? [];
    const frames: string[] = [];
    let next = 0;
    for (const at of this.broadcasts) {
      while (next < mine.length && mine[next]! < at) frames.push(this.queued[mine[next++]!]!.text);
      const b = this.queued[at] as Extract<Queued, { all: readonly WebSocket[] }>;
      if (b.except !== ws && this.isIn(b.all, ws)) frames.push(b.text);
    }
    while (next < mine.length) frames.push(this.queued[mine[next++]!]!.text);
    if (frames.length > 0) sendText(ws, frames.length === 1 ? frames[0]! : this.built.of(frames));
  }

  private isIn(all: readonly WebSocket[], ws: WebSocket): boolean {
    if (all.length <= 16) return all.includes(ws);
    let members = this.audiences.get(all);
    if (!members) {
      members = new Set(all);
      this.audiences.set(all, members);
    }
    return members.has(ws);
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

function sendText(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The socket is closing; its close handler cleans up.
  }
}
