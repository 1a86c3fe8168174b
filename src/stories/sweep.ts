import type { Bindings } from "../env";

/** What one sweep removed. */
export interface StorySweepResult {
  stories: number;
  views: number;
  audience: number;
  media: number;
  /** Storage released from the owners' `storage_usage.bytes` (the removed media's sizes). */
  bytes: number;
}

interface ExpiredRow {
  id: string;
  media_id: string | null;
}

interface MediaRow {
  id: string;
  size: number;
  r2_key: string;
}

/** R2 deletes at most 1,000 keys a call. */
const R2_DELETE_MAX = 1000;
const IN_LIST = "IN (SELECT value FROM json_each(?))";
/** The story media among a JSON list of ids (story media are purpose `story`, owned by the story's author). */
const STORY_MEDIA = `media WHERE id ${IN_LIST} AND purpose = 'story'`;

/**
 * Remove up to `limit` stories that expired (or were deleted: deletion expires a story) at or
 * before `at`, oldest expiry first on `stories_expires_idx`, with their views, audience rows,
 * media rows and R2 objects (each media row's `r2_key`), releasing the media's bytes from the
 * owners' `storage_usage`. A run never takes more than `limit` stories; the rest waits for the
 * next run (every 5 minutes).
 *
 * Idempotent and safe to repeat after a failure: R2 objects go first (deleting a missing key is
 * a no-op), then one D1 batch (one transaction) releases storage and deletes the rows. The
 * release is computed from the media rows the same batch deletes, so a concurrent or repeated
 * run that finds them gone releases nothing twice.
 */
export async function sweepExpiredStories(env: Pick<Bindings, "DB" | "MEDIA">, at: number, limit = 200): Promise<StorySweepResult> {
  const none: StorySweepResult = { stories: 0, views: 0, audience: 0, media: 0, bytes: 0 };
  if (limit <= 0) return none;
  const expired = (
    await env.DB.prepare("SELECT id, media_id FROM stories WHERE expires_at <= ? ORDER BY expires_at LIMIT ?")
      .bind(at, limit)
      .all<ExpiredRow>()
  ).results;
  if (expired.length === 0) return none;
  const storyIds = JSON.stringify(expired.map((s) => s.id));
  const mediaIds = JSON.stringify(expired.flatMap((s) => (s.media_id ? [s.media_id] : [])));
  const items = (await env.DB.prepare(`SELECT id, size, r2_key FROM ${STORY_MEDIA}`).bind(mediaIds).all<MediaRow>()).results;
  const keys = items.map((m) => m.r2_key);
  for (let i = 0; i < keys.length; i += R2_DELETE_MAX) await env.MEDIA.delete(keys.slice(i, i + R2_DELETE_MAX));

  // Rows deleted are counted with RETURNING where triggers or cascades would inflate `meta.changes`.
  const [released, , views, audience, stories, media] = await env.DB.batch<{ bytes: number }>([
    // Read inside the transaction, before the delete below: exactly what this run releases.
    env.DB.prepare(`SELECT coalesce(sum(size), 0) AS bytes FROM ${STORY_MEDIA}`).bind(mediaIds),
    env.DB.prepare(
      `UPDATE storage_usage SET bytes = max(0, bytes - (SELECT coalesce(sum(size), 0) FROM ${STORY_MEDIA} AND owner_id = storage_usage.user_id))
       WHERE user_id IN (SELECT owner_id FROM ${STORY_MEDIA})`,
    ).bind(mediaIds, mediaIds),
    env.DB.prepare(`DELETE FROM story_views WHERE story_id ${IN_LIST}`).bind(storyIds),
    env.DB.prepare(`DELETE FROM story_audience WHERE story_id ${IN_LIST}`).bind(storyIds),
    env.DB.prepare(`DELETE FROM stories WHERE id ${IN_LIST} AND expires_at <= ? RETURNING id`).bind(storyIds, at),
    env.DB.prepare(`DELETE FROM ${STORY_MEDIA} RETURNING id`).bind(mediaIds),
  ]);
  return {
    stories: stories!.results.length,
    views: views!.meta.changes,
    audience: audience!.meta.changes,
    media: media!.results.length,
    bytes: released!.results[0]?.bytes ?? 0,
  };
}
