import { and, eq, isNull, lt } from "drizzle-orm";
import { createDb } from "../db/client";
import { media } from "../db/schema";
import type { Bindings } from "../env";
import { DAY } from "../lib/time";
import { type RemovedMedia, removeMediaWhere } from "./removal";

/** How long an uploaded attachment may wait for a message before the sweep deletes it. */
export const UNATTACHED_TTL_MS = DAY;

/**
 * The hourly job: delete `attachment` items never attached to a message and uploaded more than
 * 24 hours before `at` (R2, D1, storage released), at most `limit` per run (oldest first; the
 * next run takes the rest). Idempotent: a second run finds nothing left to do. Walks the partial
 * index media_unattached_idx.
 */
export async function sweepUnattachedMedia(env: Bindings, at: number, limit = 500): Promise<RemovedMedia> {
  const db = createDb(env.DB);
  return removeMediaWhere(
    db,
    env,
    and(eq(media.purpose, "attachment"), isNull(media.attachedAt), lt(media.createdAt, at - UNATTACHED_TTL_MS))!,
    limit,
  );
}
