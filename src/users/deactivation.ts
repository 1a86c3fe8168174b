import { hasPassword } from "../auth/accounts";
import { recordEvent } from "../auth/security-events";
import { getSelf } from "../auth/service";
import { revokeUserSessions } from "../auth/sessions";
import { accountNotActive, setDeactivated } from "../auth/standing";
import type { Database } from "../db/client";
import type { AuthContext, Bindings } from "../env";
import { AppError } from "../lib/errors";
import type { RequestInfo } from "../lib/request-info";
import { type OwnershipProof, proveOwnership } from "./ownership";

/**
 * Switch the caller's own account off (POST /users/me/deactivate) after proving the password and,
 * with 2FA on, a second factor (proveOwnership, as deletion does). Nothing is erased: the status
 * becomes `deactivated` (only from `active`: a concurrent suspension or ban wins, `409
 * account_not_active`), then every session ends the way a suspension ends them (live sockets close,
 * access tokens stop, refresh tokens answer `403 account_deactivated`), and `account_deactivated` is
 * recorded. Sign-in then answers `403 account_deactivated` until a sign-in with `reactivate: true`
 * (or an admin) switches it on again; an account that has neither a password nor a verified
 * address to sign in with (a guest, one made by an API key) cannot deactivate itself (`409
 * cannot_reactivate`). A retry after a failure half-way (the
 * status changed, sessions not yet ended) ends the sessions.
 */
export async function deactivateOwnAccount(db: Database, env: Bindings, auth: AuthContext, proof: OwnershipProof, info: RequestInfo) {
  const userId = auth.userId;
  const user = await getSelf(db, userId);
  // Reactivating is a sign-in: an account with nothing to sign in with could never come back.
  if (!hasPassword(user) && user.emailVerifiedAt === null && user.phoneVerifiedAt === null) {
    throw new AppError(
      409,
      "cannot_reactivate",
      "This account has no password and no verified email or phone to sign in with again: add one first, or delete the account",
    );
  }
  await proveOwnership(db, env, user, auth, proof);
  const changed = await setDeactivated(db, userId, true);
  if (!changed && user.status !== "deactivated") throw accountNotActive();
  if (changed) await recordEvent(db, userId, "account_deactivated", info, { details: { by: "user" } });
  await revokeUserSessions(db, env, userId, "account_deactivated");
}
