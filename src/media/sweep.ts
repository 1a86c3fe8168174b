import { and, eq, isNull, lt, sql } from "drizzle-orm";
import { createDb } from "../db/client";
import { media, stories } from "../db/schema";
import type { Bindings } from "../env";
import { DAY } from "../lib/time";
import { type RemovedMedia, removeMediaWhere } from "./removal";

/** How long an uploaded attachment may wait for a message before the sweep deletes it. */
export const UNATTACHED_TTL_MS = DAY;

/**
 * The hourly job: delete uploads that were never used, older than 24 hours before `at` (R2, D1,
 * storage released): `attachment` items never attached to a message (partial index
 * media_unattached_idx) and `story` items no story ever showed (media_story_idx, then one probe
 * of stories' media index each). At most `limit` of each per run, oldest first; the next run
 * takes the rest. Idempotent: a second run finds nothing left to do. (An avatar never set stays:
 * nothing indexes which chats use an avatar, so "never used" cannot be told cheaply.)
 */
export async function sweepUnattachedMedia(env: Bindings, at: number, limit = 500): Promise<RemovedMedia & { storyItems: number }> {
  const db = createDb(env.DB);
  const before = at - UNATTACHED_TTL_MS;
  const attachments = await removeMediaWhere(
    db,
    env,
    and(eq(media.purpose, "attachment"), isNull(media.attachedAt), lt(media.createdAt, before))!,
    limit,
  );
  const unusedStory = sql`NOT EXISTS (SELECT 1 FROM ${stories} WHERE ${stories.mediaId} = ${media.id})`;
  const story = await removeMediaWhere(db, env, and(eq(media.purpose, "story"), lt(media.createdAt, before), unusedStory)!, limit);
  return { items: attachments.items + story.items, bytes: attachments.bytes + story.bytes, storyItems: story.items };
}
