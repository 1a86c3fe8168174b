import { and, eq, gt, isNotNull, isNull } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { mfaChallenges, sessions, users } from "../db/schema";
import type { Bindings } from "../env";
import { publishToHubs } from "../hubs/client";
import { randomToken, sha256Hex } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import type { RequestInfo } from "../lib/request-info";
import { iso, MINUTE, now } from "../lib/time";
import { notifierFor } from "../notify/notifier";
import { findDevice, recordDevice } from "./devices";
import { recordEvent } from "./security-events";
import { createSession, sessionView } from "./sessions";
import { accountDeactivated, liftExpiredSuspension, setDeactivated, suspensionExpired } from "./standing";
import { selfView } from "./views";

export interface DeviceInput {
  deviceId?: string;
  deviceName?: string;
}

export const MFA_CHALLENGE_TTL_MS = 5 * MINUTE;

/**
 * Refuse accounts that may not sign in, with a code that says why: `403 account_suspended`
 * (details `{until, reason}`; `until` null means indefinitely), `403 account_banned` (details
 * `{reason}`) or `403 account_deactivated` (unless the sign-in is `reactivating` it). A suspension
 * whose end time has passed does not refuse: callers that can write lift it
 * (`liftExpiredSuspension`), as `afterFirstFactor` does.
 */
export function assertCanSignIn(user: UserRow, at = now(), reactivating = false): void {
  if (user.status === "suspended" && !suspensionExpired(user, at)) {
    const until = iso(user.suspendedUntil);
    throw new AppError(
      403,
      "account_suspended",
      until ? `This account is suspended until ${until}` : "This account is suspended indefinitely",
      { until, reason: user.moderationReason },
    );
  }
  if (user.status === "banned") {
    throw new AppError(403, "account_banned", "This account is banned", { reason: user.moderationReason });
  }
  if (user.status === "deactivated" && !reactivating) throw accountDeactivated();
}

/**
 * A deactivated account signing in with `reactivate`, every factor proven: it is active again
 * (recorded as `account_reactivated`) before its session starts. A blocked device is refused
 * first, so it reactivates nothing. If another change won meanwhile (a ban), the sign-in stops
 * with `409 conflict`. Nothing happens for an account that is not deactivated.
 */
export async function reactivateForSignIn(db: Database, user: UserRow, device: DeviceInput, info: RequestInfo): Promise<void> {
  if (user.status !== "deactivated") return;
  await assertDeviceAllowed(db, user, device, info);
  if (!(await setDeactivated(db, user.id, false))) {
    const [current] = await db.select({ status: users.status }).from(users).where(eq(users.id, user.id));
    if (current?.status !== "active") throw new AppError(409, "conflict", "The account changed during sign-in; sign in again");
  }
  user.status = "active";
  await recordEvent(db, user.id, "account_reactivated", info, { deviceId: device.deviceId ?? null, details: { by: "user" } });
}

/** A blocked device may not sign in; the attempt is recorded for the owner to see. */
export async function assertDeviceAllowed(db: Database, user: UserRow, device: DeviceInput, info: RequestInfo): Promise<void> {
  if (!device.deviceId) return;
  const known = await findDevice(db, user.id, device.deviceId);
  if (known?.blocked) {
    await recordEvent(db, user.id, "login_blocked_device", info, { deviceId: device.deviceId });
    throw new AppError(403, "device_blocked", "This device is blocked from signing in to this account");
  }
}

/**
 * First factor done: either finish the sign-in, or, with 2FA on, park it in an MFA challenge and
 * answer `{ mfaRequired: true, mfaToken }`. With `reactivate` (password sign-ins) a deactivated
 * account is let through and reactivated once every factor is proven (reactivateForSignIn).
 */
export async function afterFirstFactor(
  db: Database,
  env: Bindings,
  user: UserRow,
  device: DeviceInput,
  info: RequestInfo,
  method: string,
  reactivate = false,
) {
  assertCanSignIn(user, now(), reactivate);
  if (suspensionExpired(user)) {
    // The suspension ran out: this sign-in is what puts the account back to active.
    await liftExpiredSuspension(db, user.id);
    Object.assign(user, { status: "active", suspendedUntil: null, moderationReason: null });
  }
  if (user.totpEnabledAt) {
    // completeSignIn checks the device too; checking here as well means no MFA challenge for a blocked device.
    await assertDeviceAllowed(db, user, device, info);
    const token = randomToken(32);
    const at = now();
    await db.insert(mfaChallenges).values({
      tokenHash: sha256Hex(token),
      userId: user.id,
      deviceId: device.deviceId ?? null,
      deviceName: device.deviceName ?? null,
      reactivate: user.status === "deactivated",
      createdAt: at,
      expiresAt: at + MFA_CHALLENGE_TTL_MS,
    });
    return { mfaRequired: true as const, mfaToken: token, expiresIn: MFA_CHALLENGE_TTL_MS / 1000 };
  }
  await reactivateForSignIn(db, user, device, info);
  return completeSignIn(db, env, user, device, info, method);
}

