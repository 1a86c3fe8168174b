import type { users } from "../db/schema";
import { iso } from "../lib/time";

export type UserRow = typeof users.$inferSelect;

/** The signed-in user's own account, as `/auth/me` and the auth responses show it. */
export const selfView = (u: UserRow) => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  email: u.email,
  emailVerified: u.emailVerifiedAt != null,
  phone: u.phone,
  phoneVerified: u.phoneVerifiedAt != null,
  twoFactorEnabled: u.totpEnabledAt != null,
  role: u.role,
  createdAt: iso(u.createdAt),
});
