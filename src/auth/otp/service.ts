// The code flows by purpose: passwordless sign-in (login), proving one's email or phone (verify)
// and password reset (reset), on the code store (codes.ts) and its messages (messages.ts).

import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../../db/client";
import type { UserRow } from "../../db/schema";
import { otpCodes, users } from "../../db/schema";
import type { Bindings } from "../../env";
import { isUniqueViolation } from "../../lib/db-errors";
import { AppError } from "../../lib/errors";
import type { RequestInfo } from "../../lib/request-info";
import { now } from "../../lib/time";
import { type Channel, providerFor } from "../../notify/notifier";
import { kindOnUpgrade } from "../guests";
import { classifyIdentifier, type IdentifierKind } from "../identifiers";
import { clearAttempts, lockoutKey } from "../lockout";
import { currentParams, hashPassword } from "../password";
import { assertStrongPassword } from "../password-strength";
import { recordEvent } from "../security-events";
import { findUserByIdentifier, getSelf } from "../service";
import { revokeUserSessions } from "../sessions";
import { afterFirstFactor, type DeviceInput } from "../sign-in";
import { checkCode, consumeCode, invalidCode, issueCode, refundTry } from "./codes";
import { codeMessage, codeTarget, type Deliver } from "./messages";

/** Whether `user` has `target` as its verified email or phone. */
export const isVerified = (user: UserRow, channel: Channel, target: string) =>
  channel === "email" ? user.email === target && user.emailVerifiedAt != null : user.phone === target && user.phoneVerifiedAt != null;

/**
 * Send a code for an account found by its verified email or phone: `login` only to such an
 * account (for any other identifier a code row is still stored, same work, same answer, nothing
 * sent); `signup` always (to an address without an account, redeeming it creates one: signup.ts).
 */
export async function sendAccountCode(
  db: Database,
  env: Bindings,
  purpose: "login" | "signup",
  input: { identifier: string; channel: Channel },
  deliver: Deliver,
): Promise<void> {
  const { target, channel } = codeTarget(input.identifier, input.channel);
  providerFor(env, channel); // a misconfigured channel answers 503 for every identifier alike
  const user = await findUserByIdentifier(db, target);
  const owner = user && isVerified(user, channel, target) ? user : null;
  const code = await issueCode(db, purpose, target, channel, owner?.id ?? null);
  if (owner || purpose === "signup") await deliver(codeMessage(purpose, channel, target, code));
}

/** `409 email_taken` / `phone_taken`: another account has verified this address. */
const addressTaken = (channel: Channel) =>
  channel === "email"
    ? new AppError(409, "email_taken", "That email address is already verified on another account")
    : new AppError(409, "phone_taken", "That phone number is already verified on another account");

/** The caller's own email/phone or `400 not_your_identifier`. */
function assertOwn(user: UserRow, target: string, channel: Channel): void {
  if ((channel === "email" ? user.email : user.phone) !== target) {
    throw new AppError(400, "not_your_identifier", `That ${channel === "email" ? "email address" : "phone number"} is not on your account`);
  }
}

/** Send a code that proves the signed-in user's own email or phone. */
export async function sendVerifyCode(
  db: Database,
  env: Bindings,
  userId: string,
  input: { identifier: string; channel: Channel },
  deliver: Deliver,
): Promise<void> {
  const { target, channel } = codeTarget(input.identifier, input.channel);
  const user = await getSelf(db, userId);
  assertOwn(user, target, channel);
  providerFor(env, channel);
  const code = await issueCode(db, "verify", target, channel, user.id);
  await deliver(codeMessage("verify", channel, target, code));
}

/**
 * Passwordless sign-in: redeem a login code, then continue like a password login
 * (afterFirstFactor: account status, blocked devices, 2FA challenge, session).
 */
export async function verifyLoginCode(
  db: Database,
  env: Bindings,
  input: { identifier: string; code: string; reactivate?: boolean } & DeviceInput,
  info: RequestInfo,
) {
  const { target, channel } = codeTarget(input.identifier);
  const row = await checkCode(db, "login", target, input.code);
  await consumeCode(db, row.id);
  const [user] = await db.select().from(users).where(eq(users.id, row.userId));
  // The account may have changed its address or gone away since the code was sent.
  if (!user || user.status === "deleted" || !isVerified(user, channel, target)) throw invalidCode();
  const device = { deviceId: input.deviceId, deviceName: input.deviceName };
  return afterFirstFactor(db, env, user, device, info, "otp", input.reactivate === true);
}

