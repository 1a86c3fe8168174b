import { and, eq, isNull, lt, ne, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { users } from "../db/schema";
import { MINUTE, now } from "../lib/time";

/** `last_seen_at` is written at most this often per user. */
export const LAST_SEEN_INTERVAL_MS = MINUTE;
const lastWritten = new Map<string, number>();
const MEMO_LIMIT = 10_000;

/**
 * Record authenticated activity as the user's "last seen", at most once a minute per user, so a
 * busy client never costs a D1 write per request. Two guards: an in-isolate memo skips the write
 * when this isolate wrote for the user within the minute, and the conditional UPDATE is a no-op
 * when another isolate did (`last_seen_at` is newer than a minute). Deleted accounts are never
 * touched. Returns whether a row was written. Called by requireAuth (middleware.ts) on every
 * authenticated request; users/visibility.ts decides who may see the value.
 */
export async function touchLastSeen(db: Database, userId: string, at = now()): Promise<boolean> {
  if (at - (lastWritten.get(userId) ?? Number.NEGATIVE_INFINITY) < LAST_SEEN_INTERVAL_MS) return false;
  if (lastWritten.size >= MEMO_LIMIT) lastWritten.clear();
  lastWritten.set(userId, at);
  const result = await db
    .update(users)
    .set({ lastSeenAt: at })
    .where(
      and(
        eq(users.id, userId),
        ne(users.status, "deleted"),
        or(isNull(users.lastSeenAt), lt(users.lastSeenAt, at - LAST_SEEN_INTERVAL_MS)),
      ),
    );
  return result.meta.changes > 0;
}
