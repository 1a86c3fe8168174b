import { inArray, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { media } from "../db/schema";
import type { Bindings } from "../env";
import { releaseStatement } from "./items";

/**
 * Removing stored items. D1 goes first: one DELETE … RETURNING claims the rows, so two runs (a
 * retried job, a sweep racing a delete) can never both release the same bytes. Then the R2
 * objects go and each owner's storage is given back. A failed R2 delete leaves an orphaned
 * object (logged with its keys), never a row pointing at nothing.
 */

export interface RemovedMedia {
  /** Items deleted. */
  items: number;
  /** Their bytes, released from their owners' storage usage. */
  bytes: number;
}

/**
 * Delete up to `limit` media rows matching `where` (oldest first), their R2 objects, and release
 * their owners' storage. Idempotent: rows already gone are simply not matched.
 */
export async function removeMediaWhere(db: Database, env: Bindings, where: SQL, limit = 500): Promise<RemovedMedia> {
  const ids = db.select({ id: media.id }).from(media).where(where).orderBy(media.createdAt).limit(limit);
  const removed = await db
    .delete(media)
    .where(inArray(media.id, ids))
    .returning({ ownerId: media.ownerId, size: media.size, r2Key: media.r2Key });
  if (removed.length === 0) return { items: 0, bytes: 0 };

  const keys = removed.map((r) => r.r2Key);
  try {
    // R2 deletes up to 1,000 keys a call; `limit` stays below that in every caller.
    for (let i = 0; i < keys.length; i += 1000) await env.MEDIA.delete(keys.slice(i, i + 1000));
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "media objects not deleted", keys, error: String(err) }));
  }

  const byOwner = new Map<string, number>();
  for (const r of removed) byOwner.set(r.ownerId, (byOwner.get(r.ownerId) ?? 0) + r.size);
  // A query builder, not db.run(sql…): drizzle's D1 batch cannot bind parameters of raw statements.
  const releases = [...byOwner].map(([ownerId, bytes]) => releaseStatement(db, ownerId, bytes));
  await db.batch(releases as [(typeof releases)[0], ...typeof releases]);
  return { items: removed.length, bytes: removed.reduce((sum, r) => sum + r.size, 0) };
}
