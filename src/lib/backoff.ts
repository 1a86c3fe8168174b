/** Exponential backoff with jitter for retried queue messages: about 5 s, 10 s, 20 s … at most 10 minutes. */
export function backoffSeconds(attempts: number): number {
  const base = Math.min(600, 5 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
