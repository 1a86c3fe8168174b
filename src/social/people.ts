import type { z } from "@hono/zod-openapi";
import { eq, inArray } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { users } from "../db/schema";
import { AppError, notFound } from "../lib/errors";
import { loadRelations, publicProfileView } from "../users/visibility";
import type { PublicProfile } from "./schemas";

/** The shape publicProfileView builds (documented as PublicProfile). */
export type ProfileView = z.infer<typeof PublicProfile>;

/**
 * Shared lookups of the social module. "Visible" accounts are active, suspended or deactivated
 * (a deactivated account looks like a suspended one to others): deleted and banned accounts are
 * gone from lists and answer 404 like ids that never existed.
 */
export const VISIBLE_STATUSES = ["active", "suspended", "deactivated"] as const;

/** D1 allows 100 bound parameters a query; id and value lists are cut into chunks well under it. */
export const PARAM_CHUNK = 90;
/** For queries that bind each id twice (both directions of blocks): 2 × 45 + 2 = 92 parameters. */
export const TWO_WAY_CHUNK = 45;

/** Split a list into chunks of at most `size` items. */
export function chunked<T>(items: T[], size = PARAM_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const isVisible = (u: Pick<UserRow, "status">) => (VISIBLE_STATUSES as readonly string[]).includes(u.status);

/** One user row by id (any status), or null. */
export async function findUser(db: Database, id: string): Promise<UserRow | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row ?? null;
}

/** A visible user (active or suspended), or `404 not_found`. */
export async function requireVisibleUser(db: Database, id: string): Promise<UserRow> {
  const row = await findUser(db, id);
  if (!row || !isVisible(row)) throw notFound("User");
  return row;
}

/** Rows of many users by id, in chunks (any status). */
export async function usersByIds(db: Database, ids: string[]): Promise<Map<string, UserRow>> {
  const out = new Map<string, UserRow>();
  for (const part of chunked([...new Set(ids)])) {
    if (part.length === 0) continue;
    for (const row of await db.select().from(users).where(inArray(users.id, part))) out.set(row.id, row);
  }
  return out;
}

/**
 * Profiles of a page of users as `viewerId` may see them: one loadRelations call for the whole
 * page (three indexed queries per 45 ids), never one per item.
 */
export async function profilesFor(db: Database, viewerId: string, rows: UserRow[]) {
  const relations = await loadRelations(
    db,
    viewerId,
    rows.map((r) => r.id),
  );
  return (row: UserRow) => publicProfileView(row, relations.get(row.id)!) as ProfileView;
}

/** `400 <code>` when a user tries to act on themselves. */
export function refuseSelf(callerId: string, targetId: string, code: string, message: string): void {
  if (callerId === targetId) throw new AppError(400, code, message);
}
