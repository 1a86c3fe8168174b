import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { media, mediaRefs } from "../db/schema";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { now } from "../lib/time";
import { type RemovedMedia, removeMediaWhere } from "./removal";

/**
 * The interface messaging uses for attachments. Sending a message attaches its media (the chat's
 * members may then read them, and the hourly sweep leaves them alone); deleting messages
 * detaches it, and an item no message references any more goes with the last one.
 */

/** D1 binds at most 100 parameters a statement; id lists are cut below that. */
const CHUNK = 90;
const chunks = <T>(items: readonly T[]) =>
  Array.from({ length: Math.ceil(items.length / CHUNK) }, (_, i) => items.slice(i * CHUNK, (i + 1) * CHUNK));

/** What a message records of an item it carries. */
export interface AttachableMedia {
  mediaId: string;
  mimeType: string;
  size: number;
  fileName: string | null;
}

/** What one message references. */
export interface MessageMedia {
  messageId: string;
  mediaIds: readonly string[];
}

/**
 * Reference each message's `mediaIds` (already checked: a message being forwarded, a
 * scheduled message's, or items staged in the room) from it in chat `chatId`: every message in one D1
 * round trip. Idempotent: a repeated call adds nothing. Sets `attached_at` on first attachment,
 * which takes the item out of the unattached sweep. An item deleted meanwhile is skipped (there
 * is nothing to reference).
 */
export async function referenceMedia(db: Database, chatId: string, messages: readonly MessageMedia[]): Promise<void> {
  const d1 = db.$client;
  const at = now();
  const statements = messages
    .filter((m) => m.mediaIds.length > 0)
    .flatMap((m) => {
      const list = JSON.stringify([...new Set(m.mediaIds)]);
      return [
        d1
          .prepare(
            `INSERT INTO media_refs (media_id, chat_id, message_id, created_at)
             SELECT id, ?2, ?3, ?4 FROM media WHERE id IN (SELECT value FROM json_each(?1)) ON CONFLICT DO NOTHING`,
          )
          .bind(list, chatId, m.messageId, at),
        d1.prepare("UPDATE media SET attached_at = COALESCE(attached_at, ?2) WHERE id IN (SELECT value FROM json_each(?1))").bind(list, at),
      ];
    });
  if (statements.length > 0) await d1.batch(statements);
}

/**
 * Check and attach in one D1 round trip, for the send path: reference those of `mediaIds` that
 * `ownerId` uploaded as attachments from message `messageId` (not sent yet: its id is chosen
 * first) and read all of them back. Each must exist and belong to `ownerId` (else `404
 * not_found`, details `{mediaId}`) and be an `attachment` (else `422 media_not_attachable`), and
 * pass `check` (the message type's rule); if any fails, the references made are taken back (and an
 * item attached by nothing else returns to the unattached sweep) before the error is thrown.
 */
export async function attachOwnedMedia(
  db: Database,
  input: { ownerId: string; mediaIds: readonly string[]; chatId: string; messageId: string },
  check: (items: AttachableMedia[]) => void,
): Promise<AttachableMedia[]> {
  const ids = [...new Set(input.mediaIds)];
  if (ids.length === 0) return [];
  if (ids.length > CHUNK) throw new AppError(400, "too_many_attachments", `A message may carry at most ${CHUNK} media items`);
  const d1 = db.$client;
  const list = JSON.stringify(ids);
  const mine = "id IN (SELECT value FROM json_each(?1)) AND owner_id = ?2 AND purpose = 'attachment'";
  const at = now();
  const [, , read] = await d1.batch([
    d1
      .prepare(
        `INSERT INTO media_refs (media_id, chat_id, message_id, created_at) SELECT id, ?3, ?4, ?5 FROM media WHERE ${mine} ON CONFLICT DO NOTHING`,
      )
      .bind(list, input.ownerId, input.chatId, input.messageId, at),
    d1.prepare(`UPDATE media SET attached_at = COALESCE(attached_at, ?3) WHERE ${mine}`).bind(list, input.ownerId, at),
    d1
      .prepare("SELECT id, owner_id, purpose, mime_type, size, file_name FROM media WHERE id IN (SELECT value FROM json_each(?1))")
      .bind(list),
  ]);
  type Row = { id: string; owner_id: string; purpose: string; mime_type: string; size: number; file_name: string | null };
  const byId = new Map(((read?.results ?? []) as Row[]).map((r) => [r.id, r]));
  try {
    const items = ids.map((id) => {
      const row = byId.get(id);
      if (!row || row.owner_id !== input.ownerId) throw new AppError(404, "not_found", "Media not found", { mediaId: id });
      if (row.purpose !== "attachment") {
        throw new AppError(422, "media_not_attachable", `Media ${id} was uploaded as ${row.purpose}, not as an attachment`, {
          mediaId: id,
          purpose: row.purpose,
        });
      }
      return { mediaId: id, mimeType: row.mime_type, size: row.size, fileName: row.file_name };
    });
    check(items);
    return items;
  } catch (err) {
    await releaseMedia(db, input);
    throw err;
  }
}

/**
 * Take back the references a message that was never stored made (attachOwnedMedia or
 * referenceMedia ran, then the send failed or lost a race to a retry). Unlike detaching a
 * deleted message, nothing is erased: an item nothing else references returns to being an
 * unattached upload (the sweep takes it after a day unless it is sent again).
 */
export async function releaseMedia(db: Database, input: { mediaIds: readonly string[]; chatId: string; messageId: string }): Promise<void> {
  const d1 = db.$client;
  await d1.batch([
    d1.prepare("DELETE FROM media_refs WHERE chat_id = ?1 AND message_id = ?2").bind(input.chatId, input.messageId),
    d1
      .prepare(
        `UPDATE media SET attached_at = NULL
          WHERE id IN (SELECT value FROM json_each(?1)) AND NOT EXISTS (SELECT 1 FROM media_refs r WHERE r.media_id = media.id)`,
      )
      .bind(JSON.stringify([...new Set(input.mediaIds)])),
  ]);
}

/**
 * Drop the references of `messageIds` in `chatId` (the messages were deleted). Items that no
 * message references any more, and that were attached before, are deleted: R2, D1 and their
 * owners' storage. Idempotent. Returns how many references went and what was deleted.
 */
export async function detachMessageMedia(
  db: Database,
  env: Bindings,
  chatId: string,
  messageIds: readonly string[],
): Promise<{ refs: number } & RemovedMedia> {
  const touched = new Set<string>();
  let refs = 0;
  for (const part of chunks([...new Set(messageIds)])) {
    const dropped = await db
      .delete(mediaRefs)
      .where(and(eq(mediaRefs.chatId, chatId), inArray(mediaRefs.messageId, part)))
      .returning({ mediaId: mediaRefs.mediaId });
    refs += dropped.length;
    for (const d of dropped) touched.add(d.mediaId);
  }
  const removed: RemovedMedia = { items: 0, bytes: 0 };
  for (const part of chunks([...touched])) {
    // Unreferenced is checked inside the DELETE, so an attach racing this keeps its item.
    const unreferenced = sql`NOT EXISTS (SELECT 1 FROM ${mediaRefs} WHERE ${mediaRefs.mediaId} = ${media.id})`;
    const r = await removeMediaWhere(db, env, and(inArray(media.id, part), isNotNull(media.attachedAt), unreferenced)!, CHUNK);
    removed.items += r.items;
    removed.bytes += r.bytes;
  }
  return { refs, ...removed };
}
