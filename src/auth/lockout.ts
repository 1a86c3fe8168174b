import { and, eq, gt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { windowCounters } from "../db/schema";
import { enforceWindow, resetCounter } from "../lib/counters";
import { MINUTE } from "../lib/time";

export const LOCKOUT_MAX_FAILURES = 5;
export const LOCKOUT_WINDOW_MS = 15 * MINUTE;

/** The counter key: per account when it exists, per identifier otherwise (same behaviour either way). */
export const lockoutKey = (userId: string | null, identifier: string) => (userId ? `user:${userId}` : `id:${identifier}`);

/**
 * Count one attempt against `key` before the secret (password, 2FA code) is checked, and refuse
 * with `429 too_many_attempts` (and `Retry-After`) once more than LOCKOUT_MAX_FAILURES attempts
 * fell in the current 15-minute window. Counting first keeps the limit exact even when many
 * attempts race; a successful attempt clears the counter with `clearAttempts`.
 */
export async function countAttempt(db: Database, key: string): Promise<void> {
  await enforceWindow(db, key, { max: LOCKOUT_MAX_FAILURES, windowMs: LOCKOUT_WINDOW_MS }, "too_many_attempts", "Too many failed attempts");
}

/** Forget the attempts after a success. */
export const clearAttempts = (db: Database, key: string) => resetCounter(db, key);

/**
 * Take back the attempt `countAttempt` just counted, without forgetting earlier failures: for a
 * first factor that succeeded while a second one (2FA) is still to come. Clearing there instead
 * would let someone who knows the password reset the lockout between guesses at the code.
 */
export async function refundAttempt(db: Database, key: string): Promise<void> {
  await db
    .update(windowCounters)
    .set({ count: sql`${windowCounters.count} - 1` })
    .where(and(eq(windowCounters.key, key), gt(windowCounters.count, 0)));
}
