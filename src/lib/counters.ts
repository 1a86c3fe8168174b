import { eq, lte, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { windowCounters } from "../db/schema";
import { AppError } from "./errors";
import { now } from "./time";

/**
 * Exact fixed-window counters in D1 (rule 7: counts that must be exact never live in KV). A
 * window opens at the first count and lasts `windowMs`; the row stores when it ends
 * (`expires_at`), so each counter keeps its own window and housekeeping can tell ended windows
 * from open ones whatever their length. The upsert is one atomic statement, so concurrent
 * requests cannot both slip under the limit.
 */
export interface WindowLimit {
  max: number;
  windowMs: number;
}

/** Add one to `key` and return the count in the current window and when it ends. */
export async function countInWindow(db: Database, key: string, windowMs: number, at = now()): Promise<{ count: number; resetAt: number }> {
  const open = sql`${windowCounters.expiresAt} > ${at}`;
  const [row] = await db
    .insert(windowCounters)
    .values({ key, count: 1, windowStart: at, expiresAt: at + windowMs })
    .onConflictDoUpdate({
      target: windowCounters.key,
      set: {
        count: sql`CASE WHEN ${open} THEN ${windowCounters.count} + 1 ELSE 1 END`,
        windowStart: sql`CASE WHEN ${open} THEN ${windowCounters.windowStart} ELSE ${at} END`,
        expiresAt: sql`CASE WHEN ${open} THEN ${windowCounters.expiresAt} ELSE ${at + windowMs} END`,
      },
    })
    .returning();
  return { count: row!.count, resetAt: row!.expiresAt };
}

/**
 * Count one event and refuse with 429 `code` (and `Retry-After`) once more than `limit.max`
 * events fell in the window.
 */
export async function enforceWindow(db: Database, key: string, limit: WindowLimit, code: string, what: string): Promise<void> {
  const at = now();
  const { count, resetAt } = await countInWindow(db, key, limit.windowMs, at);
  if (count > limit.max) {
    const retryAfter = Math.max(1, Math.ceil((resetAt - at) / 1000));
    throw new AppError(
      429,
      code,
      `${what}; try again in ${Math.ceil(retryAfter / 60)} min`,
      { retryAfter },
      {
        "Retry-After": String(retryAfter),
      },
    );
  }
}

/** Forget a counter (e.g. after a successful login). */
export async function resetCounter(db: Database, key: string): Promise<void> {
  await db.delete(windowCounters).where(eq(windowCounters.key, key));
}

/** Delete the counters whose own window had ended by `at` (housekeeping); returns how many. */
export async function purgeEndedCounters(db: Database, at: number): Promise<number> {
  const gone = await db.delete(windowCounters).where(lte(windowCounters.expiresAt, at)).returning({ key: windowCounters.key });
  return gone.length;
}
