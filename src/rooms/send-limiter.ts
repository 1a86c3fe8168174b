import { AppError } from "../lib/errors";

/** Per-member send budget in a room: a burst of 60, refilled at 1 message per second. */
export const SEND_BURST = 60;
export const SEND_REFILL_PER_SECOND = 1;

interface Bucket {
  tokens: number;
  at: number;
  lastSendAt: number;
}

/**
 * Token buckets per member, in memory. After hibernation or eviction a bucket starts full again;
 * that forgives at most one burst, which is the point of a burst anyway.
 */
export class SendLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * Take one token for `userId`, or throw `429 rate_limited` with `retryAfter` seconds. With
   * `slowModeSeconds`, a member may also send only once per that many seconds (`slow_mode`).
   */
  take(userId: string, slowModeSeconds = 0, at = Date.now()): void {
    const b = this.buckets.get(userId) ?? { tokens: SEND_BURST, at, lastSendAt: 0 };
    b.tokens = Math.min(SEND_BURST, b.tokens + ((at - b.at) / 1000) * SEND_REFILL_PER_SECOND);
    b.at = at;
    if (slowModeSeconds > 0 && at - b.lastSendAt < slowModeSeconds * 1000) {
      const retryAfter = Math.ceil((b.lastSendAt + slowModeSeconds * 1000 - at) / 1000);
      this.buckets.set(userId, b);
      throw new AppError(429, "slow_mode", `Slow mode: one message every ${slowModeSeconds} s`, { retryAfter });
    }
    if (b.tokens < 1) {
      const retryAfter = Math.ceil((1 - b.tokens) / SEND_REFILL_PER_SECOND);
      this.buckets.set(userId, b);
      throw new AppError(429, "rate_limited", `Sending too fast; try again in ${retryAfter} s`, { retryAfter });
    }
    b.tokens -= 1;
    b.lastSendAt = at;
    this.buckets.set(userId, b);
  }
}
