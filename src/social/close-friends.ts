import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt, inArray } from "drizzle-orm";
import type { Database } from "../db/client";
import { closeFriends, users } from "../db/schema";
import { AppError } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { now } from "../lib/time";
import { blockedEitherWay } from "./blocks";
import { chunked, profilesFor, usersByIds, VISIBLE_STATUSES } from "./people";

/** Rows per INSERT: 3 bound parameters each keeps a statement under D1's 100. */
const ROWS_PER_INSERT = 30;

/**
 * Replace `ownerId`'s whole close-friends list (the "close friends" story audience) with
 * `userIds` (duplicates ignored). Every id must be another existing active user and nobody either
 * side blocked; otherwise `400 invalid_user_ids` with `details.userIds` listing the bad ones and
 * nothing changes. The delete and the inserts run as one D1 batch (one transaction).
 */
export async function setCloseFriends(db: Database, ownerId: string, userIds: string[]): Promise<string[]> {
  const ids = [...new Set(userIds)];
  const others = ids.filter((id) => id !== ownerId);
  const [rows, blocked] = await Promise.all([usersByIds(db, others), blockedEitherWay(db, ownerId, others)]);
  const bad = ids.filter((id) => id === ownerId || rows.get(id)?.status !== "active" || blocked.has(id));
  if (bad.length > 0) {
    throw new AppError(
      400,
      "invalid_user_ids",
      `${bad.length} of these users cannot be close friends (unknown, inactive, blocked or yourself)`,
      {
        userIds: bad,
      },
    );
  }
  const at = now();
  await db.batch([
    db.delete(closeFriends).where(eq(closeFriends.ownerId, ownerId)),
    ...chunked(ids, ROWS_PER_INSERT).map((part) =>
      db.insert(closeFriends).values(part.map((friendId) => ({ ownerId, friendId, createdAt: at }))),
    ),
  ]);
  return ids.sort();
}

const FriendCursor = z.object({ id: z.string() });

/**
 * `ownerId`'s close friends as profiles, keyset-paginated on the primary key (owner, friend id):
 * O(page) rows, one loadRelations per page. Deleted and banned accounts are left out.
 */
export async function listCloseFriends(db: Database, ownerId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor, FriendCursor);
  const rows = await db
    .select({ user: users })
    .from(closeFriends)
    .innerJoin(users, eq(users.id, closeFriends.friendId))
    .where(
      and(
        eq(closeFriends.ownerId, ownerId),
        after ? gt(closeFriends.friendId, after.id) : undefined,
        inArray(users.status, [...VISIBLE_STATUSES]),
      ),
    )
    .orderBy(asc(closeFriends.friendId))
    .limit(limit + 1);
  const view = await profilesFor(
    db,
    ownerId,
    rows.slice(0, limit).map((r) => r.user),
  );
  return page(
    rows,
    limit,
    (r) => view(r.user),
    (r) => ({ id: r.user.id }),
  );
}

/**
 * Whether `viewerId` is on `ownerId`'s close-friends list (for the stories audience check): one
 * primary-key lookup.
 */
export async function isCloseFriend(db: Database, ownerId: string, viewerId: string): Promise<boolean> {
  const rows = await db
    .select({ id: closeFriends.friendId })
    .from(closeFriends)
    .where(and(eq(closeFriends.ownerId, ownerId), eq(closeFriends.friendId, viewerId)))
    .limit(1);
  return rows.length > 0;
}
