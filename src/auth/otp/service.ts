import { and, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import type { UserRow } from "../../db/schema";
import { otpCodes, users } from "../../db/schema";
import type { Bindings } from "../../env";
import { enforceWindow } from "../../lib/counters";
import { sha256Hex, timingSafeEqual } from "../../lib/crypto";
import { isUniqueViolation } from "../../lib/db-errors";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import type { RequestInfo } from "../../lib/request-info";
import { MINUTE, now } from "../../lib/time";
import { type Channel, type OutgoingMessage, providerFor } from "../../notify/notifier";
import { classifyIdentifier, type IdentifierKind } from "../identifiers";
import { clearAttempts, lockoutKey } from "../lockout";
import { assertStrongPassword, currentParams, hashPassword } from "../password";
import { Email, Phone } from "../schemas";
import { recordEvent } from "../security-events";
import { findUserByIdentifier, getSelf } from "../service";
import { revokeUserSessions } from "../sessions";
import { afterFirstFactor, type DeviceInput } from "../sign-in";

export const CODE_TTL_MS = 5 * MINUTE;
export const MAX_ATTEMPTS = 3;
/** Codes sent per identifier (all purposes together), counted exactly in D1. */
export const SEND_LIMIT = { max: 3, windowMs: 15 * MINUTE };

type Purpose = "login" | "verify" | "reset";
type OtpRow = typeof otpCodes.$inferSelect;
/** Hands a message to the notifier; the route decides whether the answer waits for it. */
export type Deliver = (message: OutgoingMessage) => Promise<void>;

const TTL_TEXT = `${CODE_TTL_MS / MINUTE} minutes`;
const MESSAGES: Record<Purpose, { kind: string; subject: string; text: (code: string) => string }> = {
  login: {
    kind: "otp.login",
    subject: "Your sign-in code",
    text: (code) => `Your sign-in code is ${code}. It expires in ${TTL_TEXT}. If you did not try to sign in, ignore this message.`,
  },
  verify: {
    kind: "otp.verify",
    subject: "Your verification code",
    text: (code) => `Your verification code is ${code}. It expires in ${TTL_TEXT}. If you did not ask for it, ignore this message.`,
  },
  reset: {
    kind: "password.reset",
    subject: "Reset your password",
    text: (code) =>
      `Your password reset code is ${code}. It expires in ${TTL_TEXT}. ` +
      "If you did not ask to reset your password, ignore this message: your password has not changed.",
  },
};

/** Six uniformly random digits: 32-bit draws above the largest multiple of 10^6 are redrawn (no modulo bias). */
export function randomCode(): string {
  const limit = Math.floor(2 ** 32 / 1e6) * 1e6;
  const draw = new Uint32Array(1);
  do crypto.getRandomValues(draw);
  while (draw[0]! >= limit);
  return String(draw[0]! % 1e6).padStart(6, "0");
}

const codeHash = (id: string, code: string) => sha256Hex(`${id}:${code}`);

/** One answer for wrong, expired, used up and superseded codes; `attemptsLeft` only while the code is alive. */
const invalidCode = (attemptsLeft?: number) =>
  new AppError(400, "invalid_code", "The code is wrong, expired or already used", attemptsLeft ? { attemptsLeft } : undefined);

const badIdentifier = (message: string) =>
  new AppError(400, "validation_failed", `Invalid body.identifier: ${message}`, [
    { path: "body.identifier", code: "invalid_format", message },
  ]);

/**
 * Normalize a code identifier: an email or an E.164 phone (usernames cannot receive codes). With
 * `channel`, the identifier's kind must match it (`400 channel_mismatch`).
 */
export function codeTarget(identifier: string, channel?: Channel): { target: string; channel: Channel } {
  const { kind, value } = classifyIdentifier(identifier);
  const implied: Channel | null = kind === "email" ? "email" : kind === "phone" ? "sms" : null;
  if (channel && implied !== channel) {
    throw new AppError(
      400,
      "channel_mismatch",
      channel === "email"
        ? 'Channel "email" needs an email address as identifier'
        : 'Channel "sms" needs an E.164 phone number (+14155550100) as identifier',
      { channel, identifierKind: kind },
    );
  }
  if (!implied) throw badIdentifier("must be an email address or an E.164 phone number");
  if (kind === "email" && !Email.safeParse(value).success) throw badIdentifier("Not a valid email address");
  if (kind === "phone" && !Phone.safeParse(value).success) throw badIdentifier("Phone must be in E.164 form, e.g. +14155550100");
  return { target: value, channel: implied };
}

/**
 * Verify codes belong to the account that asked: several accounts may hold one unverified address,
 * and one of them must not retire, or spend the tries of, another's code.
 */
const ownVerifyCode = (purpose: Purpose, userId: string | null | undefined) =>
  purpose === "verify" && userId ? eq(otpCodes.userId, userId) : undefined;

/**
 * Count a send against the identifier (`429 rate_limited` after SEND_LIMIT), retire its older live
 * codes of the same purpose (for `verify`, the same account's), and store a new one (hashed).
 * Returns the plain code for the message.
 */
async function issueCode(db: Database, purpose: Purpose, target: string, channel: Channel | null, userId: string | null): Promise<string> {
  await enforceWindow(db, `otp-send:${target}`, SEND_LIMIT, "rate_limited", "Too many codes requested for this identifier");
  const at = now();
  const id = newId();
  const code = randomCode();
  await db.batch([
    db
      .update(otpCodes)
      .set({ consumedAt: at })
      .where(and(eq(otpCodes.target, target), eq(otpCodes.purpose, purpose), ownVerifyCode(purpose, userId), isNull(otpCodes.consumedAt))),
    db
      .insert(otpCodes)
      .values({ id, purpose, channel, target, userId, codeHash: codeHash(id, code), createdAt: at, expiresAt: at + CODE_TTL_MS }),
  ]);
  return code;
}

/**
 * Check `code` against the live code for target+purpose (for `verify`, `userId`'s own). The try
 * is counted first, atomically, so concurrent guesses cannot exceed MAX_ATTEMPTS; a code that
 * matches but was issued for no account (or for another than `userId`) is just as invalid as a
 * wrong one.
 */
async function checkCode(
  db: Database,
  purpose: Purpose,
  target: string,
  code: string,
  userId?: string,
): Promise<OtpRow & { userId: string }> {
  const at = now();
  const live = and(isNull(otpCodes.consumedAt), gt(otpCodes.expiresAt, at), lt(otpCodes.attempts, MAX_ATTEMPTS));
  const [row] = await db
    .select()
    .from(otpCodes)
    .where(and(eq(otpCodes.target, target), eq(otpCodes.purpose, purpose), ownVerifyCode(purpose, userId), live))
    .orderBy(desc(otpCodes.createdAt))
    .limit(1);
  if (!row) throw invalidCode();
  const [counted] = await db
    .update(otpCodes)
    .set({ attempts: sql`${otpCodes.attempts} + 1` })
    .where(and(eq(otpCodes.id, row.id), live))
    .returning({ attempts: otpCodes.attempts });
  if (!counted) throw invalidCode();
  const matches = timingSafeEqual(codeHash(row.id, code), row.codeHash);
  if (!matches || !row.userId || (userId && row.userId !== userId)) throw invalidCode(MAX_ATTEMPTS - counted.attempts);
  return row as OtpRow & { userId: string };
}

/** Use the code up; of two concurrent redemptions only one wins. */
async function consumeCode(db: Database, id: string): Promise<void> {
  const done = await db
    .update(otpCodes)
    .set({ consumedAt: now() })
    .where(and(eq(otpCodes.id, id), isNull(otpCodes.consumedAt)))
    .returning({ id: otpCodes.id });
  if (done.length === 0) throw invalidCode();
}

/** Give back the try a right code spent when the request failed for another reason (a weak password). */
async function refundTry(db: Database, id: string): Promise<void> {
  await db
    .update(otpCodes)
    .set({ attempts: sql`max(${otpCodes.attempts} - 1, 0)` })
    .where(eq(otpCodes.id, id));
}

const message = (purpose: Purpose, channel: Channel, to: string, code: string): OutgoingMessage => ({
  channel,
  to,
  kind: MESSAGES[purpose].kind,
  subject: MESSAGES[purpose].subject,
  text: MESSAGES[purpose].text(code),
});

const isVerified = (user: UserRow, channel: Channel, target: string) =>
  channel === "email" ? user.email === target && user.emailVerifiedAt != null : user.phone === target && user.phoneVerifiedAt != null;

/**
 * Send a passwordless sign-in code. Only an account whose email/phone is verified gets one; for
 * any other identifier a code row is still stored (same work, same answer) but nothing is sent.
 */
export async function sendLoginCode(
  db: Database,
  env: Bindings,
  input: { identifier: string; channel: Channel },
  deliver: Deliver,
): Promise<void> {
  const { target, channel } = codeTarget(input.identifier, input.channel);
  providerFor(env, channel); // a misconfigured channel answers 503 for every identifier alike
  const user = await findUserByIdentifier(db, target);
  const recipient = user && isVerified(user, channel, target) ? user : null;
  const code = await issueCode(db, "login", target, channel, recipient?.id ?? null);
  if (recipient) await deliver(message("login", channel, target, code));
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
  await deliver(message("verify", channel, target, code));
}

/**
 * Passwordless sign-in: redeem a login code, then continue like a password login
 * (afterFirstFactor: account status, blocked devices, 2FA challenge, session).
 */
export async function verifyLoginCode(
  db: Database,
  env: Bindings,
  input: { identifier: string; code: string } & DeviceInput,
  info: RequestInfo,
) {
  const { target, channel } = codeTarget(input.identifier);
  const row = await checkCode(db, "login", target, input.code);
  await consumeCode(db, row.id);
  const [user] = await db.select().from(users).where(eq(users.id, row.userId));
  // The account may have changed its address or gone away since the code was sent.
  if (!user || user.status === "deleted" || !isVerified(user, channel, target)) throw invalidCode();
  return afterFirstFactor(db, env, user, { deviceId: input.deviceId, deviceName: input.deviceName }, info, "otp");
}

/**
 * Mark the caller's email or phone verified with a `verify` code; records email_verified /
 * phone_verified once. An address is unique only among verified ones, so when another account has
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
    .set(channel === "email" ? { emailVerifiedAt: at, updatedAt: at } : { phoneVerifiedAt: at, updatedAt: at })
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
  if (destination) await deliver(message("reset", destination.channel, destination.to, code));
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
    assertStrongPassword(input.newPassword, [user.username, user.email?.split("@")[0], user.displayName]);
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
