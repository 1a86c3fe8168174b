import { z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gt, gte, lt, type SQL, sql } from "drizzle-orm";
import { E164_RE, normalizeEmail, normalizePhone } from "../auth/identifiers";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { users } from "../db/schema";
import { decodeCursor, page } from "../lib/pagination";
import { DAY, now } from "../lib/time";
import { adminUserView } from "./moderation";

/** stat_counters keys (kept exact by triggers; see migrations/0003_search_and_stats.sql). */
const COUNTER_KEYS = ["users", "reports_open", "chats", "messages", "stories"] as const;

/**
 * The one statement behind GET /admin/stats: the counters by primary key, and four range counts
 * on the created_at and last_seen_at indexes (covering index searches, never a table scan; each
 * reads only the index entries inside its window). Live stories are the `stories` counter (every
 * row) minus the rows already expired or deleted but not yet swept: a range of
 * `stories_expires_idx` that the 5-minute sweep keeps short.
 */
export function statsQuery(at = now()) {
  const counter = (key: (typeof COUNTER_KEYS)[number]) => sql`coalesce((SELECT value FROM stat_counters WHERE key = ${key}), 0)`;
  return sql`SELECT
    ${counter("users")} AS total,
    ${counter("chats")} AS chats,
    ${counter("messages")} AS messages,
    ${counter("stories")} - (SELECT count(*) FROM stories WHERE expires_at <= ${at}) AS stories,
    ${counter("reports_open")} AS reportsOpen,
    (SELECT count(*) FROM users WHERE created_at >= ${at - DAY}) AS new24h,
    (SELECT count(*) FROM users WHERE created_at >= ${at - 7 * DAY}) AS new7d,
    (SELECT count(*) FROM users WHERE last_seen_at >= ${at - DAY}) AS active24h,
    (SELECT count(*) FROM users WHERE last_seen_at >= ${at - 7 * DAY}) AS active7d`;
}

interface StatsRow {
  total: number;
  chats: number;
  messages: number;
  stories: number;
  reportsOpen: number;
  new24h: number;
  new7d: number;
  active24h: number;
  active7d: number;
}

/**
 * Totals for the admin dashboard. `users.total` counts accounts that are not deleted; `new*`
 * count sign-ups in the window (whatever their status now); `active*` count accounts seen in the
 * window (users.last_seen_at). `stories` counts live stories (posted, not expired or deleted).
 */
