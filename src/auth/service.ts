import { and, eq, isNotNull } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { sessions, users } from "../db/schema";
import type { AuthContext, Bindings } from "../env";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError } from "../lib/errors";
import { publishEvent } from "../lib/events";
import { newId } from "../lib/ids";
import type { RequestInfo } from "../lib/request-info";
import { MINUTE, now } from "../lib/time";
import { hasPassword } from "./accounts";
import { kindOnUpgrade } from "./guests";
import { classifyIdentifier } from "./identifiers";
import { clearAttempts, countAttempt, lockoutKey, refundAttempt } from "./lockout";
import { currentParams, hashPassword, verifyDummy, verifyPassword } from "./password";
import { assertStrongPassword } from "./password-strength";
import { resolveReferralCode, withFreshReferralCode } from "./referral-codes";
import { recordEvent } from "./security-events";
import { revokeUserSessions } from "./sessions";
import { afterFirstFactor, completeSignIn, type DeviceInput } from "./sign-in";

export interface RegisterInput extends DeviceInput {
  username: string;
  password: string;
  email?: string;
  phone?: string;
  displayName?: string;
  /** Another account's referral code. */
  referredBy?: string;
}

/**
 * Create an account and sign it in on the calling device. The username is unique and public
 * (`409 username_taken`). An email or phone is stored unverified and is the account's only once
 * verified (POST /auth/otp/verify), so registering with an address another account holds, verified
 * or not, succeeds exactly like a fresh one: the same statements, the same answer, nothing that
 * tells whether the address is in use. The account gets its own referral code; `referredBy`
 * (another account's code) is recorded as the referrer's id, and a code that matches no account is
 * `400 invalid_referral_code`.
 */
export async function register(db: Database, env: Bindings, input: RegisterInput, info: RequestInfo) {
  await assertStrongPassword(input.password, [input.username, input.email?.split("@")[0], input.displayName]);
  const referredBy = input.referredBy ? await resolveReferralCode(db, input.referredBy) : null;
  await assertUsernameFree(db, input.username);
  const at = now();
  const passwordHash = await hashPassword(input.password, currentParams(env));
  const id = newId();
  let user: UserRow;
  try {
    user = await withFreshReferralCode(async (referralCode) => {
      const [row] = await db
        .insert(users)
        .values({
          id,
          username: input.username,
          email: input.email ?? null,
          phone: input.phone ?? null,
          displayName: input.displayName ?? input.username,
          passwordHash,
          referralCode,
          referredBy,
          createdAt: at,
          updatedAt: at,
        })
        .returning();
      return row as UserRow;
    });
  } catch (err) {
    // Lost a race with a concurrent registration of the same name: report it like the check does.
    // (New addresses are unverified, so they never conflict.)
    if (isUniqueViolation(err)) await assertUsernameFree(db, input.username);
    throw err;
  }
  await publishEvent(env, "user.created", { userId: user.id, username: user.username, method: "password" });
  return completeSignIn(db, env, user, input, info, "register");
}

/** `409 username_taken` unless the (normalized) username is free. Usernames are public, so saying so reveals nothing. */
async function assertUsernameFree(db: Database, username: string): Promise<void> {
  const [taken] = await db.select({ id: users.id }).from(users).where(eq(users.username, username));
  if (taken) throw new AppError(409, "username_taken", "That username is already taken");
}

/**
 * Find a live account by what people sign in with (already normalized): its username, or an email
 * or phone it has VERIFIED. An unverified address belongs to no one (several accounts may hold it),
 * so it signs nobody in and gets no codes; it answers like an address nobody holds.
 */
export async function findUserByIdentifier(db: Database, identifier: string): Promise<UserRow | undefined> {
  const { kind, value } = classifyIdentifier(identifier);
  const match =
    kind === "email"
      ? and(eq(users.email, value), isNotNull(users.emailVerifiedAt))
      : kind === "phone"
        ? and(eq(users.phone, value), isNotNull(users.phoneVerifiedAt))
        : eq(users.username, value);
  const [user] = await db.select().from(users).where(match);
  return user && user.status !== "deleted" ? user : undefined;
}

const invalidCredentials = () => new AppError(401, "invalid_credentials", "Invalid username or password");

/**
 * Password login. Unknown identifiers (an unverified email or phone is one) and wrong passwords
 * answer identically (same status, code, message, one argon2 verification each, one counter write
 * each), and both count toward the 15-minute lockout. A deactivated account answers `403
 * account_deactivated` after the right password, unless `reactivate` is true: then the sign-in
 * reactivates it.
 */