/**
 * Start a session on a device after every factor was proven. A blocked device is refused
 * (`403 device_blocked`, also when it was blocked while a 2FA challenge was pending). A device
 * never seen for the account, or a country never seen for it (once the account has a sign-in with
 * a known country to compare with), is recorded as a security event and the user is told (email
 * if verified, else SMS if verified); the answer carries `newDevice`.
 */
export async function completeSignIn(db: Database, env: Bindings, user: UserRow, device: DeviceInput, info: RequestInfo, method: string) {
  if (method !== "register") await assertDeviceAllowed(db, user, device, info);
  const deviceId = device.deviceId ?? newId();
  const at = now();
  const seen = (country?: string) =>
    db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.userId, user.id), country ? eq(sessions.country, country) : isNotNull(sessions.country)))
      .limit(1);
  const [anySession, anyCountry, sameCountry] = await Promise.all([
    db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, user.id)).limit(1),
    info.country ? seen() : [],
    info.country ? seen(info.country) : [],
  ]);
  const { isNew } = await recordDevice(db, user.id, deviceId, device.deviceName ?? null, info, at);
  const { session, tokens } = await createSession(db, env, { userId: user.id, deviceId, deviceName: device.deviceName ?? null, info });

  const firstEver = anySession.length === 0 && method === "register";
  const newDevice = isNew && !firstEver;
  // Without an earlier sign-in from a known country there is nothing to compare with.
  const newCountry = !firstEver && anyCountry.length > 0 && sameCountry.length === 0;
  const type = firstEver ? "account_created" : newDevice ? "login_new_device" : newCountry ? "login_new_country" : "login";
  await recordEvent(db, user.id, type, info, { deviceId, details: { method, sessionId: session.id, newDevice, newCountry } });
  // The account's devices see the sign-in live (the realtime socket's `security.event`).
  const event = { eventType: type, sessionId: session.id, deviceId, ip: info.ip ?? null, country: info.country ?? null };
  await publishToHubs(env, [user.id], { type: "security.event", ...event });
  if (newDevice || newCountry) await warnOfNewSignIn(env, user, info, newDevice ? "device" : "country");
  return { user, session, tokens, newDevice };
}

/** Tell the owner about a sign-in from somewhere new. Failing to send must not fail the login. */
async function warnOfNewSignIn(env: Bindings, user: UserRow, info: RequestInfo, what: "device" | "country") {
  const channel = user.emailVerifiedAt && user.email ? "email" : user.phoneVerifiedAt && user.phone ? "sms" : null;
  if (!channel) return;
  const where = [
    info.userAgent ? `device: ${info.userAgent.slice(0, 120)}` : null,
    info.country ? `country: ${info.country}` : null,
    info.ip ? `IP: ${info.ip}` : null,
  ]
    .filter(Boolean)
    .join(", ");
  const text =
    `New sign-in to your account @${user.username} from a new ${what}${where ? ` (${where})` : ""} at ${new Date().toISOString()}. ` +
    "If this was not you, change your password and end that session in your security settings.";
  try {
    await notifierFor(env).send({
      channel,
      to: channel === "email" ? user.email! : user.phone!,
      kind: `security.new_${what}`,
      subject: "New sign-in to your account",
      text,
    });
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "new sign-in notice failed", error: String(err) }));
  }
}

/** Redeem an MFA token (once, within 5 minutes): the challenge row or `401 invalid_mfa_token`. */
export async function consumeChallenge(db: Database, mfaToken: string) {
  const [row] = await db
    .update(mfaChallenges)
    .set({ consumedAt: now() })
    .where(and(eq(mfaChallenges.tokenHash, sha256Hex(mfaToken)), isNull(mfaChallenges.consumedAt), gt(mfaChallenges.expiresAt, now())))
    .returning();
  if (!row) throw new AppError(401, "invalid_mfa_token", "The MFA token is invalid, expired or already used; sign in again");
  return row;
}

/** Look at an MFA challenge without using it up (codes are checked before it is consumed). */
export async function peekChallenge(db: Database, mfaToken: string) {
  const [row] = await db
    .select()
    .from(mfaChallenges)
    .where(and(eq(mfaChallenges.tokenHash, sha256Hex(mfaToken)), isNull(mfaChallenges.consumedAt), gt(mfaChallenges.expiresAt, now())));
  if (!row) throw new AppError(401, "invalid_mfa_token", "The MFA token is invalid, expired or already used; sign in again");
  return row;
}

type SignInResult = Awaited<ReturnType<typeof completeSignIn>>;
type FirstFactorResult = Awaited<ReturnType<typeof afterFirstFactor>>;

/** The JSON a finished sign-in answers with. */
export const signedInView = (r: SignInResult) => ({
  user: selfView(r.user),
  tokens: r.tokens,
  session: sessionView(r.session, r.session.id),
  newDevice: r.newDevice,
});

/** The JSON after a first factor: signed in, or the MFA challenge. */
export const firstFactorView = (r: FirstFactorResult) => ("mfaRequired" in r ? r : signedInView(r));
