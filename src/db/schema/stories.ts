import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { media } from "./media";
import { users } from "./users";

/**
 * Stories: text (text, background, font) or image/video (a `story` media item, caption), live for
 * 24 hours from creation. A story is live while `expires_at > now`; deleting one sets `expires_at`
 * to the time of deletion, so expiry and deletion are one state and the 5-minute job
 * (src/stories/sweep.ts) removes both with their views, audience rows, media rows and R2 objects.
 * Triggers keep `stat_counters['stories']` equal to the number of rows here (migration 0009).
 */
export const stories = sqliteTable(
  "stories",
  {
    id: text("id").primaryKey(),
    authorId: text("author_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    type: text("type", { enum: ["text", "image", "video"] }).notNull(),
    /** Text stories: the text. */
    text: text("text"),
    /** Text stories: a `#rrggbb` colour. */
    background: text("background"),
    /** Text stories: one of the fonts clients know (src/stories/schemas.ts). */
    font: text("font"),
    /** Image and video stories: a media item of purpose `story` owned by the author, used by this story only. */
    mediaId: text("media_id").references(() => media.id, { onDelete: "cascade" }),
    /** Image and video stories: up to 1,000 characters. */
    caption: text("caption"),
    audience: text("audience", { enum: ["everyone", "contacts", "close_friends", "selected"] }).notNull(),
    /** Distinct viewers, kept by a trigger on story_views. */
    viewCount: integer("view_count").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [
    // The feed and GET /stories/me: an author's live stories are one range.
    index("stories_author_idx").on(t.authorId, t.expiresAt),
    // The sweep and admin stats: expired rows in expiry order.
    index("stories_expires_idx").on(t.expiresAt),
    uniqueIndex("stories_media_uq").on(t.mediaId).where(sql`${t.mediaId} IS NOT NULL`),
  ],
);
export type StoryRow = typeof stories.$inferSelect;

/**
 * A story's own audience lists: `allow` (the `selected` audience's userIds) and `except`
 * (exceptUserIds, which win over any audience). One row per story and user.
 */
export const storyAudience = sqliteTable(
  "story_audience",
  {
    storyId: text("story_id")
      .notNull()
      .references(() => stories.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    kind: text("kind", { enum: ["allow", "except"] }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.storyId, t.userId] })],
);

/** Who viewed a story, once per viewer (the first view's time). */
export const storyViews = sqliteTable(
  "story_views",
  {
    storyId: text("story_id")
      .notNull()
      .references(() => stories.id, { onDelete: "cascade" }),
    viewerId: text("viewer_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    viewedAt: integer("viewed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.storyId, t.viewerId] }), index("story_views_recent_idx").on(t.storyId, t.viewedAt, t.viewerId)],
);
