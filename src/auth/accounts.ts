import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type AccountKind, type UserRow, users } from "../db/schema";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { now } from "../lib/time";
import { withFreshReferralCode } from "./referral-codes";

/**
 * Accounts made without a password: by the app's backend (an API key's upsert by externalId), by
 * a one-time code (passwordless sign-up) or as guests. Their `password_hash` is empty, which no
 * password matches; a password can be added later. A username is generated unless one is given.
 */

/** Fields a new passwordless account may start with. */
export interface NewAccount {
  /** Default `regular`. */
  kind?: AccountKind;
  username?: string;
  displayName?: string;
  bio?: string | null;
  externalId?: string;
  email?: string;
  emailVerifiedAt?: number;
  phone?: string;
  phoneVerifiedAt?: number;
}

const GENERATED_TRIES = 5;

/** `user_` and 10 random [a-z0-9] characters: a username nobody chose, to be changed at will. */
export function generatedUsername(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return `user_${Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("")}`;
}

/**
 * Insert a passwordless account. A given username that is taken is `409 username_taken`; a
 * generated one that collides is drawn again. Other unique violations (an externalId or a
 * verified address taken meanwhile) are rethrown for the caller to resolve.
 */
export async function createPasswordlessAccount(db: Database, input: NewAccount): Promise<UserRow> {
  for (let attempt = 1; ; attempt++) {
    const username = input.username ?? generatedUsername();
    const at = now();
    try {
      return await withFreshReferralCode(async (referralCode) => {
        const [row] = await db
          .insert(users)
          .values({
            id: newId(),
            username,
            displayName: input.displayName ?? username,
            bio: input.bio ?? null,
            passwordHash: "",
            externalId: input.externalId ?? null,
            email: input.email ?? null,
            emailVerifiedAt: input.emailVerifiedAt ?? null,
            phone: input.phone ?? null,
            phoneVerifiedAt: input.phoneVerifiedAt ?? null,
            referralCode,
            kind: input.kind ?? "regular",
            // A guest expires 30 days after it was last seen; until its first request, that is its creation.
            lastSeenAt: input.kind === "guest" ? at : null,
            createdAt: at,
            updatedAt: at,
          })
          .returning();
        return row as UserRow;
      });
    } catch (err) {
      if (!isUniqueViolation(err, "users.username")) throw err;
      if (input.username) throw new AppError(409, "username_taken", "That username is already taken");
      if (attempt >= GENERATED_TRIES) throw err;
    }
  }
}

/** Whether the account has a password (accounts made by an API key, a code or as a guest have none). */
export const hasPassword = (user: Pick<UserRow, "passwordHash">) => user.passwordHash !== "";

/** The account the app knows by `externalId`, if any. */
export async function findByExternalId(db: Database, externalId: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.externalId, externalId));
  return row;
}
