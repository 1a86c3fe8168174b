import { z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, type MediaRow } from "../db/schema";
import type { Bindings } from "../env";
import { AppError, notFound } from "../lib/errors";
import { chatRoom } from "../rooms/client";
import type { MediaPurpose } from "./items";

/**
 * Uploads for a chat. An attachment upload may name the chat it is for (`?chatId=` on POST
 * /media, `chatId` in a tus upload's Upload-Metadata). The uploader must be a member (else 404,
 * as on every chat route). When the upload finishes, the chat's room is told what the item is
 * and whose, so sending it there is checked by the room itself, with no D1 round trip before
 * the message is stored. Naming a chat grants nobody anything: its members read the item only
 * once a message carries it.
 */

/** A chat id as the chat routes take it. */
export const UploadChatId = z.uuid();

/** Check a named chat before any byte is stored: attachments only (400), and the uploader must be a member (404). */
export async function checkUploadChat(db: Database, ownerId: string, purpose: MediaPurpose, chatId: string | undefined): Promise<void> {
  if (chatId === undefined) return;
  if (purpose !== "attachment") {
    const message = "Only attachments are uploaded for a chat";
    throw new AppError(400, "validation_failed", message, [{ path: "chatId", code: "invalid", message }]);
  }
  const [member] = await db
    .select({ one: sql<number>`1` })
    .from(chatMembers)
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, ownerId)))
    .limit(1);
  if (!member) throw notFound("Chat");
}

type StagedItem = Pick<MediaRow, "id" | "ownerId" | "chatId" | "mimeType" | "size" | "fileName">;

/**
 * Tell the chat a finished item was uploaded for. A failure (the uploader left the chat
 * meanwhile, the room unreachable) costs only the fast path, since a send then checks the item
 * in D1: it is logged, not thrown.
 */
export async function stageInChat(env: Bindings, item: StagedItem): Promise<void> {
  if (!item.chatId) return;
  try {
    await chatRoom(env, item.chatId).stageAttachment(item.ownerId, {
      mediaId: item.id,
      mimeType: item.mimeType,
      size: item.size,
      fileName: item.fileName,
    });
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "staging an upload in its chat failed", mediaId: item.id, error: String(err) }));
  }
}

/**
 * An item uploaded for a chat is being deleted: its room forgets it (a send naming it from now on
 * is checked in D1). Answers whether a message there already carries it, its references not yet
 * in D1 (the deletion is then refused like any attached item's).
 */
export async function unstageFromChat(env: Bindings, item: Pick<MediaRow, "id" | "chatId">): Promise<boolean> {
  return item.chatId ? chatRoom(env, item.chatId).unstageAttachment(item.id) : false;
}

/**
 * Whether `viewerId` may read an attachment through a message of the chat it was uploaded for
 * whose references are still on their way to D1 (the moments after the send). Asked only when
 * D1 found no reference.
 */
export async function readableThroughPendingSend(env: Bindings, item: Pick<MediaRow, "id" | "chatId">, viewerId: string): Promise<boolean> {
  if (!item.chatId) return false;
  return chatRoom(env, item.chatId).canReadPendingAttachment(viewerId, item.id);
}
