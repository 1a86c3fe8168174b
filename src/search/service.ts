import { z } from "@hono/zod-openapi";
import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { users } from "../db/schema";
import { AppError } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import type { PublicProfile } from "../users/schemas";
import { loadRelations, publicProfileView } from "../users/visibility";

/** At most this many words of a query are used; more only make the FTS query slower. */
export const MAX_TERMS = 8;

/** bm25 column weights: a hit in the username counts most, then the display name, then the bio. */
const WEIGHTS = { username: 10, displayName: 5, bio: 1 } as const;

/** A word of the query: letters, digits and underscores, holding at least one letter or digit. */
const TERM_RE = /[\p{L}\p{N}_]+/gu;
const HAS_ALNUM_RE = /[\p{L}\p{N}]/u;

export interface ParsedQuery {
  /** The FTS5 MATCH expression: each word quoted (so no FTS syntax gets through) and a prefix, AND-ed. */
  match: string;
  /** The query as a username (lower-case, no leading @), to rank an exact username match first. */
  exactUsername: string;
}

/**
 * Turn free text into a safe FTS5 query. Everything but letters, digits and `_` separates words;
 * each word becomes `"word"*` (a quoted prefix: FTS operators and quotes cannot be injected).
 * Nothing left → `400 validation_failed`.
 */
export function parseSearchQuery(q: string): ParsedQuery {
  const terms = (q.match(TERM_RE) ?? []).filter((t) => HAS_ALNUM_RE.test(t)).slice(0, MAX_TERMS);
  if (terms.length === 0) {
    throw new AppError(400, "validation_failed", "Invalid query.q: needs at least one letter or digit", [
      { path: "query.q", code: "custom", message: "Needs at least one letter or digit" },
    ]);
  }
  return {
    match: terms.map((t) => `"${t}"*`).join(" "),
    exactUsername: q.trim().replace(/^@/, "").toLowerCase(),
  };
}

const SearchCursor = z.object({ e: z.union([z.literal(0), z.literal(1)]), r: z.number(), i: z.string().max(64) });
type SearchCursor = z.output<typeof SearchCursor>;

/**
 * The ranked search as one statement: the FTS index drives it (CROSS JOIN keeps it the outer
 * loop), each hit reads its users row by rowid and two primary-key probes of blocks. Order: exact
 * username match first, then bm25 (lower is better), then id; the keyset cursor is that triple.
 * Ranking must score every hit, so the cost grows with the number of hits, not with the table.
 */
export function userSearchSql(viewerId: string, parsed: ParsedQuery, limit: number, after: SearchCursor | null): SQL {
  const keyset = after
    ? sql`WHERE (_exact < ${after.e} OR (_exact = ${after.e} AND (_rank > ${after.r} OR (_rank = ${after.r} AND id > ${after.i}))))`
    : sql``;
  return sql`
    SELECT * FROM (
      SELECT u.*, (u.username = ${parsed.exactUsername}) AS _exact,
             bm25(users_fts, ${sql.raw(String(WEIGHTS.username))}, ${sql.raw(String(WEIGHTS.displayName))}, ${sql.raw(String(WEIGHTS.bio))}) AS _rank
      FROM users_fts CROSS JOIN users u ON u.rowid = users_fts.rowid
      WHERE users_fts MATCH ${parsed.match}
        AND u.status = 'active'
        AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = ${viewerId})
        AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ${viewerId} AND b.blocked_id = u.id)
    ) ${keyset}
    ORDER BY _exact DESC, _rank ASC, id ASC
    LIMIT ${limit + 1}`;
}

type RawRow = Record<string, unknown> & { _exact: number; _rank: number };

/** Map a raw `users.*` row (snake_case, driver values) to the drizzle row shape. */
function toUserRow(raw: Record<string, unknown>): UserRow {
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(users))) {
    const value = raw[column.name];
    out[key] = value == null ? null : column.mapFromDriverValue(value);
  }
  return out as UserRow;
}

/**
 * Search people by username, display name and bio for `viewerId`. Only active accounts appear,
 * never one the viewer blocked or that blocked the viewer. Profiles are shown through the owners'
 * privacy settings (publicProfileView). Keyset-paginated with an opaque cursor.
 */
export async function searchUsers(db: Database, viewerId: string, input: { q: string; limit: number; cursor?: string }) {
  const parsed = parseSearchQuery(input.q);
  const after = decodeCursor(input.cursor, SearchCursor);
  const raw = await db.all<RawRow>(userSearchSql(viewerId, parsed, input.limit, after));
  const rows = raw.map((r) => ({ user: toUserRow(r), exact: r._exact ? 1 : 0, rank: r._rank }));
  const relations = await loadRelations(
    db,
    viewerId,
    rows.slice(0, input.limit).map((r) => r.user.id),
  );
  return page(
    rows,
    input.limit,
    // publicProfileView builds exactly the PublicProfile shape (fields withheld by privacy are omitted).
    (r) => publicProfileView(r.user, relations.get(r.user.id)!) as z.output<typeof PublicProfile>,
    (r) => ({ e: r.exact, r: r.rank, i: r.user.id }),
  );
}
