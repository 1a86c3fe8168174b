import { randomBytes } from "@noble/hashes/utils.js";
import { and, eq, isNull, notInArray } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { users } from "../db/schema";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError } from "../lib/errors";

/**
 * Referral codes: 8 symbols of Crockford's base32 in upper case (no I, L, O or U) = 40 random
 * bits, one per account, unique (partial unique index `users_referral_code_uq`). Made at
 * registration and, for accounts older than codes, on the first read of the own profile. Input
 * forgives case, spaces and dashes, and reads O as 0 and I/L as 1, like Crockford decoding.
 * They live in auth because registration assigns them and resolves the referrer; the own
 * profile (users) only backfills old accounts through ensureReferralCode.
 */
export const REFERRAL_CODE_LENGTH = 8;
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // 32 symbols: 5 bits each
const CANONICAL_RE = /^[0-9A-HJKMNP-TV-Z]{8}$/;
/** A collision among 2^40 codes is rare; a handful of tries makes a failure practically impossible. */
const MAX_TRIES = 5;

/** A new random code, e.g. `7Q2MXK4D`. */
export function newReferralCode(): string {
  // 256 is a multiple of 32, so `byte & 31` is uniform: no modulo bias.
  return Array.from(randomBytes(REFERRAL_CODE_LENGTH), (b) => ALPHABET[b & 31]).join("");
}

/** The canonical form of what a person typed, or null if it cannot be a code. */
export function canonicalReferralCode(input: string): string | null {
  const s = input.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  return CANONICAL_RE.test(s) ? s : null;
}

const invalidCode = () => new AppError(400, "invalid_referral_code", "That referral code does not belong to any account");

/**
 * The id of the account a referral code belongs to. A malformed code, an unknown one and the code
 * of a deleted or banned account all answer `400 invalid_referral_code`.
 */
export async function resolveReferralCode(db: Database, input: string): Promise<string> {
  const code = canonicalReferralCode(input);
  if (!code) throw invalidCode();
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.referralCode, code), notInArray(users.status, ["deleted", "banned"])));
  if (!row) throw invalidCode();
  return row.id;
}

/** Whether a write failed because the referral code it carried is already taken. */
export const isReferralCodeConflict = (err: unknown): boolean => isUniqueViolation(err, "users.referral_code");

/**
 * Run `write` with a fresh code, retrying with another one when the code collides with an
 * existing one (any other error is rethrown as is).
 */
export async function withFreshReferralCode<T>(write: (code: string) => Promise<T>, generate = newReferralCode): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write(generate());
    } catch (err) {
      if (attempt >= MAX_TRIES || !isReferralCodeConflict(err)) throw err;
    }
  }
}

/**
 * The user's referral code, creating one for an account made before codes existed. Concurrent
 * calls agree: only a row still without a code is updated, and the stored code is re-read.
 */
export async function ensureReferralCode(db: Database, user: UserRow, generate = newReferralCode): Promise<UserRow> {
  if (user.referralCode) return user;
  await withFreshReferralCode(
    (code) =>
      db
        .update(users)
        .set({ referralCode: code })
        .where(and(eq(users.id, user.id), isNull(users.referralCode))),
    generate,
  );
  const [fresh] = await db.select().from(users).where(eq(users.id, user.id));
  return fresh ?? user;
}
