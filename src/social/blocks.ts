import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt, inArray, ne, or } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { blocks, closeFriends, follows, users } from "../db/schema";
import { AppError, notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { followCountStatement } from "./follow-counts";
import { chunked, findUser, refuseSelf, TWO_WAY_CHUNK } from "./people";

/** Who blocked whom between two users. */
export interface BlockState {
  /** `a` blocked `b`. */
  aBlockedB: boolean;
  /** `b` blocked `a`. */
  bBlockedA: boolean;
}

/** Both directions of blocking between `a` and `b` in one primary-key query. */
export async function blockState(db: Database, a: string, b: string): Promise<BlockState> {
  const rows = await db
    .select({ blockerId: blocks.blockerId })
    .from(blocks)
    .where(or(and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)), and(eq(blocks.blockerId, b), eq(blocks.blockedId, a))));
  return { aBlockedB: rows.some((r) => r.blockerId === a), bBlockedA: rows.some((r) => r.blockerId === b) };
}

/**
 * Refuse an action of `actorId` towards `targetId` (follow, start a direct chat, add to a group)
 * when either blocked the other. A target who blocked the actor answers `404 not_found`, exactly
 * like an unknown user, so a block is not announced; an actor who blocked the target gets
 * `403 blocked` (they know, and the message tells them to unblock first).
 */
export async function assertNotBlocked(db: Database, actorId: string, targetId: string): Promise<void> {
  const state = await blockState(db, actorId, targetId);
  if (state.bBlockedA) throw notFound("User");
  if (state.aBlockedB) throw new AppError(403, "blocked", "You blocked this user; unblock them first");
}

/** Which of `otherIds` are blocked by `userId` or have blocked `userId` (chunked, indexed both ways). */
export async function blockedEitherWay(db: Database, userId: string, otherIds: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of chunked([...new Set(otherIds)], TWO_WAY_CHUNK)) {
    const rows = await db
      .select({ blockerId: blocks.blockerId, blockedId: blocks.blockedId })
      .from(blocks)
      .where(
        or(
          and(eq(blocks.blockerId, userId), inArray(blocks.blockedId, part)),
          and(eq(blocks.blockedId, userId), inArray(blocks.blockerId, part)),
        ),
      );
    for (const r of rows) out.add(r.blockerId === userId ? r.blockedId : r.blockerId);
  }
  return out;
}

/** A blocked-list item: who, and since when. */
export const blockedView = (u: Pick<UserRow, "id" | "username" | "displayName">, blockedAt: number) => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  blockedAt: iso(blockedAt),
});

/**
 * `blockerId` blocks `blockedId` in one D1 batch: the block row, both follows removed with their
 * counts fixed exactly, and both close-friends entries removed. Idempotent: a repeat changes
 * nothing and reports `created: false`. Deleted or unknown users answer 404; blocking yourself 400.
 */
export async function blockUser(db: Database, blockerId: string, blockedId: string) {
  refuseSelf(blockerId, blockedId, "cannot_block_self", "You cannot block yourself");
  const target = await findUser(db, blockedId);
  if (!target || target.status === "deleted") throw notFound("User");
  const at = now();
  const [inserted] = await db.batch([
    db.insert(blocks).values({ blockerId, blockedId, createdAt: at }).onConflictDoNothing().returning(),
    db.delete(follows).where(and(eq(follows.followerId, blockerId), eq(follows.followeeId, blockedId))),
    followCountStatement(db, blockerId, blockedId, -1),
    db.delete(follows).where(and(eq(follows.followerId, blockedId), eq(follows.followeeId, blockerId))),
    followCountStatement(db, blockedId, blockerId, -1),
    db
      .delete(closeFriends)
      .where(
        or(
          and(eq(closeFriends.ownerId, blockerId), eq(closeFriends.friendId, blockedId)),
          and(eq(closeFriends.ownerId, blockedId), eq(closeFriends.friendId, blockerId)),
        ),
      ),
  ]);
  const created = inserted.length > 0;
  let blockedAt = inserted[0]?.createdAt;
  if (blockedAt === undefined) {
    const [row] = await db
      .select({ createdAt: blocks.createdAt })
      .from(blocks)
      .where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId)));
    blockedAt = row?.createdAt ?? at;
  }
  return { created, blocked: blockedView(target, blockedAt) };
}

/** Lift a block. `404 not_found` when `blockerId` had not blocked `blockedId`. */
export async function unblockUser(db: Database, blockerId: string, blockedId: string): Promise<void> {
  const deleted = await db
    .delete(blocks)
    .where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId)))
    .returning({ id: blocks.blockedId });
  if (deleted.length === 0) throw notFound("Block");
}

const BlockedCursor = z.object({ id: z.string() });

/**
 * The people `blockerId` blocked, keyset-paginated on the blocks primary key (blocked user id,
 * i.e. account age, since ids are UUIDv7): O(page) rows read. Deleted accounts are left out.
 */
export async function listBlocked(db: Database, blockerId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor, BlockedCursor);
  const rows = await db
    .select({ id: users.id, username: users.username, displayName: users.displayName, blockedAt: blocks.createdAt })
    .from(blocks)
    .innerJoin(users, eq(users.id, blocks.blockedId))
    .where(and(eq(blocks.blockerId, blockerId), after ? gt(blocks.blockedId, after.id) : undefined, ne(users.status, "deleted")))
    .orderBy(asc(blocks.blockedId))
    .limit(limit + 1);
  return page(
    rows,
    limit,
    (r) => blockedView(r, r.blockedAt),
    (r) => ({ id: r.id }),
  );
}
