import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users";

/**
 * One-time codes (6 digits, 5 minutes, single use, 3 tries) for passwordless login, proving an
 * email/phone, and password reset. Only a hash is stored. `target` is the normalized identifier
 * the code was sent for; `userId` is null when no account matched (nothing is sent then, but the
 * row makes unknown identifiers behave exactly like known ones).
 */
export const otpCodes = sqliteTable(
  "otp_codes",
  {
    id: text("id").primaryKey(),
    purpose: text("purpose", { enum: ["login", "verify", "reset", "signup"] }).notNull(),
    channel: text("channel", { enum: ["email", "sms"] }),
    target: text("target").notNull(),
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    attempts: integer("attempts").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    consumedAt: integer("consumed_at"),
  },
  (t) => [index("otp_codes_target_idx").on(t.target, t.purpose, t.createdAt), index("otp_codes_expires_idx").on(t.expiresAt)],
);

/** Single-use 2FA recovery codes, hashed. */
export const recoveryCodes = sqliteTable(
  "recovery_codes",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

/**
 * A login that proved its first factor and waits for the second. The client holds an opaque
 * `mfaToken` (only its hash is here), good for 5 minutes and one successful verification; the
 * device the login came from travels with it.
 */
export const mfaChallenges = sqliteTable(
  "mfa_challenges",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    deviceId: text("device_id"),
    deviceName: text("device_name"),
    /** The password sign-in asked to reactivate a deactivated account: done once the second factor is right. */
    reactivate: integer("reactivate", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    consumedAt: integer("consumed_at"),
  },
  (t) => [index("mfa_challenges_expires_idx").on(t.expiresAt)],
);

/** What happened to an account's security: logins, password and 2FA changes, device changes. */
export const securityEvents = sqliteTable(
  "security_events",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    deviceId: text("device_id"),
    ip: text("ip"),
    country: text("country"),
    userAgent: text("user_agent"),
    /** JSON object with type-specific facts. */
    details: text("details"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("security_events_user_idx").on(t.userId, t.id)],
);

/** Messages the development `log` notifier captured instead of sending (development only). */
export const devOutbox = sqliteTable(
  "dev_outbox",
  {
    id: text("id").primaryKey(),
    channel: text("channel", { enum: ["email", "sms"] }).notNull(),
    recipient: text("recipient").notNull(),
    kind: text("kind").notNull(),
    subject: text("subject").notNull(),
    body: text("body").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("dev_outbox_recipient_idx").on(t.recipient, t.id)],
);
