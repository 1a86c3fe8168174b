import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { bots } from "./bots";
import { users } from "./users";

/** What an API key may do. */
export const API_KEY_SCOPES = ["users:write", "tokens:mint", "messages:write", "chats:write", "webhooks:manage"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/**
 * Server-side API keys of the app's own backend, created by admins. Only the SHA-256 of the key
 * is stored (the key is 32 random bytes, so no salt or slow hash is needed); `prefix` is its first
 * characters, shown to tell keys apart. Revoked keys keep their row for the audit trail.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    keyHash: text("key_hash").notNull(),
    /** JSON array of ApiKeyScope. */
    scopes: text("scopes").notNull(),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at"),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash_uq").on(t.keyHash)],
);
export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** One row per request made with an API key (append-only; kept 90 days): who, as whom, what, and the answer. */
export const apiKeyUses = sqliteTable(
  "api_key_uses",
  {
    id: text("id").primaryKey(),
    keyId: text("key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    /** The user the key acted as (X-On-Behalf-Of), if any. */
    actingUserId: text("acting_user_id"),
    method: text("method").notNull(),
    path: text("path").notNull(),
    status: integer("status").notNull(),
    ip: text("ip"),
    createdAt: integer("created_at").notNull(),
  },
  // By key, newest first (GET …/uses); by time, for the retention sweep.
  (t) => [index("api_key_uses_key_idx").on(t.keyId, t.id), index("api_key_uses_created_idx").on(t.createdAt)],
);

/**
 * Where the app's backend wants events: an https URL, the event types it takes (`*`, `message.*`,
 * `user.created`…), and the secret deliveries are signed with (Standard Webhooks: `whsec_` and
 * base64). An endpoint that keeps failing is disabled (`disabledReason`) until re-enabled by hand.
 */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    url: text("url").notNull(),
    description: text("description"),
    /** JSON array of event type patterns. */
    events: text("events").notNull(),
    secret: text("secret").notNull(),
    /** A bot's own endpoint (its updates: the chats it is in), else null: the app's endpoint for every event. */
    botId: text("bot_id").references(() => bots.userId, { onDelete: "cascade" }),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    disabledReason: text("disabled_reason"),
    /** Deliveries that failed for good in a row (reset by a success or by re-enabling). */
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("webhook_endpoints_enabled_idx").on(t.enabled), uniqueIndex("webhook_endpoints_bot_uq").on(t.botId)],
);
export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;

/** Each delivery attempt of an event to an endpoint (kept 7 days, the cron prunes older ones). */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    attempt: integer("attempt").notNull(),
    /** delivered | failed (will be retried) | dead (gave up) | skipped (endpoint disabled). */
    outcome: text("outcome", { enum: ["delivered", "failed", "dead", "skipped"] }).notNull(),
    responseStatus: integer("response_status"),
    error: text("error"),
    durationMs: integer("duration_ms"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("webhook_deliveries_endpoint_idx").on(t.endpointId, t.id), index("webhook_deliveries_created_idx").on(t.createdAt)],
);
