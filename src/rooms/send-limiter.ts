import { AppError } from "../lib/errors";

/** Per-member send budget in a room: a burst of 60, refilled at 1 message per second. */
export const SEND_BURST = 60;
export const SEND_REFILL_PER_SECOND = 1;

interface Bucket {
  tokens: number;
  refilled_at: number;
  last_send_at: number;
  [key: string]: SqlStorageValue;
}

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
  /** Buckets read so far, kept in step with every write (null: no row yet). */
  private readonly known = new Map<string, Bucket | null>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** Forget what memory holds (after a transaction rolled back). */
  reset(): void {
    this.known.clear();
  }

  private bucket(userId: string): Bucket | null {
    let bucket = this.known.get(userId);
    if (bucket === undefined) {
      bucket =
        this.sql.exec<Bucket>("SELECT tokens, refilled_at, last_send_at FROM send_budget WHERE user_id = ?", userId).toArray()[0] ?? null;
      this.known.set(userId, bucket);
    }
    return bucket;
  }

  /** What is left of the user's budget at `at`: tokens, and when they last sent. */
  private level(userId: string, at: number): { tokens: number; lastSendAt: number } {
    const row = this.bucket(userId);
    const tokens = row ? Math.min(SEND_BURST, row.tokens + ((at - row.refilled_at) / 1000) * SEND_REFILL_PER_SECOND) : SEND_BURST;
    return { tokens, lastSendAt: row?.last_send_at ?? 0 };
  }

  /**
   * Why a send by `userId` now would be refused: `429 rate_limited` (past the burst) or, with
   * `slowModeSeconds`, `429 slow_mode`, each with `retryAfter` seconds; null when it may go. Reads
   * only: checking costs nothing and changes nothing.
   */
  refusal(userId: string, slowModeSeconds = 0, at = Date.now()): AppError | null {
    const { tokens, lastSendAt } = this.level(userId, at);
    if (slowModeSeconds > 0 && at - lastSendAt < slowModeSeconds * 1000) {
      const retryAfter = Math.ceil((lastSendAt + slowModeSeconds * 1000 - at) / 1000);
      return new AppError(429, "slow_mode", `Slow mode: one message every ${slowModeSeconds} s`, { retryAfter });
    }
    if (tokens < 1) {
      const retryAfter = Math.ceil((1 - tokens) / SEND_REFILL_PER_SECOND);
      return new AppError(429, "rate_limited", `Sending too fast; try again in ${retryAfter} s`, { retryAfter });
    }
    return null;
  }

  /** Use one token for a send that `refusal` allowed (and restart the slow-mode clock). */
  take(userId: string, at = Date.now()): void {
    const tokens = this.level(userId, at).tokens - 1;
    this.sql.exec(
      `INSERT INTO send_budget (user_id, tokens, refilled_at, last_send_at) VALUES (?1, ?2, ?3, ?3)
       ON CONFLICT (user_id) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at, last_send_at = excluded.last_send_at`,
      userId,
      tokens,
      at,
    );
    this.known.set(userId, { tokens, refilled_at: at, last_send_at: at });
  }
}
