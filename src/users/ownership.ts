import { hasPassword } from "../auth/accounts";
import { clearAttempts, countAttempt, lockoutKey } from "../auth/lockout";
import { currentParams, verifyPassword } from "../auth/password";
import { assertFreshSignIn } from "../auth/service";
import { requireSecondFactorIfEnabled, type SecondFactor } from "../auth/two-factor/service";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import type { AuthContext, Bindings } from "../env";
import { AppError } from "../lib/errors";

/** What the owner proves before switching their account off or erasing it (the password unless it has none). */
export type OwnershipProof = { password?: string } & SecondFactor;

/**
 * Prove that the caller owns `user` before a drastic change to it (deletion, deactivation). With
 * a password: the password (missing → `400 validation_failed` on `body.password`; wrong → `403 invalid_password`,
 * counted toward the same lockout as login and change-password). Without one (an account made by
 * a one-time code, an API key or as a guest): a session signed in within the last 10 minutes
 * (`403 reauthentication_required`; a guest's session is the account, as for set-password). Then,
 * when 2FA is on, a current code or a recovery code (`400 two_factor_required` without one, `400
 * invalid_code` when wrong). Returns the lockout key, cleared.
 */
export async function proveOwnership(
  db: Database,
  env: Bindings,
  user: UserRow,
  auth: AuthContext,
  proof: OwnershipProof,
): Promise<string> {
  const key = lockoutKey(user.id, user.username);
  if (hasPassword(user) && proof.password === undefined) {
    const message = "This account has a password: give it to confirm";
    throw new AppError(400, "validation_failed", message, [{ path: "body.password", code: "required", message }]);
  }
  // Counted either way, so second-factor guesses count toward the lockout too.
  await countAttempt(db, key);
  if (hasPassword(user)) {
    const result = await verifyPassword(proof.password as string, user.passwordHash, currentParams(env));
    if (!result.ok) throw new AppError(403, "invalid_password", "Password is wrong");
  } else await assertFreshSignIn(db, user, auth);
  await requireSecondFactorIfEnabled(db, user, proof);
  await clearAttempts(db, key);
  return key;
}