export async function getStats(db: Database) {
  const r = (await db.get<StatsRow>(statsQuery()))!;
  return {
    users: { total: r.total, new24h: r.new24h, new7d: r.new7d, active24h: r.active24h, active7d: r.active7d },
    chats: r.chats,
    messages: r.messages,
    stories: r.stories,
    reportsOpen: r.reportsOpen,
  };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type UserLookup =
  | { kind: "id"; value: string }
  | { kind: "email"; value: string }
  | { kind: "phone"; value: string }
  | { kind: "username"; value: string }
  | { kind: "none" };

/** What an admin's `q` is: an id, an email, an E.164 phone (exact), or a username prefix. */
export function classifyLookup(q: string | undefined): UserLookup {
  const s = q?.trim();
  if (!s) return { kind: "none" };
  if (UUID_RE.test(s)) return { kind: "id", value: s.toLowerCase() };
  if (s.includes("@") && !s.startsWith("@")) return { kind: "email", value: normalizeEmail(s) };
  if (s.startsWith("+")) return { kind: "phone", value: normalizePhone(s) };
  return { kind: "username", value: s.replace(/^@/, "").toLowerCase() };
}

/** The smallest string greater than every string that starts with `prefix`. */
const prefixEnd = (prefix: string) => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

const UsernameCursor = z.object({ u: z.string().max(64) });
const RowidCursor = z.object({ r: z.number().int() });

/** The filters of the admin user search: the status and the admin-managed attributes. */
export interface AdminUserFilters {
  status?: UserRow["status"];
  verified?: boolean;
  creator?: boolean;
  kycStatus?: UserRow["kycStatus"];
  tier?: number;
  lifecycle?: UserRow["lifecycle"];
}

export interface AdminUserQuery extends AdminUserFilters {
  q?: string;
  limit: number;
  cursor?: string;
}

const FILTER_COLUMNS = {
  status: users.status,
  verified: users.verified,
  creator: users.creator,
  kycStatus: users.kycStatus,
  tier: users.tier,
  lifecycle: users.lifecycle,
} as const;

/**
 * The filters given, as conditions. Each column has its own index (entries ordered by value, then
 * rowid), which the listing without `q` walks. `unary` writes `+column` so the planner stays on
 * the index of a lookup (id, email, phone, username range), which finds fewer rows.
 */
function filterConditions(filters: AdminUserFilters, unary: boolean): SQL[] {
  return (Object.keys(FILTER_COLUMNS) as (keyof AdminUserFilters)[]).flatMap((key) => {
    const value = filters[key];
    if (value === undefined) return [];
    const column = FILTER_COLUMNS[key];
    const bound = typeof value === "boolean" ? Number(value) : value;
    return [unary ? sql`+${column} = ${bound}` : sql`${column} = ${bound}`];
  });
}

/**
 * Every account matching `filters`, newest first, keyset on rowid (which grows with sign-ups):
 * the primary key, or a filter's index, whose entries for one value are in rowid order, so no sort
 * and no scan (exported for the plan test).
 */
export function listUsersQuery(db: Database, filters: AdminUserFilters, beforeRowid: number | null, limit: number) {
  const conditions = filterConditions(filters, false);
  if (beforeRowid !== null) conditions.push(sql`${users}.rowid < ${beforeRowid}`);
  return db
    .select({ user: users, rowid: sql<number>`${users}.rowid` })
    .from(users)
    .where(and(...conditions))
    .orderBy(desc(sql`${users}.rowid`))
    .limit(limit);
}

/**
 * Find accounts for admins: by exact id (one row at most); by exact email or phone (every account
 * holding it, since several may hold an unverified address: the one that has it verified, then the
 * rest oldest first, up to `limit`); by username prefix (a range on the username index,
 * alphabetical, keyset on username); or with no `q` every account newest first (listUsersQuery).
 * The status and attribute filters apply to each. Deleted accounts are included (filter by status).
 */
export async function searchAdminUsers(db: Database, input: AdminUserQuery) {
  const lookup = classifyLookup(input.q);
  const filters = filterConditions(input, true);
  const empty = { items: [], nextCursor: null };

  if (lookup.kind === "id") {
    const rows = await db
      .select()
      .from(users)
      .where(and(eq(users.id, lookup.value), ...filters));
    return { items: rows.map(adminUserView), nextCursor: null };
  }

  if (lookup.kind === "email" || lookup.kind === "phone") {
    if (lookup.kind === "phone" && !E164_RE.test(lookup.value)) return empty;
    const [column, verifiedAt] = lookup.kind === "email" ? [users.email, users.emailVerifiedAt] : [users.phone, users.phoneVerifiedAt];
    const rows = await db
      .select()
      .from(users)
      .where(and(eq(column, lookup.value), ...filters))
      .orderBy(sql`${verifiedAt} IS NULL`, sql`${users}.rowid`)
      .limit(input.limit);
    return { items: rows.map(adminUserView), nextCursor: null };
  }

  if (lookup.kind === "username") {
    if (!/^[a-z0-9_]{1,32}$/.test(lookup.value)) return empty;
    const after = decodeCursor(input.cursor, UsernameCursor);
    // Unary + keeps the planner on the username range (ordered, no sort) instead of the status index.
    const conditions: SQL[] = [gte(users.username, lookup.value), lt(users.username, prefixEnd(lookup.value)), ...filters];
    if (after) conditions.push(gt(users.username, after.u));
    const rows = await db
      .select()
      .from(users)
      .where(and(...conditions))
      .orderBy(asc(users.username))
      .limit(input.limit + 1);
    return page(rows, input.limit, adminUserView, (r) => ({ u: r.username }));
  }

  const after = decodeCursor(input.cursor, RowidCursor);
  const rows = await listUsersQuery(db, input, after?.r ?? null, input.limit + 1);
  return page(
    rows,
    input.limit,
    (r) => adminUserView(r.user),
    (r) => ({ r: r.rowid }),
  );
}
