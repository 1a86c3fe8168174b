import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Where an account's identity check (KYC) stands, as an admin records it. */
export const KYC_STATUSES = ["not_started", "pending", "approved", "rejected", "expired"] as const;
/** The stage of the user's life with the app, as the operator sets it (not the account's status). */
export const LIFECYCLE_STATES = ["onboarding", "active", "dormant", "churned"] as const;
/** Highest `tier` (tiers are 0 to this). */
export const MAX_TIER = 2;

/**
 * What an account is: `regular` (a person with a full account), `guest` (no password or verified
 * address yet; erased after 30 days unseen, becomes regular by getting either) or `bot` (an account
 * a program drives with a bot token; never signs in).
 */
export const ACCOUNT_KINDS = ["regular", "guest", "bot"] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];

/**
 * Accounts. Usernames are stored lower-case ([a-z0-9_]), so the unique index is case-insensitive.
 * Emails and phones are unique only among verified ones (see the indexes).
 */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    username: text("username").notNull(),
    email: text("email"),
    emailVerifiedAt: integer("email_verified_at"),
    phone: text("phone"),
    phoneVerifiedAt: integer("phone_verified_at"),
    displayName: text("display_name").notNull(),
    /** Empty for accounts without a password (made by an API key, a one-time code, or a guest). */
    passwordHash: text("password_hash").notNull(),
    /** The app's own id for this user (API key upserts), unique when set. */
    externalId: text("external_id"),
    kind: text("kind", { enum: ACCOUNT_KINDS }).notNull().default("regular"),
    role: text("role", { enum: ["user", "moderator", "admin"] })
      .notNull()
      .default("user"),
    /**
     * `deactivated`: the owner (or an admin) switched the account off: data kept, no sign-in
     * (until a password sign-in with `reactivate`), hidden from search and contact sync.
     */
    status: text("status", { enum: ["active", "suspended", "banned", "deactivated", "deleted"] })
      .notNull()
      .default("active"),
    /** Active TOTP secret (base32) once 2FA is enabled; the pending one while being set up. */
    totpSecret: text("totp_secret"),
    totpPendingSecret: text("totp_pending_secret"),
    totpEnabledAt: integer("totp_enabled_at"),
    /** Highest 30-second step accepted so far: a code of that step or older is a replay. */
    totpLastStep: integer("totp_last_step"),
    // Profile
    bio: text("bio"),
    avatarMediaId: text("avatar_media_id"),
    /** JSON array of {title?, url}. */
    links: text("links"),
    /** YYYY-MM-DD. */
    birthday: text("birthday"),
    statusText: text("status_text"),
    statusEmoji: text("status_emoji"),
    statusExpiresAt: integer("status_expires_at"),
    /**
     * The app's own JSON object about the user (≤ 4 KiB, see users/schemas.ts), set by the user or
     * an admin and shown on public profiles as stored. Null: none.
     */
    metadata: text("metadata"),
    referralCode: text("referral_code"),
    referredBy: text("referred_by"),
    /** Last authenticated activity, written at most once a minute. A guest's starts at its creation (expiry reads it). */
    lastSeenAt: integer("last_seen_at"),
    /**
     * While the user holds a realtime socket: a lease their hub renews (hubs/presence.ts); online
     * means it lies in the future. Null once the hub saw the last socket go.
     */
    onlineUntil: integer("online_until"),
    followersCount: integer("followers_count").notNull().default(0),
    followingCount: integer("following_count").notNull().default(0),
    // Privacy: who may see each field (everyone | contacts | nobody).
    privacyLastSeen: text("privacy_last_seen", { enum: ["everyone", "contacts", "nobody"] })
      .notNull()
      .default("everyone"),
    privacyProfilePhoto: text("privacy_profile_photo", { enum: ["everyone", "contacts", "nobody"] })
      .notNull()
      .default("everyone"),
    privacyPhone: text("privacy_phone", { enum: ["everyone", "contacts", "nobody"] })
      .notNull()
      .default("contacts"),
    privacyEmail: text("privacy_email", { enum: ["everyone", "contacts", "nobody"] })
      .notNull()
      .default("nobody"),
    privacyGroupInvites: text("privacy_group_invites", { enum: ["everyone", "contacts", "nobody"] })
      .notNull()
      .default("everyone"),
    /** Who may call me (voice and video calls, src/calls/). */
    privacyCalls: text("privacy_calls", { enum: ["everyone", "contacts", "nobody"] })
      .notNull()
      .default("everyone"),
    readReceipts: integer("read_receipts", { mode: "boolean" }).notNull().default(true),
    // Moderation
    suspendedUntil: integer("suspended_until"),
    moderationReason: text("moderation_reason"),
    // Attributes only admins set (PATCH /admin/users/{id}/attributes); each indexed for the admin search.
    verified: integer("verified", { mode: "boolean" }).notNull().default(false),
    creator: integer("creator", { mode: "boolean" }).notNull().default(false),
    kycStatus: text("kyc_status", { enum: KYC_STATUSES }).notNull().default("not_started"),
    /** 0 to MAX_TIER. */
    tier: integer("tier").notNull().default(0),
    lifecycle: text("lifecycle", { enum: LIFECYCLE_STATES }).notNull().default("active"),
    deletedAt: integer("deleted_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("users_referral_code_uq").on(t.referralCode).where(sql`${t.referralCode} IS NOT NULL`),
    index("users_last_seen_idx").on(t.lastSeenAt),
    index("users_status_idx").on(t.status),
    uniqueIndex("users_username_uq").on(t.username),
    uniqueIndex("users_external_id_uq").on(t.externalId).where(sql`${t.externalId} IS NOT NULL`),
    // An email or phone is an account's only once verified: several accounts may hold the same
    // unverified address, at most one may have it verified (and only that one signs in with it).
    index("users_email_idx").on(t.email).where(sql`${t.email} IS NOT NULL`),
    index("users_phone_idx").on(t.phone).where(sql`${t.phone} IS NOT NULL`),
    uniqueIndex("users_verified_email_uq").on(t.email).where(sql`${t.emailVerifiedAt} IS NOT NULL`),
    uniqueIndex("users_verified_phone_uq").on(t.phone).where(sql`${t.phoneVerifiedAt} IS NOT NULL`),
    index("users_created_at_idx").on(t.createdAt),
    // Each admin search filter walks its own index; (value, rowid) entries also give newest-first order.
    index("users_verified_idx").on(t.verified),
    index("users_creator_idx").on(t.creator),
    index("users_kyc_status_idx").on(t.kycStatus),
    index("users_tier_idx").on(t.tier),
    index("users_lifecycle_idx").on(t.lifecycle),
    // Guest expiry: one range of guests unseen since the cutoff (erased accounts have no last_seen_at).
    index("users_kind_last_seen_idx").on(t.kind, t.lastSeenAt),
  ],
);
export type UserRow = typeof users.$inferSelect;

/**
 * A user's preferences, synced across their devices (users/preferences.ts): one JSON document and
 * its version, which grows by one with every change. A write names the version it read and
 * applies only while that is still the stored one (a conditional UPDATE), so of two writes made
 * from the same version exactly one wins. No row: the defaults, version 0.
 */
export const userPreferences = sqliteTable("user_preferences", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  /** `{language, timeZone, theme, notifications, client}` as JSON. */
  doc: text("doc").notNull(),
  version: integer("version").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
export type UserPreferencesRow = typeof userPreferences.$inferSelect;
