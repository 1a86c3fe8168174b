import { eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type UserRow, users } from "../../db/schema";
import type { Bindings } from "../../env";
import { isUniqueViolation } from "../../lib/db-errors";
import { AppError } from "../../lib/errors";
import { publishEvent } from "../../lib/events";
import type { RequestInfo } from "../../lib/request-info";
import { now } from "../../lib/time";
import { createPasswordlessAccount } from "../accounts";
import { afterFirstFactor, completeSignIn, type DeviceInput } from "../sign-in";
import { checkCode, consumeCode } from "./codes";
import { codeTarget } from "./messages";
import { isVerified } from "./service";

/**
 * Passwordless sign-up, the way phone messengers do it: a code to an email or phone proves it, and
 * redeeming the code creates the account with that address verified (a generated username, no
 * password: both can be changed later). For an address that already has an account the same two
 * calls sign in instead. The send step answers the same either way and sends the same text, so
 * only whoever reads the address learns anything; redeeming says `created` to them alone.
 */

/**
 * Redeem a sign-up code: sign in to the account that has the address verified (as a one-time-code
 * login: account status, blocked devices, 2FA), or create one with it verified and sign in.
 */
export async function verifySignupCode(
  db: Database,
  env: Bindings,
  input: { identifier: string; code: string; reactivate?: boolean } & DeviceInput,
  info: RequestInfo,
) {
  const { target, channel } = codeTarget(input.identifier);
  const row = await checkCode(db, "signup", target, input.code);
  await consumeCode(db, row.id);
  const device = { deviceId: input.deviceId, deviceName: input.deviceName };
  const ownerId = row.userId as string | null; // null: the address had no account when the code was sent
  const existing = ownerId ? (await db.select().from(users).where(eq(users.id, ownerId)))[0] : undefined;
  if (existing && existing.status !== "deleted" && isVerified(existing, channel, target)) {
    return { result: await afterFirstFactor(db, env, existing, device, info, "otp", input.reactivate === true), created: false };
  }
  const at = now();
  let user: UserRow;
  try {
    user = await createPasswordlessAccount(
      db,
      channel === "email" ? { email: target, emailVerifiedAt: at } : { phone: target, phoneVerifiedAt: at },
    );
  } catch (err) {
    // Verified by another account since the code was sent: that account is the address's now.
    if (isUniqueViolation(err, channel === "email" ? "users.email" : "users.phone")) {
      throw new AppError(409, channel === "email" ? "email_taken" : "phone_taken", "That address was just verified on another account");
    }
    throw err;
  }
  await publishEvent(env, "user.created", { userId: user.id, username: user.username, method: "otp" });
  return { result: await completeSignIn(db, env, user, device, info, "register"), created: true };
}
