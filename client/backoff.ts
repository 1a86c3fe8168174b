/** How long to wait between reconnection attempts. */
export interface BackoffOptions {
  /** The ceiling of the first wait (default 500 ms); it doubles each attempt. */
  initialDelayMs?: number;
  /** The largest ceiling (default 30 s). */
  maxDelayMs?: number;
  /** A number in [0, 1); Math.random by default (tests may fix it). */
  random?: () => number;
}

/**
 * The wait before reconnection attempt `attempt` (0 for the first): exponential backoff with full
 * jitter, a uniform draw from [0, min(max, initial · 2^attempt)). The randomness spreads the clients
 * a server restart disconnected all at once, so they do not come back in one wave.
 */
export function backoffDelay(
  attempt: number,
  { initialDelayMs = 500, maxDelayMs = 30_000, random = Math.random }: BackoffOptions = {},
): number {
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
