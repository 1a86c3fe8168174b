import { eq } from "drizzle-orm";
import { createPasswordlessAccount, findByExternalId } from "../auth/accounts";
import type { Database } from "../db/client";
import { type UserRow, users } from "../db/schema";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError } from "../lib/errors";
import { iso, now } from "../lib/time";

/** The profile fields the app's backend sets on its users. */
export interface ExternalProfile {
  username?: string;
  displayName?: string;
  bio?: string | null;
  /** Make the user a guest (only when creating it; see upsertExternalUser). */
  kind?: "guest";
}

/** A user as the app's backend sees it. */
export const externalUserView = (u: UserRow) => ({
  id: u.id,
  externalId: u.externalId!,
  username: u.username,
  displayName: u.displayName,
  kind: u.kind,
  bio: u.bio,
  status: u.status,
  createdAt: iso(u.createdAt)!,
  updatedAt: iso(u.updatedAt)!,
});

/**
 * Create or update the account the app knows as `externalId` (unique). Idempotent and safe under
 * concurrency: of simultaneous calls for a new id one creates the account and the others update
 * it. Fields left out are kept; a username taken by someone else is `409 username_taken`.
 * `kind: "guest"` makes the new account a guest. For an existing user it must still be true: a user
 * that is not (or no longer) a guest answers `400 not_a_guest` and nothing changes, so the app never
 * believes a full account is a guest; accounts never turn back into guests.
 */
export async function upsertExternalUser(
  db: Database,
  externalId: string,
  profile: ExternalProfile,
): Promise<{ user: UserRow; created: boolean; changed: boolean }> {
  let existing = await findByExternalId(db, externalId);
  if (!existing) {
    try {
      return { user: await createPasswordlessAccount(db, { ...profile, externalId }), created: true, changed: true };
    } catch (err) {
      if (!isUniqueViolation(err, "users.external_id")) throw err;
      existing = await findByExternalId(db, externalId); // created by a concurrent call
      if (!existing) throw err;
    }
  }
  if (profile.kind === "guest" && existing.kind !== "guest") {
    throw new AppError(400, "not_a_guest", "This user exists and is not a guest; an account never becomes a guest again");
  }
  const patch: Partial<UserRow> = {};
  if (profile.username !== undefined && profile.username !== existing.username) patch.username = profile.username;
  if (profile.displayName !== undefined && profile.displayName !== existing.displayName) patch.displayName = profile.displayName;
  if (profile.bio !== undefined && profile.bio !== existing.bio) patch.bio = profile.bio;
  if (Object.keys(patch).length === 0) return { user: existing, created: false, changed: false };
  try {
    const [user] = await db
      .update(users)
      .set({ ...patch, updatedAt: now() })
      .where(eq(users.id, existing.id))
      .returning();
    return { user: user!, created: false, changed: true };
  } catch (err) {
    if (isUniqueViolation(err, "users.username")) throw new AppError(409, "username_taken", "That username is already taken");
    throw err;
  }
}

/** The account the app knows as `externalId`; `404 not_found` when there is none. */
export async function externalUser(db: Database, externalId: string): Promise<UserRow> {
  const user = await findByExternalId(db, externalId);
  if (!user) throw new AppError(404, "not_found", "No user with that externalId");
  return user;
}
