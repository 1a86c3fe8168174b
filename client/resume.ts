/**
 * One ordered stream of sequenced frames (a chat's events by `eventSeq`, a user's updates by
 * `updateSeq`) out of a replay and live frames, with no gap and no duplicate. After a reconnect the
 * client asks for a replay (`sync`) from the last seq it delivered; live frames keep coming during
 * the replay and may overtake it, so from `hold` until the replay's ack everything is held, then
 * delivered in seq order, skipping what was already delivered. A server sends a replay's frames
 * and then its ack in one go, so the frame right before the ack is the replay's last; when the
 * replay was cut short (`hasMore`), only what it covered is delivered and the next `sync` starts there.
 */
export class ResumableStream<F> {
  private holding = false;
  private held: F[] = [];
  private lastHeld: number | null = null;

  constructor(
    private readonly seqOf: (frame: F) => number,
    private readonly deliver: (frame: F) => void,
    /** The last seq delivered (null: nothing yet, start from the server's current position). */
    public last: number | null = null,
  ) {}

  /** Whether a replay is under way. */
  get replaying(): boolean {
    return this.holding;
  }

  /** A replay was asked for: hold frames until `settle`. */
  hold(): void {
    this.holding = true;
    this.lastHeld = null;
  }

  /** A sequenced frame, replayed or live. */
  receive(frame: F): void {
    if (!this.holding) {
      this.pass(frame);
      return;
    }
    this.held.push(frame);
    this.lastHeld = this.seqOf(frame);
  }

  /**
   * The replay's ack. Complete: deliver all that is held, in order. Cut short: deliver what the
   * replay covered and return the seq to ask the next replay from (null when complete).
   */
  settle(complete: boolean): number | null {
    const upTo = complete || this.lastHeld === null ? Number.POSITIVE_INFINITY : this.lastHeld;
    const ready = this.held.filter((f) => this.seqOf(f) <= upTo).sort((a, b) => this.seqOf(a) - this.seqOf(b));
    this.held = this.held.filter((f) => this.seqOf(f) > upTo);
    for (const frame of ready) this.pass(frame);
    if (upTo === Number.POSITIVE_INFINITY) {
      this.holding = false;
      return null;
    }
    this.lastHeld = null;
    return this.last;
  }

  /**
   * The server cannot replay from `last` (pruned, or a seq it never gave out): continue from its
   * position `to`, delivering only what is held past it.
   */
  skipTo(to: number): void {
    this.last = to;
    this.settle(true);
  }

  /** The connection was lost mid-replay: forget what is held (the next replay brings it again). */
  abort(): void {
    this.holding = false;
    this.held = [];
    this.lastHeld = null;
  }

  private pass(frame: F): void {
    const seq = this.seqOf(frame);
    if (this.last !== null && seq <= this.last) return;
    this.last = seq;
    this.deliver(frame);
  }
}
