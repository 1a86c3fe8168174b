import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, type MediaRow, media, mediaRefs } from "../db/schema";
import type { Bindings } from "../env";
import { AppError, notFound } from "../lib/errors";
import { readableThroughPendingSend } from "./chat-uploads";
import type { MediaPurpose } from "./items";

/**
 * Who may read a media item. The owner always; any signed-in user an avatar; the members of a
 * chat where a message references an attachment (membership is the chat_members row, so removed
 * and banned members lose access with it); story media whoever the stories module says. Everyone
 * else gets 404, never a hint that the item exists.
 */

/** Decides whether `viewerId` may read the item (registered by modules above media, e.g. stories). */
export type MediaReadCheck = (db: Database, mediaId: string, viewerId: string) => Promise<boolean>;

const readers = new Map<MediaPurpose, MediaReadCheck[]>();

/**
 * Let a module above media grant reading items of `purpose` (stories: the story's audience).
 * Registered where the app is assembled (src/app/wiring.ts), so media never imports that module.
 */
export function registerMediaReader(purpose: MediaPurpose, check: MediaReadCheck): void {
  readers.set(purpose, [...(readers.get(purpose) ?? []), check]);
}

/** Whether a member of some chat where a message references the item (one indexed join). */
async function readableThroughChat(db: Database, mediaId: string, viewerId: string): Promise<boolean> {
  const [row] = await db
    .select({ one: sql<number>`1` })
    .from(mediaRefs)
    .innerJoin(chatMembers, and(eq(chatMembers.chatId, mediaRefs.chatId), eq(chatMembers.userId, viewerId)))
    .where(eq(mediaRefs.mediaId, mediaId))
    .limit(1);
  return !!row;
}

/** Whether `viewerId` (a signed-in user) may read `item`. */
export async function canReadMedia(
  env: Bindings,
  db: Database,
  item: Pick<MediaRow, "id" | "ownerId" | "purpose" | "chatId">,
  viewerId: string,
): Promise<boolean> {
  if (item.ownerId === viewerId || item.purpose === "avatar") return true;
  if (item.purpose === "attachment") {
    if (await readableThroughChat(db, item.id, viewerId)) return true;
    // Sent a moment ago with its references still on their way to D1: the room knows.
    if (await readableThroughPendingSend(env, item, viewerId)) return true;
  }
  for (const check of readers.get(item.purpose) ?? []) {
    if (await check(db, item.id, viewerId)) return true;
  }
  return false;
}

/** The item if it exists and `viewerId` may read it, else `404 not_found`. */
export async function requireReadableMedia(env: Bindings, db: Database, mediaId: string, viewerId: string): Promise<MediaRow> {
  const [item] = await db.select().from(media).where(eq(media.id, mediaId)).limit(1);
  if (!item || !(await canReadMedia(env, db, item, viewerId))) throw notFound("Media");
  return item;
}

/** The item if `ownerId` uploaded it, else `404 not_found` (readers who are not the owner included). */
export async function requireOwnMedia(db: Database, mediaId: string, ownerId: string): Promise<MediaRow> {
  const [item] = await db
    .select()
    .from(media)
    .where(and(eq(media.id, mediaId), eq(media.ownerId, ownerId)))
    .limit(1);
  if (!item) throw notFound("Media");
  return item;
}

/**
 * Check an `avatarMediaId` a profile or chat is about to point at: it must be an item the caller
 * uploaded with purpose `avatar`. Anything else (someone else's, an attachment, no such item) is
 * `422 invalid_avatar`, so a profile can only show an image that is really readable as an avatar.
 */
export async function requireOwnAvatar(db: Database, mediaId: string, ownerId: string): Promise<void> {
  const [item] = await db
    .select({ purpose: media.purpose })
    .from(media)
    .where(and(eq(media.id, mediaId), eq(media.ownerId, ownerId)))
    .limit(1);
  if (item?.purpose !== "avatar") {
    throw new AppError(422, "invalid_avatar", "avatarMediaId must be an image you uploaded with purpose=avatar", { mediaId });
  }
}
