import { and, eq, ne, notInArray } from "drizzle-orm";
import { ensureReferralCode } from "../auth/referral-codes";
import { getSelf } from "../auth/service";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { users } from "../db/schema";
import type { Bindings } from "../env";
import { presenceRulesChanged } from "../hubs/client";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError, notFound } from "../lib/errors";
import type { JsonObject } from "../lib/json-object";
import { now } from "../lib/time";
import { requireOwnAvatar } from "../media/access";
import { readReceiptsChanged } from "../rooms/client";
import { type Audience, loadRelation, publicProfileView } from "./visibility";

export interface ProfilePatch {
  displayName?: string;
  bio?: string | null;
  avatarMediaId?: string | null;
  links?: { title?: string; url: string }[] | null;
  birthday?: string | null;
  /** Replaces the metadata as a whole (already checked by UserMetadata); null clears it. */
  metadata?: JsonObject | null;
}

export interface PrivacyPatch {
  lastSeen?: Audience;
  profilePhoto?: Audience;
  phone?: Audience;
  email?: Audience;
  groupInvites?: Audience;
  calls?: Audience;
  readReceipts?: boolean;
}

export interface StatusInput {
  text: string;
  emoji?: string | null;
  expiresAt?: string | null;
}

/** Accounts nobody else can look up: a profile of either status answers 404 like an unknown id. */
const HIDDEN_STATUSES = ["deleted", "banned"] as const;

/**
 * Write `changes` to the caller's own row and return the updated row. The row is addressed by the
 * caller's id only, so nobody can change another account; a deleted account is treated as signed
 * out, like getSelf does.
 */
async function updateOwnRow(db: Database, userId: string, changes: Partial<typeof users.$inferInsert>): Promise<UserRow> {
  const [row] = await db
    .update(users)
    .set({ ...changes, updatedAt: now() })
    .where(and(eq(users.id, userId), ne(users.status, "deleted")))
    .returning();
  if (!row) throw new AppError(401, "unauthorized", "Account no longer exists");
  return row;
}

/** The caller's own account row, with a referral code made on the spot for accounts that predate codes. */
export async function getOwnProfile(db: Database, userId: string): Promise<UserRow> {
  return ensureReferralCode(db, await getSelf(db, userId));
}

/**
 * Change the fields sent in `patch`; `null` clears an optional field and an empty bio counts as
 * none. `avatarMediaId` must be the caller's own `avatar` upload (`422 invalid_avatar`);
 * `metadata` is stored as the JSON text it arrived as and shown as stored.
 */
export async function updateProfile(db: Database, userId: string, patch: ProfilePatch): Promise<UserRow> {
  const changes: Partial<typeof users.$inferInsert> = {};
  if (patch.displayName !== undefined) changes.displayName = patch.displayName;
  if (patch.bio !== undefined) changes.bio = patch.bio || null;
  if (patch.avatarMediaId) await requireOwnAvatar(db, patch.avatarMediaId, userId);
  if (patch.avatarMediaId !== undefined) changes.avatarMediaId = patch.avatarMediaId;
  if (patch.links !== undefined) {
    changes.links = patch.links && patch.links.length > 0 ? JSON.stringify(patch.links.map(({ title, url }) => ({ title, url }))) : null;
  }
  if (patch.birthday !== undefined) changes.birthday = patch.birthday;
  if (patch.metadata !== undefined) changes.metadata = patch.metadata === null ? null : JSON.stringify(patch.metadata);
  return ensureReferralCode(db, await updateOwnRow(db, userId, changes));
}

const usernameTaken = () => new AppError(409, "username_taken", "That username is already taken");

/**
 * Change the caller's username (already normalized by the schema: lower case, [a-z0-9_]{3,32}).
 * Usernames are stored lower-case, so the unique index makes the check case-insensitive; the old
 * name is free for anyone the moment this returns.
 */
export async function changeUsername(db: Database, userId: string, username: string): Promise<UserRow> {
  const self = await getSelf(db, userId);
  if (self.username === username) return ensureReferralCode(db, self);
  const [taken] = await db.select({ id: users.id }).from(users).where(eq(users.username, username)).limit(1);
  if (taken) throw usernameTaken();
  try {
    return ensureReferralCode(db, await updateOwnRow(db, userId, { username }));
  } catch (err) {
    // Lost a race with a registration or another change to the same name.
    if (isUniqueViolation(err, "users.username")) throw usernameTaken();
    throw err;
  }
}

/**
 * Change the privacy settings sent; the others keep their values. Returns the updated row. Live
 * surfaces follow at once: a `lastSeen` change reaches every room where the user is online (their
 * presence is re-judged for each viewer), a `readReceipts` change reaches every chat they are in.
 */
export async function updatePrivacy(db: Database, env: Bindings, userId: string, patch: PrivacyPatch): Promise<UserRow> {
  const changes: Partial<typeof users.$inferInsert> = {};
  if (patch.lastSeen) changes.privacyLastSeen = patch.lastSeen;
  if (patch.profilePhoto) changes.privacyProfilePhoto = patch.profilePhoto;
  if (patch.phone) changes.privacyPhone = patch.phone;
  if (patch.email) changes.privacyEmail = patch.email;
  if (patch.groupInvites) changes.privacyGroupInvites = patch.groupInvites;
  if (patch.calls) changes.privacyCalls = patch.calls;
  if (patch.readReceipts !== undefined) changes.readReceipts = patch.readReceipts;
  const row = await updateOwnRow(db, userId, changes);
  if (patch.lastSeen) await presenceRulesChanged(env, [userId]);
  if (patch.readReceipts !== undefined) await readReceiptsChanged(env, userId, row.readReceipts);
  return row;
}

/** Replace the caller's status. Without `expiresAt` it stays until replaced or cleared. */
export async function setStatus(db: Database, userId: string, input: StatusInput): Promise<UserRow> {
  return updateOwnRow(db, userId, {
    statusText: input.text,
    statusEmoji: input.emoji ?? null,
    statusExpiresAt: input.expiresAt ? Date.parse(input.expiresAt) : null,
  });
}

/** Remove the caller's status (idempotent). */
export async function clearStatus(db: Database, userId: string): Promise<void> {
  await updateOwnRow(db, userId, { statusText: null, statusEmoji: null, statusExpiresAt: null });
}

/**
 * Another account's profile as `viewerId` may see it (publicProfileView: the owner's privacy
 * settings and blocks decide which fields appear). Unknown, deleted and banned accounts answer
 * `404 not_found` alike; suspended accounts stay visible.
 */
export async function getPublicProfile(db: Database, viewerId: string, by: { id: string } | { username: string }) {
  const match = "id" in by ? eq(users.id, by.id) : eq(users.username, by.username);
  const [owner] = await db
    .select()
    .from(users)
    .where(and(match, notInArray(users.status, [...HIDDEN_STATUSES])))
    .limit(1);
  if (!owner) throw notFound("User");
  return publicProfileView(owner, await loadRelation(db, viewerId, owner.id));
}
