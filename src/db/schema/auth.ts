import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users";

/** One row per device login. Ended sessions keep their row (revokedAt) for the audit trail. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    deviceId: text("device_id").notNull(),
    deviceName: text("device_name"),
    ip: text("ip"),
    country: text("country"),
    userAgent: text("user_agent"),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at").notNull(),
    /** When the newest refresh token runs out; the session is dead after it. */
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
    revokedReason: text("revoked_reason"),
  },
  (t) => [index("sessions_user_idx").on(t.userId, t.revokedAt), index("sessions_expires_idx").on(t.expiresAt)],
);
export type SessionRow = typeof sessions.$inferSelect;

/**
 * Refresh tokens, stored only as SHA-256 hashes. A rotated token keeps its row (rotatedAt set)
 * until it expires, so presenting it again is recognised as reuse and ends its session.
 */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    rotatedAt: integer("rotated_at"),
  },
  (t) => [index("refresh_tokens_session_idx").on(t.sessionId), index("refresh_tokens_expires_idx").on(t.expiresAt)],
);

/** Devices an account has signed in from, keyed by the client's device id. */
export const userDevices = sqliteTable(
  "user_devices",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    name: text("name"),
    platform: text("platform"),
    userAgent: text("user_agent"),
    trusted: integer("trusted", { mode: "boolean" }).notNull().default(false),
    blocked: integer("blocked", { mode: "boolean" }).notNull().default(false),
    firstSeenAt: integer("first_seen_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    lastIp: text("last_ip"),
    lastCountry: text("last_country"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.id] })],
);
export type DeviceRow = typeof userDevices.$inferSelect;
