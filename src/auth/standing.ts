import { and, eq, lte } from "drizzle-orm";
import type { Database } from "../db/client";
import { users } from "../db/schema";
import { now } from "../lib/time";

/** The moderation fields that decide whether an account may be used. */
export interface Standing {
  status: "active" | "suspended" | "banned" | "deleted";
  suspendedUntil: number | null;
}

/** A suspension with an end time that has passed: the account counts as active again. */
export function suspensionExpired(user: Standing, at = now()): boolean {
  return user.status === "suspended" && user.suspendedUntil != null && user.suspendedUntil <= at;
}

/**
 * Put an account whose suspension has run out back to `active` (clearing the end time and
 * reason). Conditional, so a suspension extended in the meantime is left alone. Returns whether
 * the row changed.
 */
export async function liftExpiredSuspension(db: Database, userId: string, at = now()): Promise<boolean> {
  const changed = await db
    .update(users)
    .set({ status: "active", suspendedUntil: null, moderationReason: null, updatedAt: at })
    .where(and(eq(users.id, userId), eq(users.status, "suspended"), lte(users.suspendedUntil, at)))
    .returning({ id: users.id });
  return changed.length > 0;
}
