import { randomBytes } from "@noble/hashes/utils.js";
import { and, count, eq, isNull } from "drizzle-orm";
import type { Database } from "../../db/client";
import { recoveryCodes } from "../../db/schema";
import { sha256Hex } from "../../lib/crypto";

/**
 * Single-use recovery codes: 10 per account, each 10 symbols of Crockford's base32 (lower case,
 * no i, l, o or u) = 50 random bits, shown as `abcd-efgh-jk`. Only SHA-256 of the canonical form
 * is stored. Input forgives case, spaces and dashes, and reads o as 0 and i/l as 1.
 */
export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // 32 symbols: 5 bits each
const SYMBOLS = 10;
const CANONICAL_RE = /^[0-9a-hjkmnp-tv-z]{10}$/;

/** One new code in display form, e.g. `7q2m-xk4d-9h`. */
export function newRecoveryCode(): string {
  // 256 is a multiple of 32, so `byte & 31` is uniform: no modulo bias.
  const s = Array.from(randomBytes(SYMBOLS), (b) => ALPHABET[b & 31]).join("");
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

/** The canonical form (10 symbols, no dashes) of what a person typed, or null if it cannot be a code. */
export function canonicalRecoveryCode(input: string): string | null {
  const s = input.toLowerCase().replace(/[\s-]/g, "").replace(/o/g, "0").replace(/[il]/g, "1");
  return CANONICAL_RE.test(s) ? s : null;
}

/** What is stored: SHA-256 (hex) of the canonical form. */
const hashCode = (canonical: string) => sha256Hex(canonical);

/** Statements that replace a user's recovery codes with `codes` (for a batch). */
export function replaceRecoveryCodes(db: Database, userId: string, codes: string[], at: number) {
  return [
    db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
    db.insert(recoveryCodes).values(codes.map((c) => ({ userId, codeHash: hashCode(canonicalRecoveryCode(c)!), createdAt: at }))),
  ] as const;
}

/**
 * Use one recovery code, atomically: of two concurrent uses of one code only one succeeds.
 * Returns how many unused codes remain, or null when the code is wrong or already used.
 */
export async function useRecoveryCode(db: Database, userId: string, input: string, at: number): Promise<number | null> {
  const canonical = canonicalRecoveryCode(input);
  if (!canonical) return null;
  const used = await db
    .update(recoveryCodes)
    .set({ usedAt: at })
    .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, hashCode(canonical)), isNull(recoveryCodes.usedAt)))
    .returning({ h: recoveryCodes.codeHash });
  if (used.length === 0) return null;
  const [row] = await db
    .select({ n: count() })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
  return row?.n ?? 0;
}
