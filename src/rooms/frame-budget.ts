/** Frames a socket may send at once, and how fast the allowance comes back. */
export const FRAME_BURST = 100;
export const FRAME_REFILL_PER_SECOND = 20;
/** A socket still over its budget this long after its first dropped frame is closed (1008). */
export const FLOOD_GRACE_MS = 2_000;
/** … or once this many of its frames were dropped, whichever comes first. */
export const FLOOD_MAX_DROPPED = 200;
/** After a socket was closed for flooding, its user may not open sockets to that room for this long. */
export const FLOOD_PENALTY_MS = 30_000;

interface Allowance {
  tokens: number;
  at: number;
  /** When the current run of dropped frames began (null while within budget). */
  floodingSince: number | null;
  dropped: number;
  /** Told to close: whatever still arrives is dropped without a word. */
  closed: boolean;
}

/** What to do with one incoming frame. */
export type FrameVerdict =
  | { kind: "accept" }
  /** The first frame over budget: drop it and send one `rate_limited` error for the whole run. */
  | { kind: "warn"; retryAfter: number }
  /** Dropped without an answer (the warning already went out). */
  | { kind: "drop" }
  /** Still flooding after the grace: close the socket with 1008. */
  | { kind: "close" };

/**
 * A token bucket per socket, checked before a frame is even parsed, so a flood costs the room
 * almost nothing: past the burst, frames are dropped, the first drop is answered with one
 * `rate_limited` error (never one per frame), and a socket that keeps going is closed. Kept in
 * memory by socket: a flooding socket keeps the room awake, and an evicted room forgives at most
 * one burst per socket. (The per-member message budget is separate and survives eviction.)
 */
export class FrameBudget {
  private readonly sockets = new WeakMap<WebSocket, Allowance>();

  check(ws: WebSocket, at = Date.now()): FrameVerdict {
    const a = this.sockets.get(ws) ?? { tokens: FRAME_BURST, at, floodingSince: null, dropped: 0, closed: false };
    this.sockets.set(ws, a);
    if (a.closed) return { kind: "drop" };
    a.tokens = Math.min(FRAME_BURST, a.tokens + ((at - a.at) / 1000) * FRAME_REFILL_PER_SECOND);
    a.at = at;
    // A run of drops ends once the allowance has come back to half the burst.
    if (a.floodingSince !== null && a.tokens >= FRAME_BURST / 2) {
      a.floodingSince = null;
      a.dropped = 0;
    }
    if (a.tokens >= 1) {
      a.tokens -= 1;
      return { kind: "accept" };
    }
    a.dropped += 1;
    if (a.floodingSince === null) {
      a.floodingSince = at;
      return { kind: "warn", retryAfter: Math.ceil((1 - a.tokens) / FRAME_REFILL_PER_SECOND) };
    }
    if (at - a.floodingSince >= FLOOD_GRACE_MS || a.dropped >= FLOOD_MAX_DROPPED) {
      a.closed = true;
      return { kind: "close" };
    }
    return { kind: "drop" };
  }
}
