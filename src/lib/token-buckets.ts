/** How many takes a key may make at once, and how fast its allowance comes back. */
export interface BucketShape {
  burst: number;
  refillPerSecond: number;
}

/** One take: allowed, or refused with the whole seconds until the next one would be. */
export type Take = { ok: true } | { ok: false; retryAfter: number };

interface Bucket {
  tokens: number;
  at: number;
}

/** Past this many keys, buckets that have filled up again are forgotten (a full bucket is the default). */
const SWEEP_ABOVE = 1_000;

/**
 * Token buckets by key, in memory: for limits that only need to hold while an object is awake
 * (an object that hibernated or was evicted starts every key full, which forgives at most one
 * burst). Memory stays bounded by the keys active within one refill period.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly shape: BucketShape) {}

  /** Spend one token of `key`'s bucket, if it has one. */
  take(key: string, at = Date.now()): Take {
    const { burst, refillPerSecond } = this.shape;
    if (this.buckets.size >= SWEEP_ABOVE) this.sweep(at);
    const bucket = this.buckets.get(key) ?? { tokens: burst, at };
    bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) / 1000) * refillPerSecond);
    bucket.at = at;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return { ok: false, retryAfter: Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerSecond)) };
    bucket.tokens -= 1;
    return { ok: true };
  }

  /** Keys tracked (for tests of the sweep). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(at: number): void {
    const { burst, refillPerSecond } = this.shape;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((at - bucket.at) / 1000) * refillPerSecond >= burst) this.buckets.delete(key);
    }
  }
}
