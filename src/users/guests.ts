import { and, asc, eq, lt, ne } from "drizzle-orm";
import { createDb, type Database } from "../db/client";
import { type UserRow, users } from "../db/schema";
import type { Bindings } from "../env";
import { DAY } from "../lib/time";
import { eraseAccount } from "./deletion";

/** A guest unseen for this long is erased. */
export const GUEST_TTL_MS = 30 * DAY;
/** Guests erased per cron run at most (each erasure ends sessions and leaves chats: a few D1 and room calls). */
export const GUEST_EXPIRY_BATCH = 25;

/**
 * Guests unseen since `cutoff`, longest unseen first: one range of `users_kind_last_seen_idx`
 * (kind, last_seen_at), never a table scan. A guest's `last_seen_at` starts at its creation, so "last
 * seen, else created" is that one column; an erased account has none, so it is never in the range
 * (exported for the plan test).
 */
export const expiredGuestsQuery = (db: Database, cutoff: number, limit: number) =>
  db
    .select()
    .from(users)
    .where(and(eq(users.kind, "guest"), lt(users.lastSeenAt, cutoff)))
    .orderBy(asc(users.lastSeenAt))
    .limit(limit);

/**
 * Claim a guest for erasure: mark it deleted only while it is still a guest unseen since `cutoff`
 * (one conditional UPDATE), so a guest that just came back or just got a password is left alone.
 * From here on its tokens find no account (`getSelf`) and sign-ins refuse it. Answers the row as it
 * was (addresses included) or null.
 */
async function claimExpiredGuest(db: Database, id: string, cutoff: number, at: number): Promise<UserRow | null> {
  const [row] = await db
    .update(users)
    .set({ status: "deleted", deletedAt: at, updatedAt: at })
    .where(and(eq(users.id, id), eq(users.kind, "guest"), ne(users.status, "deleted"), lt(users.lastSeenAt, cutoff)))
    .returning();
  return row ?? null;
}

/**
 * Erase guests unseen for 30 days, at most `limit` a run, through the same path as a deleted
 * account (eraseAccount: sessions, personal data, then the chats, media and stories hooks). A guest
 * claimed by an earlier run whose erasure failed half-way is still in the range (its last_seen_at
 * is only cleared by the erasure) and is finished here. One failure is logged and the run goes on.
 */
export async function expireGuests(env: Bindings, at: number, limit = GUEST_EXPIRY_BATCH): Promise<{ guests: number; failed: number }> {
  const db = createDb(env.DB);
  const cutoff = at - GUEST_TTL_MS;
  let guests = 0;
  let failed = 0;
  for (const candidate of await expiredGuestsQuery(db, cutoff, limit)) {
    try {
      const claimed = candidate.status === "deleted" ? candidate : await claimExpiredGuest(db, candidate.id, cutoff, at);
      if (!claimed) continue;
      await eraseAccount(db, env, claimed);
      guests++;
    } catch (err) {
      failed++;
      console.error(JSON.stringify({ level: "error", msg: "guest expiry failed", userId: candidate.id, error: String(err) }));
    }
  }
  return { guests, failed };
}
