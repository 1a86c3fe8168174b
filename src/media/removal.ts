import { inArray, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { media, storageUsage } from "../db/schema";
import type { Bindings } from "../env";

/**
 * Removing stored items. D1 goes first: one transaction releases the owners' bytes and deletes
 * the rows, so two runs (a retried job, a sweep racing a delete) can never both release the same
 * bytes. Then the R2 objects go. A failed R2 delete leaves an orphaned object (logged with its
 * keys), never a row pointing at nothing.
 */

export interface RemovedMedia {
  /** Items deleted. */
  items: number;
  /** Their bytes, released from their owners' storage usage. */
  bytes: number;
}

/**
 * Delete up to `limit` media rows matching `where` (oldest first), their R2 objects, and release
 * their owners' storage. The release and the delete are one D1 transaction over the same rows
 * (the release sums what the delete is about to remove), so a crash can neither free bytes of
 * items that stay nor keep bytes of items gone. Idempotent: rows already gone are not matched.
 */
export async function removeMediaWhere(db: Database, env: Bindings, where: SQL, limit = 500): Promise<RemovedMedia> {
  const ids = db.select({ id: media.id }).from(media).where(where).orderBy(media.createdAt, media.id).limit(limit);
  const theirs = sql`SELECT COALESCE(SUM(${media.size}), 0) FROM ${media} WHERE ${inArray(media.id, ids)} AND ${media.ownerId} = ${storageUsage.userId}`;
  const owners = db.selectDistinct({ ownerId: media.ownerId }).from(media).where(inArray(media.id, ids));
  const [, removed] = await db.batch([
    db
      .update(storageUsage)
      .set({ bytes: sql`MAX(0, ${storageUsage.bytes} - (${theirs}))` })
      .where(inArray(storageUsage.userId, owners)),
    db.delete(media).where(inArray(media.id, ids)).returning({ ownerId: media.ownerId, size: media.size, r2Key: media.r2Key }),
  ]);
  if (removed.length === 0) return { items: 0, bytes: 0 };

  const keys = removed.map((r) => r.r2Key);
  try {
    // R2 deletes up to 1,000 keys a call; `limit` stays below that in every caller.
    for (let i = 0; i < keys.length; i += 1000) await env.MEDIA.delete(keys.slice(i, i + 1000));
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "media objects not deleted", keys, error: String(err) }));
  }
  return { items: removed.length, bytes: removed.reduce((sum, r) => sum + r.size, 0) };
}
