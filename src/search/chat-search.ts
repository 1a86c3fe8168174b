import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { decodeCursor, page } from "../lib/pagination";
import { parseSearchQuery } from "./service";

/** bm25 column weights: a hit in the name counts more than one in the description. */
const WEIGHTS = { name: 5, description: 1 } as const;

/** A chat as search shows it: what a public chat shows anyone, and whether I am a member. */
export const ChatSearchResult = z
  .object({
    id: z.string(),
    type: z.enum(["group", "channel"]),
    name: z.string().nullable(),
    description: z.string().nullable(),
    avatarMediaId: z.string().nullable(),
    isPublic: z.boolean(),
    memberCount: z.number().int(),
    member: z.boolean().openapi({ description: "Whether I am a member (my chats come first)" }),
  })
  .openapi("ChatSearchResult");
export type ChatSearchResult = z.infer<typeof ChatSearchResult>;

const ChatCursor = z.object({ m: z.union([z.literal(0), z.literal(1)]), r: z.number(), i: z.string().max(64) });

type Row = {
  id: string;
  type: "group" | "channel";
  name: string | null;
  description: string | null;
  avatar_media_id: string | null;
  is_public: number;
  member_count: number;
  _member: number;
  _rank: number;
};

/**
 * Groups and channels by name and description (D1's chats_fts, every word a prefix, accents
 * ignored): those I am in first, then public ones, each by bm25 (name hits weigh 5×); keyset pages.
 * Private chats I am not in never appear.
 */
export async function searchChats(
  db: Database,
  viewerId: string,
  query: { q: string; limit: number; cursor?: string },
): Promise<{ items: ChatSearchResult[]; nextCursor: string | null }> {
  const parsed = parseSearchQuery(query.q);
  const after = decodeCursor(query.cursor, ChatCursor);
  const keyset = after
    ? sql`WHERE (_member < ${after.m} OR (_member = ${after.m} AND (_rank > ${after.r} OR (_rank = ${after.r} AND id > ${after.i}))))`
    : sql``;
  const rows = await db.all<Row>(sql`
    SELECT * FROM (
      SELECT c.id, c.type, c.name, c.description, c.avatar_media_id, c.is_public, c.member_count,
             (m.user_id IS NOT NULL) AS _member,
             bm25(chats_fts, ${sql.raw(String(WEIGHTS.name))}, ${sql.raw(String(WEIGHTS.description))}) AS _rank
        FROM chats_fts CROSS JOIN chats c ON c.rowid = chats_fts.rowid
        LEFT JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ${viewerId}
       WHERE chats_fts MATCH ${parsed.match} AND (m.user_id IS NOT NULL OR c.is_public = 1)
    ) ${keyset}
    ORDER BY _member DESC, _rank ASC, id ASC
    LIMIT ${query.limit + 1}`);
  return page(
    rows,
    query.limit,
    (r) => ({
      id: r.id,
      type: r.type,
      name: r.name,
      description: r.description,
      avatarMediaId: r.avatar_media_id,
      isPublic: r.is_public === 1,
      memberCount: r.member_count,
      member: r._member === 1,
    }),
    (r) => ({ m: r._member, r: r._rank, i: r.id }),
  );
}
