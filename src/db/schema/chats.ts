import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { users } from "./users";

/**
 * The chat directory. Messages live in each chat's ChatRoom Durable Object; D1 keeps who belongs
 * where and a summary the room writes at most once a second (last seq, activity, preview).
 */
export const chats = sqliteTable(
  "chats",
  {
    id: text("id").primaryKey(),
    type: text("type", { enum: ["direct", "group", "channel"] }).notNull(),
    name: text("name"),
    description: text("description"),
    avatarMediaId: text("avatar_media_id"),
    isPublic: integer("is_public", { mode: "boolean" }).notNull().default(false),
    encrypted: integer("encrypted", { mode: "boolean" }).notNull().default(false),
    /** For direct chats: the two user ids sorted and joined with ':', unique. */
    directKey: text("direct_key"),
    /** Default permissions of plain members (JSON), set by admins. */
    permissions: text("permissions").notNull(),
    slowModeSeconds: integer("slow_mode_seconds").notNull().default(0),
    memberCount: integer("member_count").notNull().default(0),
    frozenAt: integer("frozen_at"),
    /** Messages of this chat may not be forwarded elsewhere. */
    noForwards: integer("no_forwards", { mode: "boolean" }).notNull().default(false),
    /** Custom JSON object (≤ 4 KiB), returned as stored and never interpreted. */
    metadata: text("metadata"),
    /** Disappearing messages: each message sent from the change on is erased this many seconds after it was sent (null: off). */
    messageTtlSeconds: integer("message_ttl_seconds"),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    // Summary written by the room (coalesced, at most once a second).
    lastSeq: integer("last_seq").notNull().default(0),
    lastActivityAt: integer("last_activity_at").notNull(),
    /** JSON {id, seq, senderId, type, text (≤ 140 chars), createdAt} or null. */
    lastMessage: text("last_message"),
  },
  (t) => [uniqueIndex("chats_direct_key_uq").on(t.directKey).where(sql`${t.directKey} IS NOT NULL`)],
);
export type ChatRow = typeof chats.$inferSelect;

/** Membership plus my per-chat settings and read position. */
export const chatMembers = sqliteTable(
  "chat_members",
  {
    chatId: text("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["owner", "admin", "member"] }).notNull(),
    /** Per-member permission overrides (JSON) on top of the chat's defaults. */
    permissions: text("permissions"),
    joinedAt: integer("joined_at").notNull(),
    /** Highest seq I have read (monotonic); the room holds the exact unread count. */
    readSeq: integer("read_seq").notNull().default(0),
    mutedUntil: integer("muted_until"),
    pinnedAt: integer("pinned_at"),
    archived: integer("archived", { mode: "boolean" }).notNull().default(false),
    hidden: integer("hidden", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.userId] }), index("chat_members_user_idx").on(t.userId, t.chatId)],
);
export type MemberRow = typeof chatMembers.$inferSelect;

/** Bans: a banned user cannot rejoin until `until` (null = forever). */
export const chatBans = sqliteTable(
  "chat_bans",
  {
    chatId: text("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    bannedBy: text("banned_by").notNull(),
    until: integer("until"),
    /** A shadow ban: the user stays a member, but only they see what they post (see chats/bans.ts). */
    shadow: integer("shadow", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.userId] })],
);

/**
 * Invite links: `code` is random and URL-safe. An invite is usable while not revoked, not expired
 * and `uses < max_uses` (null = unlimited); joins increment `uses` in the same batch as the member.
 */
export const chatInvites = sqliteTable(
  "chat_invites",
  {
    code: text("code").primaryKey(),
    chatId: text("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at"),
    maxUses: integer("max_uses"),
    uses: integer("uses").notNull().default(0),
    requiresApproval: integer("requires_approval", { mode: "boolean" }).notNull().default(false),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("chat_invites_chat_idx").on(t.chatId, t.createdAt, t.code)],
);

/** Pending requests to join through an invite that requires approval. */
export const chatJoinRequests = sqliteTable(
  "chat_join_requests",
  {
    chatId: text("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.chatId, t.userId] })],
);

/**
 * Invitations waiting for the invitee's answer: made when someone whose `groupInvites` privacy does
 * not let the inviter add them directly is added to a group or channel. Accepting adds them as a
 * member; declining deletes the row. A trigger (migration 0011) deletes the invitation once the
 * invitee becomes a member by any path.
 */
export const chatInvitations = sqliteTable(
  "chat_invitations",
  {
    chatId: text("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    invitedBy: text("invited_by")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.chatId, t.userId] }),
    // My invitations, newest first (keyset on created_at, chat_id).
    index("chat_invitations_user_idx").on(t.userId, t.createdAt, t.chatId),
    // An erased account's invitations to others go with it.
    index("chat_invitations_inviter_idx").on(t.invitedBy),
  ],
);
export type InvitationRow = typeof chatInvitations.$inferSelect;
