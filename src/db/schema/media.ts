import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users";

/**
 * Stored files (their bytes are in R2 under `r2Key`). An item belongs to its uploader until a
 * message references it (`media_refs`); avatars are public; story media follow their story.
 */
export const media = sqliteTable(
  "media",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: ["attachment", "avatar", "story"] }).notNull(),
    /** The type served: the declared one, checked against the leading bytes where a type can be told. */
    mimeType: text("mime_type").notNull(),
    size: integer("size").notNull(),
    /** Hex SHA-256 of the bytes, computed while they streamed in. */
    sha256: text("sha256").notNull(),
    /** Sanitized file name (for Content-Disposition), or null. */
    fileName: text("file_name"),
    r2Key: text("r2_key").notNull(),
    createdAt: integer("created_at").notNull(),
    /** When a message first referenced it (null: never attached; swept after 24 h). */
    attachedAt: integer("attached_at"),
    /**
     * The chat an attachment was uploaded for (its upload named it; null: none). That chat's room
     * was told of the item, so a send there checks it without D1 (rooms/staged-media.ts).
     */
    chatId: text("chat_id"),
  },
  (t) => [
    index("media_owner_idx").on(t.ownerId, t.createdAt),
    // The hourly sweep: never-attached attachments older than a day.
    index("media_unattached_idx").on(t.createdAt).where(sql`${t.attachedAt} IS NULL AND ${t.purpose} = 'attachment'`),
    // The hourly sweep: story uploads no story ever used, older than a day.
    index("media_story_idx").on(t.createdAt).where(sql`${t.purpose} = 'story'`),
  ],
);
export type MediaRow = typeof media.$inferSelect;

/** Which messages reference which media: the chat's members may read what is referenced there. */
export const mediaRefs = sqliteTable(
  "media_refs",
  {
    mediaId: text("media_id")
      .notNull()
      .references(() => media.id, { onDelete: "cascade" }),
    chatId: text("chat_id").notNull(),
    messageId: text("message_id").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.mediaId, t.chatId, t.messageId] }), index("media_refs_chat_idx").on(t.chatId, t.messageId)],
);

/**
 * Resumable (tus) uploads in progress: the index the hourly job walks to abort expired ones. The
 * upload's state (offset, R2 multipart parts, unsent tail) lives in its Upload Durable Object.
 */
export const uploads = sqliteTable(
  "uploads",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: ["attachment", "avatar", "story"] }).notNull(),
    length: integer("length").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("uploads_expires_idx").on(t.expiresAt), index("uploads_owner_idx").on(t.ownerId)],
);

/** Bytes each user holds in R2 (stored media plus the full length of uploads in progress), exact. */
export const storageUsage = sqliteTable("storage_usage", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  bytes: integer("bytes").notNull().default(0),
});
