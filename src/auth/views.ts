import type { UserRow } from "../db/schema";
import { iso } from "../lib/time";

/**
 * The signed-in user's own account, as `/auth/me` and the auth responses show it (schema `User`).
 * The own profile of `/users/me` extends it (users/views.ts).
 */
export const selfView = (u: UserRow) => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  kind: u.kind,
  email: u.email,
  emailVerified: u.emailVerifiedAt != null,
  phone: u.phone,
  phoneVerified: u.phoneVerifiedAt != null,
  twoFactorEnabled: u.totpEnabledAt != null,
  role: u.role,
  createdAt: iso(u.createdAt),
});
