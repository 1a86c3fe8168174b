import { AppError } from "../lib/errors";

/** Signaling frames one participant may send at once (an ICE gathering burst fits well within it). */
export const SIGNAL_BURST = 200;
/** Frames a second the budget refills by. */
export const SIGNAL_REFILL_PER_SECOND = 20;

/**
 * Each participant's budget of signaling frames in a call's room (a token bucket in memory: a
 * room that restarts forgives). Offers, answers and candidates cost one each; past the budget the
 * sender gets `429 rate_limited` and nothing is passed on, so no device can flood its peers.
 */
export class SignalBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** Spend one frame of `userId`'s budget at `at` (ms), or throw `429 rate_limited`. */
  spend(userId: string, at: number): void {
    const bucket = this.buckets.get(userId) ?? { tokens: SIGNAL_BURST, at };
    bucket.tokens = Math.min(SIGNAL_BURST, bucket.tokens + ((at - bucket.at) / 1000) * SIGNAL_REFILL_PER_SECOND);
    bucket.at = at;
    if (bucket.tokens < 1) {
      this.buckets.set(userId, bucket);
      const retryAfter = Math.ceil((1 - bucket.tokens) / SIGNAL_REFILL_PER_SECOND);
      throw new AppError(429, "rate_limited", "Too many signaling frames; slow down", { retryAfter });
    }
    bucket.tokens -= 1;
    this.buckets.set(userId, bucket);
  }
}
