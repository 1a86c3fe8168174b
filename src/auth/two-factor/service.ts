import { and, eq, isNull, lt, or } from "drizzle-orm";
import { renderSVG } from "uqr";
import type { Database } from "../../db/client";
import type { UserRow } from "../../db/schema";
import { mfaChallenges, recoveryCodes, users } from "../../db/schema";
import type { Bindings } from "../../env";
import { AppError } from "../../lib/errors";
import type { RequestInfo } from "../../lib/request-info";
import { now } from "../../lib/time";
import { clearAttempts, countAttempt, lockoutKey } from "../lockout";
import { currentParams, verifyPassword } from "../password";
import { recordEvent } from "../security-events";
import { getSelf } from "../service";
import { assertCanSignIn, completeSignIn, consumeChallenge, peekChallenge, reactivateForSignIn } from "../sign-in";
import { newRecoveryCode, RECOVERY_CODE_COUNT, replaceRecoveryCodes, useRecoveryCode } from "./recovery-codes";
import { matchTotp, newTotpSecret, otpauthUrl, totpIssuer } from "./totp";

/** A second factor as the API takes it: a TOTP code or a recovery code (exactly one). */
export interface SecondFactor {
  code?: string;
  recoveryCode?: string;
}

const invalidCode = () => new AppError(400, "invalid_code", "The code is wrong, expired or was already used");
const alreadyEnabled = () => new AppError(409, "two_factor_already_enabled", "Two-factor authentication is already enabled");

/**
 * Accept a TOTP code of `user` at most once: the code must match a step within ±1 of now, and
 * that step must be later than the last accepted one. The conditional UPDATE is the check, so
 * two concurrent uses of one code cannot both pass, and a secret changed meanwhile does not match.
 */
async function acceptTotp(db: Database, user: UserRow, code: string, at: number): Promise<boolean> {
  if (!user.totpSecret || !user.totpEnabledAt) return false;
  const step = matchTotp(user.totpSecret, code, at);
  if (step === null) return false;
  const claimed = await db
    .update(users)
    .set({ totpLastStep: step })
    .where(and(eq(users.id, user.id), eq(users.totpSecret, user.totpSecret), or(isNull(users.totpLastStep), lt(users.totpLastStep, step))))
    .returning({ id: users.id });
  return claimed.length === 1;
}

/**
 * Check a second factor (TOTP code or recovery code) and use it up. Returns how it was proven
 * and, for a recovery code, how many codes remain; throws `400 invalid_code` when it fails.
 */
export async function proveSecondFactor(db: Database, user: UserRow, input: SecondFactor, at: number) {
  if (input.code !== undefined) {
    if (!(await acceptTotp(db, user, input.code, at))) throw invalidCode();
    return { method: "totp" as const, remaining: null };
  }
  const remaining = user.totpEnabledAt ? await useRecoveryCode(db, user.id, input.recoveryCode ?? "", at) : null;
  if (remaining === null) throw invalidCode();
  return { method: "recovery_code" as const, remaining };
}

/**
 * For sensitive actions by a signed-in user (e.g. deleting the account): when 2FA is on, demand
 * and use up a second factor (`400 two_factor_required` without one, `400 invalid_code` when
 * wrong); when it is off, do nothing.
 */
export async function requireSecondFactorIfEnabled(db: Database, user: UserRow, input: SecondFactor): Promise<void> {
  if (!user.totpEnabledAt) return;
  if (input.code === undefined && input.recoveryCode === undefined) {
    throw new AppError(400, "two_factor_required", "Two-factor authentication is on: send `code` or `recoveryCode` too");
  }
  await proveSecondFactor(db, user, input, now());
}

/**
 * Start (or restart) 2FA setup: a new 160-bit secret is stored as the account's pending secret,
 * replacing an unconfirmed one, and returned with its otpauth URL and that URL as a QR code.
 * Nothing changes for sign-in until `enableTwoFactor` confirms a code. `409` when already on.
 */
export async function setupTwoFactor(db: Database, env: Bindings, userId: string) {
  const user = await getSelf(db, userId);
  if (user.totpEnabledAt) throw alreadyEnabled();
  const secret = newTotpSecret();
  const stored = await db
    .update(users)
    .set({ totpPendingSecret: secret, updatedAt: now() })
    .where(and(eq(users.id, user.id), isNull(users.totpEnabledAt)))
    .returning({ id: users.id });
  if (stored.length === 0) throw alreadyEnabled();
  const url = otpauthUrl(secret, totpIssuer(env), user.username);
  return { secret, otpauthUrl: url, qrSvg: renderSVG(url, { ecc: "M", border: 2 }) };
}

/**
 * Turn 2FA on by proving the pending secret with a current code. The secret becomes active,
 * the code's step counts as used, and 10 new recovery codes replace any old ones; they are
 * returned once and stored only as hashes. Records `two_factor_enabled`.
 */
