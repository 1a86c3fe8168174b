import { AppError } from "../lib/errors";

/** Per-member send budget in a room: a burst of 60, refilled at 1 message per second. */
export const SEND_BURST = 60;
export const SEND_REFILL_PER_SECOND = 1;

const SCHEMA = `CREATE TABLE IF NOT EXISTS send_budget (
  user_id TEXT PRIMARY KEY,
  tokens REAL NOT NULL,
  refilled_at INTEGER NOT NULL,
  last_send_at INTEGER NOT NULL
)`;

/**
 * Token buckets per member and the slow-mode clock, in the room's SQLite: an evicted or
 * hibernated room remembers both, so restarting the object forgives nothing.
 */
export class SendLimiter {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /**
   * Take one token for `userId`, or throw `429 rate_limited` with `retryAfter` seconds. With
   * `slowModeSeconds`, a member may also send only once per that many seconds (`slow_mode`).
   * A refused send uses no token and does not restart the slow-mode clock.
   */
  take(userId: string, slowModeSeconds = 0, at = Date.now()): void {
    const row = this.sql
      .exec<{ tokens: number; refilled_at: number; last_send_at: number }>(
        "SELECT tokens, refilled_at, last_send_at FROM send_budget WHERE user_id = ?",
        userId,
      )
      .toArray()[0];
    const tokens = row ? Math.min(SEND_BURST, row.tokens + ((at - row.refilled_at) / 1000) * SEND_REFILL_PER_SECOND) : SEND_BURST;
    const lastSendAt = row?.last_send_at ?? 0;
    if (slowModeSeconds > 0 && at - lastSendAt < slowModeSeconds * 1000) {
      const retryAfter = Math.ceil((lastSendAt + slowModeSeconds * 1000 - at) / 1000);
      throw new AppError(429, "slow_mode", `Slow mode: one message every ${slowModeSeconds} s`, { retryAfter });
    }
    if (tokens < 1) {
      const retryAfter = Math.ceil((1 - tokens) / SEND_REFILL_PER_SECOND);
      throw new AppError(429, "rate_limited", `Sending too fast; try again in ${retryAfter} s`, { retryAfter });
    }
    this.sql.exec(
      `INSERT INTO send_budget (user_id, tokens, refilled_at, last_send_at) VALUES (?1, ?2, ?3, ?3)
       ON CONFLICT (user_id) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at, last_send_at = excluded.last_send_at`,
      userId,
      tokens - 1,
      at,
    );
  }
}
