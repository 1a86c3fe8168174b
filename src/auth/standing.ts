import { and, eq, lte } from "drizzle-orm";
import type { Database } from "../db/client";
import { type UserRow, users } from "../db/schema";
import { AppError } from "../lib/errors";
import { now } from "../lib/time";

/** The moderation fields that decide whether an account may be used. */
export interface Standing {
  status: UserRow["status"];
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

/** `403 account_deactivated`: the account was switched off; a sign-in with `reactivate: true` switches it on. */
export const accountDeactivated = () =>
  new AppError(
    403,
    "account_deactivated",
    "This account is deactivated; sign in (password or one-time code) with reactivate: true to use it again",
  );

/** `409 account_not_active`: only an active account can be deactivated. */
export const accountNotActive = () => new AppError(409, "account_not_active", "Only an active account can be deactivated");

/**
 * Move an account between `active` and `deactivated`, only from the other one (conditional, so a
 * concurrent suspension, ban or deletion wins). Returns whether the row changed.
 */
export async function setDeactivated(db: Database, userId: string, deactivated: boolean, at = now()): Promise<boolean> {
  const [from, to] = deactivated ? (["active", "deactivated"] as const) : (["deactivated", "active"] as const);
  const changed = await db
    .update(users)
    .set({ status: to, updatedAt: at })
    .where(and(eq(users.id, userId), eq(users.status, from)))
    .returning({ id: users.id });
  return changed.length > 0;
}
