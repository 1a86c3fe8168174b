import { eq, inArray, or, sql } from "drizzle-orm";
import { lockoutKey } from "../auth/lockout";
import { getSelf } from "../auth/service";
import { revokeUserSessions } from "../auth/sessions";
import type { Database } from "../db/client";
import {
  blocks,
  closeFriends,
  contacts,
  devOutbox,
  follows,
  identityKeys,
  keyDevices,
  mfaChallenges,
  oneTimePreKeys,
  otpCodes,
  recoveryCodes,
  refreshTokens,
  securityEvents,
  sessions,
  type UserRow,
  userDevices,
  userPreferences,
  users,
  windowCounters,
} from "../db/schema";
import type { AuthContext, Bindings } from "../env";
import { publishEvent } from "../lib/events";
import { now } from "../lib/time";
import { onAccountDeleted } from "./deletion-hooks";
import { type OwnershipProof, proveOwnership } from "./ownership";

/** What a deleted account is called wherever it still appears (chat authorship, member lists). */
export const DELETED_DISPLAY_NAME = "Deleted account";

/**
 * The username a deleted account keeps so the row stays unique: real usernames are [a-z0-9_],
 * so a name with a colon can never collide with one, and the old name is free at once.
 */
export const deletedUsername = (userId: string) => `deleted:${userId}`;

/**
 * Erase the caller's account after proving ownership (the password, or a fresh sign-in without one,
 * and a second factor when 2FA is on: proveOwnership); then eraseAccount does the rest.
 */
export async function deleteAccount(db: Database, env: Bindings, auth: AuthContext, proof: OwnershipProof): Promise<void> {
  const user = await getSelf(db, auth.userId);
  await proveOwnership(db, env, user, auth, proof);
  await eraseAccount(db, env, user);
}

/**
 * Erase an account: the one path every erasure takes (the owner's own deletion, an expired guest,
 * a bot its owner deletes), so each ends the same way.
 *
 * Every session ends first (deny-listed in KV, so access tokens stop at once). Then one D1 batch
 * (one transaction) keeps the row, so chat authorship can still point at it, but erases
 * everything personal on it: status `deleted`, username `deleted:<id>`, display name "Deleted
 * account", email, phone, bio, links, birthday, avatar, status, referral code, 2FA secrets, and a
 * password hash of `''` that no password verifies against. In the same batch it deletes contacts,
 * follows (fixing the other side's follower/following counts), blocks and close friends in both
 * directions, devices (and their end-to-end keys), sessions and refresh tokens, recovery codes, one-time codes (its own, and
 * any sent to an address it had verified), MFA challenges, security events and the lockout counter. Reports and the admin audit log are kept
 * for moderation. Finally `onAccountDeleted` runs the hooks of the modules above (chats, media,
 * stories, …, registered in src/app/wiring.ts). `user` is the row as it was before the erasure began
 * (its addresses say which codes go).
 */
export async function eraseAccount(db: Database, env: Bindings, user: UserRow): Promise<void> {
  const userId = user.id;
  const key = lockoutKey(user.id, user.username);
  await revokeUserSessions(db, env, userId, "account_deleted");

  const at = now();
  // Codes and dev-outbox messages addressed to an email/phone go with the account only where it had
  // verified it: an unverified address may be another account's (or nobody's), and so are its codes.
  const identifiers = [user.emailVerifiedAt ? user.email : null, user.phoneVerifiedAt ? user.phone : null].filter((v): v is string => !!v);
  const iFollow = db.select({ id: follows.followeeId }).from(follows).where(eq(follows.followerId, userId));
  const followMe = db.select({ id: follows.followerId }).from(follows).where(eq(follows.followeeId, userId));
  const userSessions = db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, userId));

  await db.batch([
    db
      .update(users)
      .set({
        status: "deleted",
        deletedAt: at,
        updatedAt: at,
        username: deletedUsername(userId),
        displayName: DELETED_DISPLAY_NAME,
        email: null,
        emailVerifiedAt: null,
        phone: null,
        phoneVerifiedAt: null,
        passwordHash: "",
        totpSecret: null,
        totpPendingSecret: null,
        totpEnabledAt: null,
        totpLastStep: null,
        bio: null,
        avatarMediaId: null,
        links: null,
        birthday: null,
        statusText: null,
        statusEmoji: null,
        statusExpiresAt: null,
        referralCode: null,
        referredBy: null,
        metadata: null,
        lastSeenAt: null,
        onlineUntil: null,
        externalId: null,
        followersCount: 0,
        followingCount: 0,
      })
      .where(eq(users.id, userId)),
    // Counts first, while the follows rows still say whom to fix; then the rows go.
    db
      .update(users)
      .set({ followersCount: sql`max(${users.followersCount} - 1, 0)` })
      .where(inArray(users.id, iFollow)),
    db
      .update(users)
      .set({ followingCount: sql`max(${users.followingCount} - 1, 0)` })
      .where(inArray(users.id, followMe)),
    db.delete(follows).where(or(eq(follows.followerId, userId), eq(follows.followeeId, userId))),
    db.delete(contacts).where(or(eq(contacts.ownerId, userId), eq(contacts.contactId, userId))),
    db.delete(blocks).where(or(eq(blocks.blockerId, userId), eq(blocks.blockedId, userId))),
    db.delete(closeFriends).where(or(eq(closeFriends.ownerId, userId), eq(closeFriends.friendId, userId))),
    db.delete(userDevices).where(eq(userDevices.userId, userId)),
    db.delete(userPreferences).where(eq(userPreferences.userId, userId)),
    // Its end-to-end keys: nobody starts a session with a deleted account.
    db.delete(oneTimePreKeys).where(eq(oneTimePreKeys.userId, userId)),
    db.delete(keyDevices).where(eq(keyDevices.userId, userId)),
    db.delete(identityKeys).where(eq(identityKeys.userId, userId)),
    db.delete(refreshTokens).where(inArray(refreshTokens.sessionId, userSessions)),
    db.delete(sessions).where(eq(sessions.userId, userId)),
    db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
    db.delete(mfaChallenges).where(eq(mfaChallenges.userId, userId)),
    db.delete(securityEvents).where(eq(securityEvents.userId, userId)),
    db.delete(windowCounters).where(eq(windowCounters.key, key)),
    identifiers.length > 0
      ? db.delete(otpCodes).where(or(eq(otpCodes.userId, userId), inArray(otpCodes.target, identifiers)))
      : db.delete(otpCodes).where(eq(otpCodes.userId, userId)),
    // The development outbox holds what was "sent" to the old email and phone.
    ...(identifiers.length > 0 ? [db.delete(devOutbox).where(inArray(devOutbox.recipient, identifiers))] : []),
  ]);

  await onAccountDeleted(env, db, userId);
  await publishEvent(env, "user.deleted", { userId });
}
