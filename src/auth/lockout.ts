import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { authFailures } from "../db/schema";
import { AppError } from "../lib/errors";
import { MINUTE, now } from "../lib/time";

export const LOCKOUT_MAX_FAILURES = 5;
export const LOCKOUT_WINDOW_MS = 15 * MINUTE;

/** The counter key: per account when it exists, per identifier otherwise (same behaviour either way). */
export const lockoutKey = (userId: string | null, identifier: string) => (userId ? `user:${userId}` : `id:${identifier}`);

/**
 * Count one attempt against `key` before the password is checked, atomically in D1, and refuse
 * with `429 too_many_attempts` (and `Retry-After`) once more than LOCKOUT_MAX_FAILURES attempts
 * fell in the current 15-minute window. Counting first keeps the limit exact even when many
 * attempts race; a successful attempt clears the counter with `clearAttempts`.
 */
export async function countAttempt(db: Database, key: string): Promise<void> {
  const at = now();
  const windowOpen = at - LOCKOUT_WINDOW_MS;
  const [row] = await db
    .insert(authFailures)
    .values({ key, count: 1, windowStart: at })
    .onConflictDoUpdate({
      target: authFailures.key,
      set: {
        count: sql`CASE WHEN ${authFailures.windowStart} > ${windowOpen} THEN ${authFailures.count} + 1 ELSE 1 END`,
        windowStart: sql`CASE WHEN ${authFailures.windowStart} > ${windowOpen} THEN ${authFailures.windowStart} ELSE ${at} END`,
      },
    })
    .returning();
  if (row && row.count > LOCKOUT_MAX_FAILURES) {
    const retryAfter = Math.max(1, Math.ceil((row.windowStart + LOCKOUT_WINDOW_MS - at) / 1000));
    throw new AppError(
      429,
      "too_many_attempts",
      `Too many failed attempts; try again in ${Math.ceil(retryAfter / 60)} min`,
      { retryAfter },
      { "Retry-After": String(retryAfter) },
    );
  }
}

/** Forget the attempts after a success. */
export async function clearAttempts(db: Database, key: string): Promise<void> {
  await db.delete(authFailures).where(eq(authFailures.key, key));
}
