import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, notExists, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { blocks, follows, users } from "../db/schema";
import { notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { assertNotBlocked, blockState } from "./blocks";
import { followCountStatement } from "./follow-counts";
import { profilesFor, refuseSelf, requireVisibleUser, VISIBLE_STATUSES } from "./people";

const SELF_MESSAGE = "You cannot follow yourself";

/**
 * `followerId` follows `followeeId`. Idempotent: following again changes nothing. The row and both
 * counts change in one D1 batch, the counts only when the row was really inserted (see
 * follow-counts.ts), and the insert itself re-checks blocks and the followee's status so a block
 * racing this request cannot leave a follow behind. Unknown, deleted or banned users and users
 * who blocked the follower answer 404; a followee the follower blocked answers `403 blocked`.
 */
export async function followUser(db: Database, followerId: string, followeeId: string): Promise<void> {
  refuseSelf(followerId, followeeId, "cannot_follow_self", SELF_MESSAGE);
  await requireVisibleUser(db, followeeId);
  await assertNotBlocked(db, followerId, followeeId);
  const at = now();
  await db.batch([
    db
      .insert(follows)
      .select(
        db
          .select({
            followerId: sql<string>`${followerId}`.as("follower_id"),
            followeeId: users.id,
            createdAt: sql<number>`${at}`.as("created_at"),
          })
          .from(users)
          .where(
            and(
              eq(users.id, followeeId),
              inArray(users.status, [...VISIBLE_STATUSES]),
              notExists(
                db
                  .select({ one: sql`1` })
                  .from(blocks)
                  .where(
                    or(
                      and(eq(blocks.blockerId, followerId), eq(blocks.blockedId, followeeId)),
                      and(eq(blocks.blockerId, followeeId), eq(blocks.blockedId, followerId)),
                    ),
                  ),
              ),
            ),
          ),
      )
      .onConflictDoNothing(),
    followCountStatement(db, followerId, followeeId, 1),
  ]);
}

/**
 * `followerId` stops following `followeeId`. Idempotent (no error when not following, or for an
 * id that does not exist: there is nothing to reveal and nothing to do); counts change only when
 * a row was deleted.
 */
export async function unfollowUser(db: Database, followerId: string, followeeId: string): Promise<void> {
  refuseSelf(followerId, followeeId, "cannot_follow_self", SELF_MESSAGE);
  await db.batch([
    db.delete(follows).where(and(eq(follows.followerId, followerId), eq(follows.followeeId, followeeId))),
    followCountStatement(db, followerId, followeeId, -1),
  ]);
}

const FollowCursor = z.object({ at: z.number().int(), id: z.string() });

/**
 * Followers (`direction: "followers"`) or followees (`"following"`) of `userId` as `viewerId`
 * may see them, newest first. Keyset on (created_at, other id) over follows_followee_idx /
 * follows_follower_idx: O(page) rows. A deleted or banned user, or one who blocked the viewer,
 * answers 404. People who blocked the viewer and deleted or banned accounts are left out of the
 * list. Profiles are built with one loadRelations call per page.
 */
export async function listFollows(
  db: Database,
  viewerId: string,
  userId: string,
  direction: "followers" | "following",
  limit: number,
  cursor?: string,
) {
  const after = decodeCursor(cursor, FollowCursor);
  if (userId !== viewerId) {
    await requireVisibleUser(db, userId);
    if ((await blockState(db, viewerId, userId)).bBlockedA) throw notFound("User");
  }
  const rows = await followsPageQuery(db, viewerId, userId, direction, limit, after);
  const view = await profilesFor(
    db,
    viewerId,
    rows.slice(0, limit).map((r) => r.user),
  );
  return page(
    rows,
    limit,
    (r) => ({ ...view(r.user), followedAt: iso(r.followedAt) }),
    (r) => ({ at: r.followedAt, id: r.user.id }),
  );
}

/**
 * One page of follows rows joined to the other user's row (exported so tests can check its plan:
 * a SEARCH on follows_followee_idx / follows_follower_idx, never a SCAN).
 */
export function followsPageQuery(
  db: Database,
  viewerId: string,
  userId: string,
  direction: "followers" | "following",
  limit: number,
  after: { at: number; id: string } | null,
) {
  const [self, other] = direction === "followers" ? [follows.followeeId, follows.followerId] : [follows.followerId, follows.followeeId];
  return db
    .select({ user: users, followedAt: follows.createdAt })
    .from(follows)
    .innerJoin(users, eq(users.id, other))
    .where(
      and(
        eq(self, userId),
        after ? sql`(${follows.createdAt}, ${other}) < (${after.at}, ${after.id})` : undefined,
        inArray(users.status, [...VISIBLE_STATUSES]),
        notExists(
          db
            .select({ one: sql`1` })
            .from(blocks)
            .where(and(eq(blocks.blockerId, other), eq(blocks.blockedId, viewerId))),
        ),
      ),
    )
    .orderBy(desc(follows.createdAt), desc(other))
    .limit(limit + 1);
}
