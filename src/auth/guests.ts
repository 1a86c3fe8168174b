import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { users } from "../db/schema";
import type { Bindings } from "../env";
import type { RequestInfo } from "../lib/request-info";
import { createPasswordlessAccount } from "./accounts";
import { completeSignIn, type DeviceInput } from "./sign-in";

/**
 * Guests: accounts made without a password or an address, for apps that let people in before they
 * sign up. A guest is an account like any other (chats, messages, media) except that it may not
 * create channels or public groups (chats/account-kinds.ts). It becomes `regular`, keeping all its
 * data, the moment it gets a password (set-password) or a verified email or phone (otp verify);
 * one unseen for 30 days is erased (users/guests.ts, by the cron).
 */

/** The display name of a guest that gave none. */
export const GUEST_DISPLAY_NAME = "Guest";

/** Whether this deployment lets anyone make a guest account: the `GUEST_SIGNUP` var is "on". */
export const guestSignupEnabled = (env: Pick<Bindings, "GUEST_SIGNUP">) => env.GUEST_SIGNUP === "on";

/**
 * The `kind` to write with a password or a verified address: a guest becomes regular, any other
 * kind stays as it is. Used inside the very UPDATE that stores the password or the verification, so
 * the upgrade and what earned it are one write.
 */
export const kindOnUpgrade = sql`CASE WHEN ${users.kind} = 'guest' THEN 'regular' ELSE ${users.kind} END`;

/**
 * Make a guest account (a generated username, `displayName` or "Guest", no password) and sign it in
 * on the calling device, as registration does.
 */
export async function signUpGuest(db: Database, env: Bindings, input: { displayName?: string } & DeviceInput, info: RequestInfo) {
  const user = await createPasswordlessAccount(db, { kind: "guest", displayName: input.displayName ?? GUEST_DISPLAY_NAME });
  return completeSignIn(db, env, user, { deviceId: input.deviceId, deviceName: input.deviceName }, info, "register");
}
