import { and, eq, gt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, chats, media, mediaRefs, stories, users } from "../db/schema";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { requireOwnMedia } from "./access";
import { unstageFromChat } from "./chat-uploads";
import { removeMediaWhere } from "./removal";

/**
 * Delete the caller's own item at once (R2, D1, storage released). Refused with
 * `409 media_attached` once a message references it (it goes with its messages, see
 * detachMessageMedia) and with `409 media_in_use` while it is the avatar of the owner's profile or of a chat the owner is
 * in (clear the avatar first), or while a live story shows it. Someone else's item, or none: `404 not_found`.
 */
export async function deleteOwnMedia(db: Database, env: Bindings, mediaId: string, ownerId: string): Promise<void> {
  const item = await requireOwnMedia(db, mediaId, ownerId);
  if (item.attachedAt !== null || (await unstageFromChat(env, item))) {
    throw new AppError(409, "media_attached", "This item is attached to messages; it is deleted with them");
  }
  if (item.purpose === "avatar") {
    // Indexed lookups only: the owner's own profile row, and the chats the owner is in (an
    // avatar is set by a member; a chat the owner has left may keep the id, and its view then
    // shows no avatar).
    const [use] = await db.all<{ kind: string }>(sql`
      SELECT 'profile' AS kind FROM ${users} WHERE ${users.id} = ${ownerId} AND ${users.avatarMediaId} = ${mediaId}
      UNION ALL
      SELECT 'chat' FROM ${chatMembers} JOIN ${chats} ON ${chats.id} = ${chatMembers.chatId}
        WHERE ${chatMembers.userId} = ${ownerId} AND ${chats.avatarMediaId} = ${mediaId}
      LIMIT 1`);
    if (use) {
      throw new AppError(409, "media_in_use", `This image is a ${use.kind} avatar; change or clear that avatar first`, {
        usedBy: use.kind,
      });
    }
  }
  if (item.purpose === "story") {
    // A live story shows it: delete the story instead (its media goes with it at the next sweep).
    const story = await db
      .select({ id: stories.id })
      .from(stories)
      .where(and(eq(stories.mediaId, mediaId), gt(stories.expiresAt, Date.now())))
      .get();
    if (story) throw new AppError(409, "media_in_use", "This file is shown by a live story; delete the story instead", { usedBy: "story" });
  }
  // Not attached now: only if no reference appeared meanwhile (checked inside the DELETE).
  const unreferenced = sql`NOT EXISTS (SELECT 1 FROM ${mediaRefs} WHERE ${mediaRefs.mediaId} = ${media.id}) AND ${media.attachedAt} IS NULL`;
  const removed = await removeMediaWhere(db, env, sql`${eq(media.id, mediaId)} AND ${unreferenced}`, 1);
  if (removed.items === 0) throw new AppError(409, "media_attached", "This item is attached to messages; it is deleted with them");
}

/**
 * The account-deletion hook (registered in src/app/wiring.ts): an erased account's avatars, story media and
 * unattached uploads go (R2 and D1). Attachments already sent stay readable by those chats'
 * members, like the messages they belong to, and go when those messages are deleted. Idempotent.
 */
export async function removeAccountMedia(env: Bindings, db: Database, userId: string): Promise<void> {
  const where = sql`${media.ownerId} = ${userId} AND ${media.attachedAt} IS NULL`;
  let removed = 0;
  for (;;) {
    const batch = await removeMediaWhere(db, env, where, 500);
    removed += batch.items;
    if (batch.items < 500) break;
  }
  if (removed) console.log(JSON.stringify({ level: "info", msg: "account media removed", userId, items: removed }));
}
