import { clearAttempts, countAttempt, lockoutKey } from "../auth/lockout";
import { currentParams, verifyPassword } from "../auth/password";
import { requireSecondFactorIfEnabled, type SecondFactor } from "../auth/two-factor/service";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";

/** What the owner proves before switching their account off or erasing it. */
export type OwnershipProof = { password: string } & SecondFactor;

/**
 * Prove that the caller owns `user` before a drastic change to it (deletion, deactivation): the
 * password (wrong → `403 invalid_password`, counted toward the same lockout as login and
 * change-password) and, when 2FA is on, a current code or a recovery code (`400
 * two_factor_required` without one, `400 invalid_code` when wrong). Returns the lockout key, cleared.
 */
export async function proveOwnership(db: Database, env: Bindings, user: UserRow, proof: OwnershipProof): Promise<string> {
  const key = lockoutKey(user.id, user.username);
  await countAttempt(db, key);
  const result = await verifyPassword(proof.password, user.passwordHash, currentParams(env));
  if (!result.ok) throw new AppError(403, "invalid_password", "Password is wrong");
  await requireSecondFactorIfEnabled(db, user, proof);
  await clearAttempts(db, key);
  return key;
}