export async function enableTwoFactor(db: Database, userId: string, code: string, info: RequestInfo): Promise<{ recoveryCodes: string[] }> {
  const user = await getSelf(db, userId);
  if (user.totpEnabledAt) throw alreadyEnabled();
  const pending = user.totpPendingSecret;
  if (!pending) throw new AppError(400, "two_factor_not_set_up", "Start with POST /auth/2fa/setup, then confirm a code here");
  const at = now();
  const step = matchTotp(pending, code, at);
  if (step === null) throw invalidCode();
  // Conditional on the same pending secret and 2FA still off: a concurrent setup or enable loses.
  const enabled = await db
    .update(users)
    .set({ totpSecret: pending, totpPendingSecret: null, totpEnabledAt: at, totpLastStep: step, updatedAt: at })
    .where(and(eq(users.id, user.id), eq(users.totpPendingSecret, pending), isNull(users.totpEnabledAt)))
    .returning({ id: users.id });
  if (enabled.length === 0) {
    if ((await getSelf(db, userId)).totpEnabledAt) throw alreadyEnabled();
    throw invalidCode(); // the pending secret was replaced by a newer setup meanwhile
  }
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await db.batch(replaceRecoveryCodes(db, user.id, codes, at));
  await recordEvent(db, user.id, "two_factor_enabled", info, { details: { recoveryCodes: codes.length } });
  return { recoveryCodes: codes };
}

/**
 * Finish a sign-in parked by `afterFirstFactor`: the MFA token must be live (`401
 * invalid_mfa_token`), the attempt is counted toward the account lockout before the code is
 * checked (`429 too_many_attempts` past 5 failures in 15 minutes), and a wrong, expired or
 * replayed code answers `400 invalid_code`. On success the token is used up, the lockout counter
 * cleared, and a session starts on the device the first factor came from.
 */
export async function verifySecondFactor(db: Database, env: Bindings, input: SecondFactor & { mfaToken: string }, info: RequestInfo) {
  const challenge = await peekChallenge(db, input.mfaToken);
  const [user] = await db.select().from(users).where(eq(users.id, challenge.userId));
  if (!user || user.status === "deleted") {
    throw new AppError(401, "invalid_mfa_token", "The MFA token is invalid, expired or already used; sign in again");
  }
  const key = lockoutKey(user.id, user.username);
  await countAttempt(db, key);
  assertCanSignIn(user, now(), challenge.reactivate);
  const at = now();
  const proof = await proveSecondFactor(db, user, input, at);
  // Single use. Only a concurrent verify with the same token can lose here; its factor is spent.
  await consumeChallenge(db, input.mfaToken);
  await clearAttempts(db, key);
  const device = { deviceId: challenge.deviceId ?? undefined, deviceName: challenge.deviceName ?? undefined };
  if (proof.remaining !== null) {
    await recordEvent(db, user.id, "recovery_code_used", info, { deviceId: challenge.deviceId, details: { remaining: proof.remaining } });
  }
  await reactivateForSignIn(db, user, device, info);
  return completeSignIn(db, env, user, device, info, `mfa:${proof.method}`);
}

/**
 * Turn 2FA off after proving the password (`403 invalid_password`) and a current code or a
 * recovery code (`400 invalid_code`); both failures count toward the account lockout. Clears the
 * TOTP columns, deletes the recovery codes and any pending MFA sign-ins, and records
 * `two_factor_disabled`. `400 two_factor_not_enabled` when it is not on.
 */
export async function disableTwoFactor(
  db: Database,
  env: Bindings,
  userId: string,
  input: SecondFactor & { password: string },
  info: RequestInfo,
): Promise<void> {
  const user = await getSelf(db, userId);
  if (!user.totpEnabledAt) throw new AppError(400, "two_factor_not_enabled", "Two-factor authentication is not enabled");
  const key = lockoutKey(user.id, user.username);
  await countAttempt(db, key);
  const password = await verifyPassword(input.password, user.passwordHash, currentParams(env));
  if (!password.ok) throw new AppError(403, "invalid_password", "Password is wrong");
  const at = now();
  const proof = await proveSecondFactor(db, user, input, at);
  await clearAttempts(db, key);
  await db.batch([
    db
      .update(users)
      .set({ totpSecret: null, totpPendingSecret: null, totpEnabledAt: null, totpLastStep: null, updatedAt: at })
      .where(eq(users.id, user.id)),
    db.delete(recoveryCodes).where(eq(recoveryCodes.userId, user.id)),
    db.delete(mfaChallenges).where(eq(mfaChallenges.userId, user.id)),
  ]);
  await recordEvent(db, user.id, "two_factor_disabled", info, { details: { method: proof.method } });
}
