import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { blocks, stories, storyViews, users } from "../db/schema";
import { notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { profilesFor, VISIBLE_STATUSES } from "../social/people";
import { requireVisibleStory } from "./access";

/**
 * Record that `viewerId` viewed the story. Idempotent: the first view counts (its time is kept)
 * and repeats change nothing; the author's own views are not recorded. `404 not_found` when the
 * viewer may not see the story. The insert re-checks that the story is still live, so a story
 * swept or deleted in between is simply not recorded (never a foreign-key error).
 */
export async function recordView(db: Database, storyId: string, viewerId: string): Promise<void> {
  const at = now();
  const story = await requireVisibleStory(db, storyId, viewerId, at);
  if (story.author_id === viewerId) return;
  await db.run(
    sql`INSERT INTO story_views (story_id, viewer_id, viewed_at)
        SELECT ${storyId}, ${viewerId}, ${at} WHERE EXISTS (SELECT 1 FROM stories WHERE id = ${storyId} AND expires_at > ${at})
        ON CONFLICT (story_id, viewer_id) DO NOTHING`,
  );
}

const ViewerCursor = z.object({ t: z.number().int(), id: z.string() });

/**
 * Who viewed my story, newest first, keyset-paginated on `story_views_recent_idx` (story_id,
 * viewed_at, viewer_id): O(page) rows and one loadRelations per page. Only the author may list
 * them: anyone else, or an expired story, answers `404 not_found`. Deleted and banned viewers, and
 * viewers blocked by or blocking the author since, are left out.
 */
export async function listViewers(db: Database, storyId: string, authorId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor, ViewerCursor);
  const [own] = await db
    .select({ id: stories.id })
    .from(stories)
    .where(and(eq(stories.id, storyId), eq(stories.authorId, authorId), sql`${stories.expiresAt} > ${now()}`))
    .limit(1);
  if (!own) throw notFound("Story");
  const rows = await db
    .select({ user: users, viewedAt: storyViews.viewedAt })
    .from(storyViews)
    .innerJoin(users, eq(users.id, storyViews.viewerId))
    .where(
      and(
        eq(storyViews.storyId, storyId),
        after ? or(lt(storyViews.viewedAt, after.t), and(eq(storyViews.viewedAt, after.t), lt(storyViews.viewerId, after.id))) : undefined,
        inArray(users.status, [...VISIBLE_STATUSES]),
        // A block either way hides the viewer, as it hides the story from them.
        sql`NOT EXISTS (SELECT 1 FROM ${blocks} WHERE (${blocks.blockerId} = ${authorId} AND ${blocks.blockedId} = ${storyViews.viewerId})
          OR (${blocks.blockerId} = ${storyViews.viewerId} AND ${blocks.blockedId} = ${authorId}))`,
      ),
    )
    .orderBy(desc(storyViews.viewedAt), desc(storyViews.viewerId))
    .limit(limit + 1);
  const profile = await profilesFor(
    db,
    authorId,
    rows.slice(0, limit).map((r) => r.user),
  );
  return page(
    rows,
    limit,
    (r) => ({ user: profile(r.user), viewedAt: iso(r.viewedAt) }),
    (r) => ({ t: r.viewedAt, id: r.user.id }),
  );
}
