import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { StoryRow } from "../db/schema";
import { notFound } from "../lib/errors";
import { now } from "../lib/time";

/**
 * Who may see a story, as one SQL condition over `stories AS s` (the single rule behind the
 * feed, GET /stories/{id}, views, replies and story media):
 *
 * - it is live (`expires_at > at`: expired and deleted stories are gone at once, before the sweep);
 * - its author always sees it; for anyone else:
 * - no block either way between author and viewer, and the author's account is visible
 *   (active, suspended or deactivated);
 * - the viewer is not on the story's `except` list;
 * - the audience admits the viewer: `everyone`; `contacts` = the author has the viewer in their
 *   contacts list (people the author added); `close_friends` = on the author's close-friends
 *   list now; `selected` = on the story's `allow` list.
 *
 * Every branch is a primary-key or index probe per story (blocks, contacts, close_friends,
 * story_audience, users), so checking N stories reads O(N) rows.
 */
export function visibleTo(viewerId: string, at: number): SQL {
  return sql`s.expires_at > ${at} AND (s.author_id = ${viewerId} OR (
    NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = s.author_id AND b.blocked_id = ${viewerId})
    AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ${viewerId} AND b.blocked_id = s.author_id)
    AND EXISTS (SELECT 1 FROM users u WHERE u.id = s.author_id AND u.status IN ('active', 'suspended', 'deactivated'))
    AND NOT EXISTS (SELECT 1 FROM story_audience x WHERE x.story_id = s.id AND x.user_id = ${viewerId} AND x.kind = 'except')
    AND CASE s.audience
      WHEN 'everyone' THEN 1
      WHEN 'contacts' THEN EXISTS (SELECT 1 FROM contacts c WHERE c.owner_id = s.author_id AND c.contact_id = ${viewerId})
      WHEN 'close_friends' THEN EXISTS (SELECT 1 FROM close_friends f WHERE f.owner_id = s.author_id AND f.friend_id = ${viewerId})
      WHEN 'selected' THEN EXISTS (SELECT 1 FROM story_audience x WHERE x.story_id = s.id AND x.user_id = ${viewerId} AND x.kind = 'allow')
      ELSE 0 END
  ))`;
}

/** Whether `viewerId` viewed the story `s` (a primary-key probe), as a 0/1 column. */
export const viewedBy = (viewerId: string): SQL =>
  sql`EXISTS (SELECT 1 FROM story_views v WHERE v.story_id = s.id AND v.viewer_id = ${viewerId})`;

/** The columns every story query selects: the row (snake_case) plus the media type and the viewer's `viewed`. */
export const storyColumns = (viewerId: string): SQL =>
  sql`s.*, (SELECT m.mime_type FROM media m WHERE m.id = s.media_id) AS mime_type, ${viewedBy(viewerId)} AS viewed`;

/** A story row as the queries above return it. */
export interface StoryQueryRow {
  id: string;
  author_id: string;
  type: StoryRow["type"];
  text: string | null;
  background: string | null;
  font: string | null;
  media_id: string | null;
  caption: string | null;
  audience: StoryRow["audience"];
  view_count: number;
  created_at: number;
  expires_at: number;
  mime_type: string | null;
  viewed: number;
}

/** The story `id` if `viewerId` may see it now, or null (one query: a primary-key read and the probes of visibleTo). */
export async function findVisibleStory(db: Database, id: string, viewerId: string, at = now()): Promise<StoryQueryRow | null> {
  const row = await db.get<StoryQueryRow>(
    sql`SELECT ${storyColumns(viewerId)} FROM stories s WHERE s.id = ${id} AND ${visibleTo(viewerId, at)}`,
  );
  return row ?? null;
}

/** Like findVisibleStory, but `404 not_found` when the viewer may not see it (or it expired, or never existed). */
export async function requireVisibleStory(db: Database, id: string, viewerId: string, at = now()): Promise<StoryQueryRow> {
  const row = await findVisibleStory(db, id, viewerId, at);
  if (!row) throw notFound("Story");
  return row;
}

/**
 * The media reader for items of purpose `story` (to be registered by the media module as
 * `registerMediaReader("story", canViewStoryMedia)`): true exactly when `viewerId` may see the
 * live story that uses `mediaId` now (the author always; see visibleTo). A story media item no
 * story uses (yet, or any more) is readable by nobody here; its owner's own access is the media
 * module's business.
 */
export async function canViewStoryMedia(db: Database, mediaId: string, viewerId: string): Promise<boolean> {
  const row = await db.get<{ ok: number }>(
    sql`SELECT 1 AS ok FROM stories s WHERE s.media_id = ${mediaId} AND ${visibleTo(viewerId, now())} LIMIT 1`,
  );
  return row !== undefined && row !== null;
}