export async function login(
  db: Database,
  env: Bindings,
  input: { identifier: string; password: string; reactivate?: boolean } & DeviceInput,
  info: RequestInfo,
) {
  const params = currentParams(env);
  const user = await findUserByIdentifier(db, input.identifier);
  const key = lockoutKey(user?.id ?? null, classifyIdentifier(input.identifier).value);
  await countAttempt(db, key);
  // An account without a password (made by an API key, a code, or as a guest) answers like an unknown one, as slowly.
  if (!user || !hasPassword(user)) {
    await verifyDummy(input.password, params);
    throw invalidCredentials();
  }
  const result = await verifyPassword(input.password, user.passwordHash, params);
  if (!result.ok) throw invalidCredentials();
  // With 2FA on the sign-in is not done yet: only a right second factor clears the counter.
  if (user.totpEnabledAt) await refundAttempt(db, key);
  else await clearAttempts(db, key);
  if (result.needsRehash && user.status === "active") {
    // Parameters changed since this hash was made: upgrade it now that we know the password.
    const passwordHash = await hashPassword(input.password, params);
    await db.update(users).set({ passwordHash, updatedAt: now() }).where(eq(users.id, user.id));
    user.passwordHash = passwordHash;
  }
  return afterFirstFactor(db, env, user, input, info, "password", input.reactivate === true);
}

/** How recent a sign-in must be to add a first password. */
export const FRESH_SIGN_IN_MS = 10 * MINUTE;

/**
 * Give a passwordless account (made by a one-time code, an API key or as a guest) its first
 * password; `409 password_already_set` when it has one (change it with the current one instead).
 * A guest becomes `regular` in the same write. Other sessions stay: nothing they knew changed.
 */
export async function setFirstPassword(
  db: Database,
  env: Bindings,
  auth: AuthContext,
  newPassword: string,
  info: RequestInfo,
): Promise<void> {
  const user = await getSelf(db, auth.userId);
  if (hasPassword(user)) throw new AppError(409, "password_already_set", "This account has a password: change it with the current one");
  // A lasting credential needs a fresh sign-in, not just any live token (one stolen would otherwise become a password).
  await assertFreshSignIn(db, user, auth);
  await assertStrongPassword(newPassword, [user.username, user.email?.split("@")[0], user.displayName]);
  const passwordHash = await hashPassword(newPassword, currentParams(env));
  const [set] = await db
    .update(users)
    .set({ passwordHash, kind: kindOnUpgrade, updatedAt: now() })
    .where(and(eq(users.id, user.id), eq(users.passwordHash, "")))
    .returning({ id: users.id });
  if (!set) throw new AppError(409, "password_already_set", "This account has a password: change it with the current one");
  await recordEvent(db, user.id, "password_set", info);
}

/**
 * What stands in for a password on an account without one, before something lasting or drastic
 * (a first password, deactivation, deletion): a session signed in within the last 10 minutes, so a
 * stolen access token alone is not enough (`403 reauthentication_required`: sign in again with a
 * one-time code). A guest has nothing else to sign in with: its session is the account.
 */
export async function assertFreshSignIn(db: Database, user: Pick<UserRow, "kind">, auth: AuthContext): Promise<void> {
  if (user.kind === "guest") return;
  const [session] = await db.select({ createdAt: sessions.createdAt }).from(sessions).where(eq(sessions.id, auth.sessionId));
  if (!session || now() - session.createdAt > FRESH_SIGN_IN_MS) {
    throw new AppError(403, "reauthentication_required", "Sign in again (a one-time code) and do this within 10 minutes");
  }
}

/** Load the caller's account; a session whose account is gone is treated as signed out. */
export async function getSelf(db: Database, userId: string): Promise<UserRow> {
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user || user.status === "deleted") throw new AppError(401, "unauthorized", "Account no longer exists");
  return user;
}

/**
 * Change the password after proving the current one. Wrong current passwords count toward the
 * lockout; success ends every other session of the account.
 */
export async function changePassword(
  db: Database,
  env: Bindings,
  auth: AuthContext,
  input: { currentPassword: string; newPassword: string },
  info: RequestInfo,
): Promise<void> {
  const user = await getSelf(db, auth.userId);
  const params = currentParams(env);
  const key = lockoutKey(user.id, user.username);
  await countAttempt(db, key);
  const result = await verifyPassword(input.currentPassword, user.passwordHash, params);
  if (!result.ok) throw new AppError(403, "invalid_password", "Current password is wrong");
  await clearAttempts(db, key);
  if (input.newPassword === input.currentPassword) {
    throw new AppError(400, "password_unchanged", "The new password must differ from the current one");
  }
  await assertStrongPassword(input.newPassword, [user.username, user.email?.split("@")[0], user.displayName]);
  const passwordHash = await hashPassword(input.newPassword, params);
  await db.update(users).set({ passwordHash, updatedAt: now() }).where(eq(users.id, user.id));
  const ended = await revokeUserSessions(db, env, user.id, "password_changed", auth.sessionId);
  await recordEvent(db, user.id, "password_changed", info, { details: { otherSessionsEnded: ended } });
}
