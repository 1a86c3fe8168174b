import { selfView } from "../auth/views";
import type { UserRow } from "../db/schema";
import { parseJsonObject } from "../lib/json-object";
import { attributesView } from "./attributes";
import { currentStatus } from "./visibility";

/** The privacy settings as the API shows them. */
export const privacyView = (u: UserRow) => ({
  lastSeen: u.privacyLastSeen,
  profilePhoto: u.privacyProfilePhoto,
  phone: u.privacyPhone,
  email: u.privacyEmail,
  groupInvites: u.privacyGroupInvites,
  calls: u.privacyCalls,
  readReceipts: u.readReceipts,
});

/** The stored links (JSON) as an array; a missing or unreadable value is no links. */
export function parseLinks(raw: string | null): { title?: string; url: string }[] {
  if (!raw) return [];
  try {
    const value = JSON.parse(raw) as unknown;
    return Array.isArray(value) ? (value as { title?: string; url: string }[]) : [];
  } catch {
    return [];
  }
}

/**
 * What a complete profile has, and how much each part counts toward `profileCompletion` (the
 * weights add up to 100). Status is left out on purpose: it is meant to come and go.
 */
export const PROFILE_COMPLETION_WEIGHTS: readonly { field: string; weight: number; filled: (u: UserRow) => boolean }[] = [
  { field: "avatarMediaId", weight: 25, filled: (u) => u.avatarMediaId != null },
  { field: "bio", weight: 20, filled: (u) => !!u.bio },
  // Registration defaults the display name to the username; only a chosen one counts.
  { field: "displayName", weight: 15, filled: (u) => u.displayName.toLowerCase() !== u.username.toLowerCase() },
  { field: "emailOrPhone", weight: 20, filled: (u) => !!(u.email || u.phone) },
  { field: "birthday", weight: 10, filled: (u) => u.birthday != null },
  { field: "links", weight: 10, filled: (u) => parseLinks(u.links).length > 0 },
];

/** The weighted share (0–100, an integer) of PROFILE_COMPLETION_WEIGHTS the profile has filled. */
export const profileCompletion = (u: UserRow): number =>
  Math.round(PROFILE_COMPLETION_WEIGHTS.reduce((sum, f) => sum + (f.filled(u) ? f.weight : 0), 0));

/**
 * The signed-in user's full profile (`/users/me`): the account view plus every profile field,
 * the referral code, counts, privacy settings and the completion percentage.
 */
export const ownProfileView = (u: UserRow) => ({
  ...selfView(u),
  bio: u.bio,
  avatarMediaId: u.avatarMediaId,
  links: parseLinks(u.links),
  birthday: u.birthday,
  status: currentStatus(u),
  referralCode: u.referralCode,
  referredBy: u.referredBy,
  followersCount: u.followersCount,
  followingCount: u.followingCount,
  privacy: privacyView(u),
  ...attributesView(u),
  metadata: parseJsonObject(u.metadata),
  profileCompletion: profileCompletion(u),
});
