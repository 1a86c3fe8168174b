import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Accounts. Usernames are stored lower-case ([a-z0-9_]), so the unique index is case-insensitive. */
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
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["user", "moderator", "admin"] }).notNull().default("user"),
    status: text("status", { enum: ["active", "suspended", "banned", "deleted"] }).notNull().default("active"),
    /** Active TOTP secret (base32) once 2FA is enabled; the pending one while being set up. */
    totpSecret: text("totp_secret"),
    totpPendingSecret: text("totp_pending_secret"),
    totpEnabledAt: integer("totp_enabled_at"),
    /** Highest 30-second step accepted so far: a code of that step or older is a replay. */
    totpLastStep: integer("totp_last_step"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("users_username_uq").on(t.username),
    uniqueIndex("users_email_uq").on(t.email).where(sql`${t.email} IS NOT NULL`),
    uniqueIndex("users_phone_uq").on(t.phone).where(sql`${t.phone} IS NOT NULL`),
    index("users_created_at_idx").on(t.createdAt),
  ],
);
