// The one-time code store (the otp_codes table): issuing a code, checking a guess against it and
// using it up. What a code is for and where it goes is up to the flows in service.ts.

import { and, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { otpCodes } from "../../db/schema";
import { enforceWindow } from "../../lib/counters";
import { sha256Hex, timingSafeEqual } from "../../lib/crypto";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { MINUTE, now } from "../../lib/time";
import type { Channel } from "../../notify/notifier";

/** How long a code stays valid. */
export const CODE_TTL_MS = 5 * MINUTE;
/** Guesses one code takes, right or wrong; after that many it is accepted no more. */
export const MAX_ATTEMPTS = 3;
/** Codes sent per identifier (all purposes together), counted exactly in D1. */
export const SEND_LIMIT = { max: 3, windowMs: 15 * MINUTE };

/** What a code was issued for; a code redeems only for its own purpose. */
export type Purpose = "login" | "verify" | "reset" | "signup";
type OtpRow = typeof otpCodes.$inferSelect;

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
export const invalidCode = (attemptsLeft?: number) =>
  new AppError(400, "invalid_code", "The code is wrong, expired or already used", attemptsLeft ? { attemptsLeft } : undefined);

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
export async function issueCode(
  db: Database,
  purpose: Purpose,
  target: string,
  channel: Channel | null,
  userId: string | null,
): Promise<string> {
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
 * wrong one, except a `signup` code, whose null userId means "create the account".
 */
export async function checkCode(
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
  // A sign-up code stands for no account yet (its userId is null); every other needs one.
  const noAccount = !row.userId && purpose !== "signup";
  if (!matches || noAccount || (userId && row.userId !== userId)) throw invalidCode(MAX_ATTEMPTS - counted.attempts);
  return row as OtpRow & { userId: string };
}

/** Use the code up; of two concurrent redemptions only one wins. */
export async function consumeCode(db: Database, id: string): Promise<void> {
  const done = await db
    .update(otpCodes)
    .set({ consumedAt: now() })
    .where(and(eq(otpCodes.id, id), isNull(otpCodes.consumedAt)))
    .returning({ id: otpCodes.id });
  if (done.length === 0) throw invalidCode();
}

/** Give back the try a right code spent when the request failed for another reason (a weak password). */
export async function refundTry(db: Database, id: string): Promise<void> {
  await db
    .update(otpCodes)
    .set({ attempts: sql`max(${otpCodes.attempts} - 1, 0)` })
    .where(eq(otpCodes.id, id));
}
