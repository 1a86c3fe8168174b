import { z } from "@hono/zod-openapi";
import { and, eq, gt, inArray, ne, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { media, type StoryRow, stories, storyAudience, users } from "../db/schema";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { chunked } from "../social/people";
import { requireVisibleStory, type StoryQueryRow, storyColumns } from "./access";
import { type AudienceInput, type CreateStoryInput, STORY_LIFETIME_MS, type StoryView } from "./schemas";

/** Rows per INSERT into story_audience: 3 bound parameters each keeps a statement under D1's 100. */
const AUDIENCE_ROWS_PER_INSERT = 30;

/** A story as `viewerId` sees it: the author also gets its audience kind and view count. */
export function toStoryView(row: StoryQueryRow, viewerId: string): StoryView {
  const own = row.author_id === viewerId;
  return {
    id: row.id,
    authorId: row.author_id,
    type: row.type,
    text: row.text,
    background: row.background,
    font: row.font,
    mediaId: row.media_id,
    mimeType: row.mime_type,
    caption: row.caption,
    createdAt: iso(row.created_at),
    expiresAt: iso(row.expires_at),
    viewed: own || row.viewed === 1,
    audience: own ? row.audience : null,
    viewCount: own ? row.view_count : null,
  };
}

/**
 * The media item of an image or video story: the author's own (`404 not_found` otherwise, as
 * for ids that do not exist), uploaded with purpose `story` (`422 media_wrong_purpose`), of the
 * story's kind (`422 media_type_mismatch`: image/* for image, video/* for video) and not used by
 * another story (`422 media_in_use`; the unique index decides between concurrent posts).
 */
async function checkStoryMedia(db: Database, authorId: string, type: "image" | "video", mediaId: string): Promise<string> {
  const [item] = await db
    .select({ purpose: media.purpose, mimeType: media.mimeType, usedBy: stories.id })
    .from(media)
    .leftJoin(stories, eq(stories.mediaId, media.id))
    .where(and(eq(media.id, mediaId), eq(media.ownerId, authorId)))
    .limit(1);
  if (!item) throw notFound("Media");
  if (item.purpose !== "story")
    throw new AppError(422, "media_wrong_purpose", "Upload story media with purpose `story`", { purpose: item.purpose });
  if (!item.mimeType.toLowerCase().startsWith(`${type}/`))
    throw new AppError(422, "media_type_mismatch", `An ${type} story needs ${type}/* media`, { mimeType: item.mimeType });
  if (item.usedBy) throw mediaInUse();
  return item.mimeType;
}

const mediaInUse = () => new AppError(422, "media_in_use", "This media item already belongs to another story");

/**
 * The audience lists as story_audience rows. `except` wins over `allow` for someone on both.
 * Every listed id must be an existing account other than the author (`400 invalid_user_ids`
 * with the bad ones in `details.userIds`).
 */
async function audienceRows(db: Database, authorId: string, audience: AudienceInput) {
  const except = new Set(audience.exceptUserIds ?? []);
  const allow = [...new Set(audience.userIds ?? [])].filter((id) => !except.has(id));
  const listed = [...allow, ...except];
  const found = new Set<string>();
  for (const part of chunked(listed)) {
    if (part.length === 0) continue;
    const rows = await db
      .select({ id: users.id })
      .from(users)
      .where(and(inArray(users.id, part), ne(users.status, "deleted")));
    for (const r of rows) found.add(r.id);
  }
  const bad = listed.filter((id) => id === authorId || !found.has(id));
  if (bad.length > 0)
    throw new AppError(400, "invalid_user_ids", `${bad.length} of the audience ids are unknown users or yourself`, { userIds: bad });
  return [
    ...allow.map((userId) => ({ userId, kind: "allow" as const })),
    ...[...except].map((userId) => ({ userId, kind: "except" as const })),
  ];
}

/**
 * Post a story, live for 24 hours. The story row and its audience rows go in one D1 batch (one
 * transaction); the media checks are described at checkStoryMedia.
 */
export async function createStory(db: Database, authorId: string, input: CreateStoryInput): Promise<StoryView> {
  const mimeType = input.type === "text" ? null : await checkStoryMedia(db, authorId, input.type, input.mediaId);
  const members = await audienceRows(db, authorId, input.audience);
  const at = now();
  const row: StoryRow = {
    id: newId(),
    authorId,
    type: input.type,
    text: input.type === "text" ? input.text : null,
    background: input.type === "text" ? input.background : null,
    font: input.type === "text" ? input.font : null,
    mediaId: input.type === "text" ? null : input.mediaId,
    caption: input.type === "text" ? null : input.caption || null,
    audience: input.audience.kind,
    viewCount: 0,
    createdAt: at,
    expiresAt: at + STORY_LIFETIME_MS,
  };
  try {
    await db.batch([
      db.insert(stories).values(row),
      ...chunked(members, AUDIENCE_ROWS_PER_INSERT).map((part) =>
        db.insert(storyAudience).values(part.map((m) => ({ storyId: row.id, ...m }))),
      ),
    ]);
  } catch (err) {
    if (isUniqueViolation(err, "media_id")) throw mediaInUse();
    throw err;
  }
  return toStoryView(
    {
      id: row.id,
      author_id: authorId,
      type: row.type,
      text: row.text,
      background: row.background,
      font: row.font,
      media_id: row.mediaId,
      caption: row.caption,
      audience: row.audience,
      view_count: 0,
      created_at: at,
      expires_at: row.expiresAt,
      mime_type: mimeType,
      viewed: 0,
    },
    authorId,
  );
}

/** One story as `viewerId` may see it; `404 not_found` outside its audience, once expired or deleted, or unknown. */
export async function getStory(db: Database, id: string, viewerId: string): Promise<StoryView> {
  return toStoryView(await requireVisibleStory(db, id, viewerId), viewerId);
}

const MyCursor = z.object({ e: z.number().int(), id: z.string() });

/**
 * My live stories, oldest first, keyset-paginated on `stories_author_idx` (author_id,
 * expires_at): a live story's expiry is its creation plus 24 hours, so expiry order is posting
 * order, and the range starts at the first unexpired one (O(page) rows).
 */
export async function listMyStories(db: Database, authorId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor, MyCursor);
  const from = after
    ? sql`(s.expires_at > ${after.e} OR (s.expires_at = ${after.e} AND s.id > ${after.id}))`
    : sql`s.expires_at > ${now()}`;
  const rows = await db.all<StoryQueryRow>(
    sql`SELECT ${storyColumns(authorId)} FROM stories s
        WHERE s.author_id = ${authorId} AND s.expires_at > ${now()} AND ${from}
        ORDER BY s.expires_at, s.id LIMIT ${limit + 1}`,
  );
  return page(
    rows,
    limit,
    (r) => toStoryView(r, authorId),
    (r) => ({ e: r.expires_at, id: r.id }),
  );
}

/**
 * Delete my story: it expires now (gone from every read at once) and the 5-minute sweep removes
 * it with its views, audience rows and media like any expired story. Someone else's, expired or
 * unknown: `404 not_found`.
 */
export async function deleteStory(db: Database, id: string, authorId: string): Promise<void> {
  const at = now();
  const [done] = await db
    .update(stories)
    .set({ expiresAt: at })
    .where(and(eq(stories.id, id), eq(stories.authorId, authorId), gt(stories.expiresAt, at)))
    .returning({ id: stories.id });
  if (!done) throw notFound("Story");
}
