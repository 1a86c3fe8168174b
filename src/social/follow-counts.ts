import { inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { users } from "../db/schema";

/**
 * The statement that keeps `users.followers_count` / `following_count` exact. It must come right
 * after the statement that inserted or deleted the one follows row (`followerId` → `followeeId`)
 * in the same D1 batch: `changes()` is the number of rows that statement changed, so an
 * idempotent repeat (insert that hit ON CONFLICT DO NOTHING, delete of a missing row) changes no
 * count. D1 runs a batch as one transaction and serializes writes, so concurrent repeats cannot
 * both count. One UPDATE touches both users, so nothing runs between the row change and the
 * guard. (A query builder, not `db.run(sql…)`: drizzle's D1 batch cannot bind parameters of raw
 * statements.)
 */
export function followCountStatement(db: Database, followerId: string, followeeId: string, delta: 1 | -1) {
  return db
    .update(users)
    .set({
      followingCount: sql`${users.followingCount} + ${delta} * (${users.id} = ${followerId})`,
      followersCount: sql`${users.followersCount} + ${delta} * (${users.id} = ${followeeId})`,
    })
    .where(sql`${inArray(users.id, [followerId, followeeId])} AND changes() = 1`);
}
