import { z } from "@hono/zod-openapi";
import { KYC_STATUSES, LIFECYCLE_STATES, MAX_TIER, type UserRow } from "../db/schema";

/**
 * Attributes of an account that only admins set (PATCH /admin/users/{id}/attributes): no user
 * route takes them. Everyone sees the `verified` badge and `creator`; the user and admins see all.
 */

export const KycStatus = z.enum(KYC_STATUSES).openapi("KycStatus", { description: "Where the account's identity check stands" });
export const LifecycleState = z.enum(LIFECYCLE_STATES).openapi("LifecycleState", {
  description: "The stage of the user's life with the app, as the operator sets it (not the account's status)",
});
export const Tier = z
  .number()
  .int()
  .min(0)
  .max(MAX_TIER)
  .openapi({ description: `0 to ${MAX_TIER}` });

const Verified = z.boolean().openapi({ description: "The verified badge" });
const Creator = z.boolean().openapi({ description: "A creator account" });

/** What public profiles show of the attributes. */
export const PublicAttributes = { verified: Verified, creator: Creator };
/** All five, as the user themselves and admins see them. */
export const AccountAttributes = { ...PublicAttributes, kycStatus: KycStatus, tier: Tier, lifecycle: LifecycleState };

export const publicAttributesView = (u: UserRow) => ({ verified: u.verified, creator: u.creator });
export const attributesView = (u: UserRow) => ({
  ...publicAttributesView(u),
  kycStatus: u.kycStatus,
  tier: u.tier,
  lifecycle: u.lifecycle,
});