/**
 * Mark the caller's email or phone verified with a `verify` code (a guest becomes `regular` in the
 * same write); records email_verified / phone_verified once. An address is unique only among verified ones, so when another account has
 * already verified it the partial unique index refuses the write and the answer is `409
 * email_taken` / `phone_taken`. That check comes only after the right code was presented (and used
 * up), so only someone who can read what is sent to the address learns that it is taken.
 */
export async function verifyContact(
  db: Database,
  userId: string,
  input: { identifier: string; code: string },
  info: RequestInfo,
): Promise<void> {
  const { target, channel } = codeTarget(input.identifier);
  const user = await getSelf(db, userId);
  assertOwn(user, target, channel);
  const row = await checkCode(db, "verify", target, input.code, user.id);
  await consumeCode(db, row.id);
  const at = now();
  const changed = await db
    .update(users)
    .set(
      channel === "email"
        ? { emailVerifiedAt: at, kind: kindOnUpgrade, updatedAt: at }
        : { phoneVerifiedAt: at, kind: kindOnUpgrade, updatedAt: at },
    )
    .where(
      channel === "email"
        ? and(eq(users.id, user.id), eq(users.email, target), isNull(users.emailVerifiedAt))
        : and(eq(users.id, user.id), eq(users.phone, target), isNull(users.phoneVerifiedAt)),
    )
    .returning({ id: users.id })
    .catch((err: unknown) => {
      throw isUniqueViolation(err, channel === "email" ? "users.email" : "users.phone") ? addressTaken(channel) : err;
    });
  if (changed.length > 0)
    await recordEvent(db, user.id, channel === "email" ? "email_verified" : "phone_verified", info, { details: { channel } });
}

/** Where a reset code goes: the verified address the identifier names; for a username the verified email, else phone. */
function resetDestination(user: UserRow, kind: IdentifierKind): { channel: Channel; to: string } | null {
  const email = user.email && user.emailVerifiedAt != null ? { channel: "email" as const, to: user.email } : null;
  const phone = user.phone && user.phoneVerifiedAt != null ? { channel: "sms" as const, to: user.phone } : null;
  if (kind === "email") return email;
  if (kind === "phone") return phone;
  return email ?? phone;
}

/**
 * Start a password reset: a code to the account's verified email or phone. Unknown identifiers and
 * accounts without a verified destination store a code row too and send nothing.
 */
export async function forgotPassword(db: Database, identifier: string, deliver: Deliver): Promise<void> {
  const { kind, value: target } = classifyIdentifier(identifier);
  const user = await findUserByIdentifier(db, target);
  const destination = user ? resetDestination(user, kind) : null;
  const code = await issueCode(db, "reset", target, destination?.channel ?? null, destination ? user!.id : null);
  if (destination) await deliver(codeMessage("reset", destination.channel, destination.to, code));
}

/**
 * Set a new password with a reset code (looked up by the identifier forgot-password got). A weak
 * password is refused without using up the code or a try. Success ends every session, clears the
 * login lockout, retires the account's other reset codes and records `password_reset`.
 */
export async function resetPassword(
  db: Database,
  env: Bindings,
  input: { identifier: string; code: string; newPassword: string },
  info: RequestInfo,
): Promise<void> {
  const target = classifyIdentifier(input.identifier).value;
  const row = await checkCode(db, "reset", target, input.code);
  const [user] = await db.select().from(users).where(eq(users.id, row.userId));
  if (!user || user.status === "deleted") throw invalidCode();
  try {
    await assertStrongPassword(input.newPassword, [user.username, user.email?.split("@")[0], user.displayName]);
  } catch (err) {
    await refundTry(db, row.id);
    throw err;
  }
  const passwordHash = await hashPassword(input.newPassword, currentParams(env));
  await consumeCode(db, row.id);
  const at = now();
  await db.batch([
    db.update(users).set({ passwordHash, updatedAt: at }).where(eq(users.id, user.id)),
    db
      .update(otpCodes)
      .set({ consumedAt: at })
      .where(and(eq(otpCodes.userId, user.id), eq(otpCodes.purpose, "reset"), isNull(otpCodes.consumedAt))),
  ]);
  const ended = await revokeUserSessions(db, env, user.id, "password_reset");
  await clearAttempts(db, lockoutKey(user.id, user.username));
  await recordEvent(db, user.id, "password_reset", info, { details: { sessionsEnded: ended } });
}
