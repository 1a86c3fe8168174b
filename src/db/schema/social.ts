import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { users } from "./users";

const userRef = (name: string) =>
  text(name)
    .notNull()
    .references(() => users.id, { onDelete: "cascade" });

/** My address book: people I added, with an optional nickname only I see. */
export const contacts = sqliteTable(
  "contacts",
  {
    ownerId: userRef("owner_id"),
    contactId: userRef("contact_id"),
    nickname: text("nickname"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.contactId] }), index("contacts_contact_idx").on(t.contactId, t.ownerId)],
);

/** `blockerId` blocked `blockedId`. Looked up both ways. */
export const blocks = sqliteTable(
  "blocks",
  {
    blockerId: userRef("blocker_id"),
    blockedId: userRef("blocked_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.blockerId, t.blockedId] }), index("blocks_blocked_idx").on(t.blockedId, t.blockerId)],
);

/** `followerId` follows `followeeId`; counts are kept on users. */
export const follows = sqliteTable(
  "follows",
  {
    followerId: userRef("follower_id"),
    followeeId: userRef("followee_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.followerId, t.followeeId] }),
    index("follows_followee_idx").on(t.followeeId, t.createdAt, t.followerId),
    index("follows_follower_idx").on(t.followerId, t.createdAt, t.followeeId),
  ],
);

/** The story audience "close friends". */
export const closeFriends = sqliteTable(
  "close_friends",
  {
    ownerId: userRef("owner_id"),
    friendId: userRef("friend_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.ownerId, t.friendId] })],
);

/** User reports of users, chats, messages and stories; one open report per reporter and target. */
export const reports = sqliteTable(
  "reports",
  {
    id: text("id").primaryKey(),
    reporterId: text("reporter_id").references(() => users.id, { onDelete: "set null" }),
    targetType: text("target_type", { enum: ["user", "chat", "message", "story"] }).notNull(),
    targetId: text("target_id").notNull(),
    chatId: text("chat_id"),
    reason: text("reason").notNull(),
    details: text("details"),
    status: text("status", { enum: ["open", "resolved", "dismissed"] })
      .notNull()
      .default("open"),
    resolutionAction: text("resolution_action"),
    resolutionNote: text("resolution_note"),
    resolvedBy: text("resolved_by"),
    resolvedAt: integer("resolved_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("reports_open_uq").on(t.reporterId, t.targetType, t.targetId).where(sql`${t.status} = 'open'`),
    index("reports_status_idx").on(t.status, t.id),
    index("reports_target_idx").on(t.targetType, t.targetId),
  ],
);
export type ReportRow = typeof reports.$inferSelect;

/** Append-only record of every admin action (a trigger refuses UPDATE and DELETE). */
export const adminAudit = sqliteTable(
  "admin_audit",
  {
    id: text("id").primaryKey(),
    actorId: text("actor_id").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    details: text("details"),
    createdAt: integer("created_at").notNull(),
    /** Who acted: a staff account (`user`) or the app's backend through an API key (`api_key`: actorId is the key's id). */
    actorType: text("actor_type", { enum: ["user", "api_key"] })
      .notNull()
      .default("user"),
  },
  (t) => [index("admin_audit_target_idx").on(t.targetType, t.targetId)],
);

/** Totals kept exact by triggers and services, so admin stats never count whole tables. */
export const statCounters = sqliteTable("stat_counters", {
  key: text("key").primaryKey(),
  value: integer("value").notNull().default(0),
});
