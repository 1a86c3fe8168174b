import { z } from "@hono/zod-openapi";
import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { decodeCursor, encodeCursor } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { profilesFor, usersByIds } from "../social/people";
import { type StoryQueryRow, storyColumns, viewedBy, visibleTo } from "./access";
import { toStoryView } from "./service";

/** The sort key of a feed entry: has unviewed (1/0), newest story time, author id; all descending. */
const FeedCursor = z.object({ u: z.union([z.literal(0), z.literal(1)]), t: z.number().int(), a: z.string() });
type FeedKey = z.infer<typeof FeedCursor>;

interface AuthorRow {
  author_id: string;
  latest_at: number;
  has_unviewed: 0 | 1;
}

/**
 * The authors whose stories can reach `viewerId`'s feed: the people in the viewer's contacts list
 * and the people the viewer follows (two index-only range reads on the viewer's own rows). Stories
 * of anyone else are still reachable by id (GET /stories/{id}) when their audience allows.
 */
const feedSources = (viewerId: string): SQL =>
  sql`SELECT contact_id AS id FROM contacts WHERE owner_id = ${viewerId}
      UNION SELECT followee_id FROM follows WHERE follower_id = ${viewerId}`;

/**
 * One page of authors, grouped and ordered in SQL. For each source author the live stories are
 * one range of `stories_author_idx` (author_id, expires_at > now); each is checked with
 * visibleTo and viewedBy (primary-key probes). Rows read ≈ the viewer's contacts and follows
 * (index entries) + their live stories × a few probes; the sort covers only the grouped authors.
 */
export function feedAuthorsQuery(viewerId: string, at: number, limit: number, after: FeedKey | null): SQL {
  const past = after
    ? sql`WHERE has_unviewed < ${after.u} OR (has_unviewed = ${after.u} AND (latest_at < ${after.t}
          OR (latest_at = ${after.t} AND author_id < ${after.a})))`
    : sql``;
  return sql`WITH src(id) AS (${feedSources(viewerId)}),
    grouped AS (
      SELECT s.author_id AS author_id, max(s.created_at) AS latest_at, min(${viewedBy(viewerId)}) = 0 AS has_unviewed
      FROM src JOIN stories s ON s.author_id = src.id
      WHERE s.author_id != ${viewerId} AND ${visibleTo(viewerId, at)}
      GROUP BY s.author_id
    )
    SELECT author_id, latest_at, has_unviewed FROM grouped ${past}
    ORDER BY has_unviewed DESC, latest_at DESC, author_id DESC
    LIMIT ${limit + 1}`;
}

/** The visible live stories of the page's authors, oldest first per author (the ids travel as one JSON parameter). */
export function feedStoriesQuery(viewerId: string, at: number, authorIds: string[]): SQL {
  return sql`SELECT ${storyColumns(viewerId)} FROM stories s
    WHERE s.author_id IN (SELECT value FROM json_each(${JSON.stringify(authorIds)})) AND ${visibleTo(viewerId, at)}
    ORDER BY s.author_id, s.expires_at, s.id`;
}

/**
 * `viewerId`'s story feed: `{authors: [{author, stories, hasUnviewed, latestAt}], nextCursor}`,
 * authors with a story the viewer has not viewed first, then by their newest story, newest
 * first; keyset-paginated over authors. Expired stories never appear, swept or not; the viewer's
 * own stories are at GET /stories/me. An author moving between the unviewed and viewed groups
 * while a client pages may show up twice or only on the next refresh: the order is live.
 */
export async function storyFeed(db: Database, viewerId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor, FeedCursor);
  const at = now();
  const rows = await db.all<AuthorRow>(feedAuthorsQuery(viewerId, at, limit, after));
  const pageRows = rows.slice(0, limit);
  if (pageRows.length === 0) return { authors: [], nextCursor: null };
  const ids = pageRows.map((r) => r.author_id);
  const [storyRows, userRows] = await Promise.all([db.all<StoryQueryRow>(feedStoriesQuery(viewerId, at, ids)), usersByIds(db, ids)]);
  const byAuthor = new Map<string, StoryQueryRow[]>();
  for (const r of storyRows) {
    const list = byAuthor.get(r.author_id);
    if (list) list.push(r);
    else byAuthor.set(r.author_id, [r]);
  }
  const profile = await profilesFor(db, viewerId, [...userRows.values()]);
  const authors = pageRows
    // An author whose account or last story went away between the two reads is left out.
    .filter((r) => userRows.has(r.author_id) && byAuthor.has(r.author_id))
    .map((r) => ({
      author: profile(userRows.get(r.author_id)!),
      stories: byAuthor.get(r.author_id)!.map((s) => toStoryView(s, viewerId)),
      hasUnviewed: r.has_unviewed === 1,
      latestAt: iso(r.latest_at),
    }));
  const last = pageRows[pageRows.length - 1]!;
  const nextCursor = rows.length > limit ? encodeCursor({ u: last.has_unviewed, t: last.latest_at, a: last.author_id }) : null;
  return { authors, nextCursor };
}
