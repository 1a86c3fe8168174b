import { z } from "@hono/zod-openapi";
import { eq, lte, sql } from "drizzle-orm";
import type { Database as Db } from "../../db/client";
import { media, uploads } from "../../db/schema";
import type { Bindings } from "../../env";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { unwrap } from "../../lib/rpc-result";
import { DAY } from "../../lib/time";
import { parseOrThrow } from "../../lib/validate";
import { concat } from "../../uploads/chunks";
import { uploadSession } from "../../uploads/client";
import { HEAD_BYTES, type UploadStatus } from "../../uploads/upload-session";
import { checkUploadChat, stageInChat, UploadChatId } from "../chat-uploads";
import {
  checkLeadingBytes,
  checkUploadAllowed,
  MEDIA_PURPOSES,
  type MediaPurpose,
  mediaKey,
  RESUMABLE_UPLOAD_MAX_BYTES,
  releaseStorage,
  reserveStorage,
  sanitizeFileName,
} from "../items";
import { parseUploadMetadata } from "./protocol";

/** Unfinished uploads expire this long after creation (tus `expiration`). */
export const UPLOAD_TTL_MS = DAY;

/** What `Upload-Metadata` declares, checked against the purpose's rules. */
export interface DeclaredUpload {
  purpose: MediaPurpose;
  mimeType: string;
  fileName: string | null;
  /** The chat an attachment is for (`chatId`), if named. */
  chatId: string | undefined;
}

/** Read and check what an upload declares: `purpose` (default attachment), `filetype`, `filename`, `chatId`. */
export function declaredUpload(metadataHeader: string | undefined, length: number): DeclaredUpload {
  const meta = parseUploadMetadata(metadataHeader);
  const purpose = (meta.purpose ?? "attachment") as MediaPurpose;
  if (!MEDIA_PURPOSES.includes(purpose)) {
    throw new AppError(400, "validation_failed", `Upload-Metadata purpose must be one of ${MEDIA_PURPOSES.join(", ")}`, [
      { path: "headers.upload-metadata", code: "invalid_enum_value", message: "purpose is not a media purpose" },
    ]);
  }
  const mimeType = checkUploadAllowed(purpose, meta.filetype || "application/octet-stream", length, RESUMABLE_UPLOAD_MAX_BYTES);
  const { chatId } = parseOrThrow(z.object({ chatId: UploadChatId.optional() }), { chatId: meta.chatId }, "headers.upload-metadata");
  return { purpose, mimeType, fileName: sanitizeFileName(meta.filename), chatId };
}

/**
 * Create an upload: check the declaration, reserve its full length against the quota, index it
 * in D1 for the hourly sweep, and start its Durable Object (which starts the R2 multipart upload).
 * The upload id becomes the media item's id.
 */
export async function createUpload(db: Db, env: Bindings, ownerId: string, length: number, metadata: string | undefined) {
  const declared = declaredUpload(metadata, length);
  // An empty file can be no image, video, audio or PDF: refused before anything is stored.
  if (length === 0) await checkLeadingBytes(declared.mimeType, new Uint8Array(0));
  await checkUploadChat(db, ownerId, declared.purpose, declared.chatId);
  const id = newId();
  const createdAt = Date.now();
  const expiresAt = createdAt + UPLOAD_TTL_MS;
  await reserveStorage(db, env, ownerId, length);
  try {
    await db.insert(uploads).values({ id, ownerId, purpose: declared.purpose, length, createdAt, expiresAt });
  } catch (err) {
    await releaseStorage(db, ownerId, length);
    throw err;
  }
  try {
    const status = unwrap(
      await uploadSession(env, id).create({ uploadId: id, ownerId, length, r2Key: mediaKey(id), metadata: metadata ?? "", expiresAt }),
    );
    if (status.complete) await finishUpload(db, env, id, ownerId, status);
    return { id, status };
  } catch (err) {
    await endUpload(db, env, id, ownerId);
    throw err;
  }
}

/**
 * Append a PATCH body at `offset`. While the file's first bytes are not all in, they are read
 * here first and checked against the declared type (a mismatch ends the upload: 415, nothing
 * kept, the rest of the body never read); when the last byte is in, the file becomes a media item.
 */
export async function appendToUpload(
  db: Db,
  env: Bindings,
  id: string,
  ownerId: string,
  offset: number,
  body: ReadableStream<Uint8Array>,
): Promise<UploadStatus> {
  const checked = offset < HEAD_BYTES ? await checkedBody(db, env, id, ownerId, offset, body) : body;
  const status = unwrap(await uploadSession(env, id).append(ownerId, offset, checked));
  await checkHead(db, env, id, ownerId, status);
  if (status.complete) await finishUpload(db, env, id, ownerId, status);
  return status;
}

/**
 * The body, with the bytes that complete the file's head read ahead and checked: the same bytes
 * are then passed on first. Anything the upload's object would refuse (a wrong offset, a finished
 * upload) is passed through untouched for it to answer.
 */
async function checkedBody(db: Db, env: Bindings, id: string, ownerId: string, offset: number, body: ReadableStream<Uint8Array>) {
  const before = unwrap(await uploadSession(env, id).inspect(ownerId));
  if (before.complete || before.offset !== offset) return body;
  const need = Math.min(HEAD_BYTES, before.length) - offset;
  const reader = body.getReader();
  const ahead: Uint8Array[] = [];
  let got = 0;
  while (got < need) {
    const read = await reader.read().catch(() => ({ done: true as const, value: undefined }));
    if (read.done) break;
    ahead.push(read.value);
    got += read.value.byteLength;
  }
  if (got >= need) {
    const { mimeType } = declaredUpload(before.metadata, before.length);
    try {
      await checkLeadingBytes(mimeType, concat([before.head.subarray(0, offset), ...ahead]).subarray(0, HEAD_BYTES));
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      await endUpload(db, env, id, ownerId);
      throw err;
    }
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = ahead.shift();
      if (next) return controller.enqueue(next);
      try {
        const read = await reader.read();
        if (read.done) controller.close();
        else controller.enqueue(read.value);
      } catch (err) {
        controller.error(err);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** HEAD: the upload's offset for its owner; a finished upload whose media item is missing (a lost response) is finished again. */
export async function inspectUpload(db: Db, env: Bindings, id: string, ownerId: string): Promise<UploadStatus> {
  const status = unwrap(await uploadSession(env, id).inspect(ownerId));
  if (status.complete) await finishUpload(db, env, id, ownerId, status);
  return status;
}

/**
 * Termination: abort the multipart upload, free the reserved bytes and forget the upload. A
 * finished upload is already a media item, which stays (delete it with `DELETE /media/:id`).
 */
export async function terminateUpload(db: Db, env: Bindings, id: string, ownerId: string): Promise<void> {
  unwrap(await uploadSession(env, id).inspect(ownerId));
  await endUpload(db, env, id, ownerId);
}

/**
 * Forget an upload: claim its row in the D1 index (whoever deletes it owns the outcome), end its
 * object (aborting an unfinished multipart upload), delete its bytes and free its reservation.
 * An upload that already became a media item has no index row: nothing is touched. Returns the
 * bytes freed.
 */
async function endUpload(db: Db, env: Bindings, id: string, ownerId: string): Promise<number> {
  const claimed = await db.delete(uploads).where(eq(uploads.id, id)).returning({ length: uploads.length });
  await uploadSession(env, id).terminate();
  if (claimed.length === 0) return 0;
  await env.MEDIA.delete(mediaKey(id));
  await releaseStorage(db, ownerId, claimed[0]!.length);
  return claimed[0]!.length;
}

/** The declared type must match the file's first bytes, as soon as they are in. */
async function checkHead(db: Db, env: Bindings, id: string, ownerId: string, status: UploadStatus): Promise<void> {
  if (status.head.byteLength < Math.min(HEAD_BYTES, status.length)) return;
  const { mimeType } = declaredUpload(status.metadata, status.length);
  try {
    await checkLeadingBytes(mimeType, status.head);
  } catch (err) {
    await endUpload(db, env, id, ownerId);
    throw err;
  }
}

/**
 * The finished file becomes a media item, once. Its type is checked against its first bytes
 * (whatever path finished it: the last PATCH, a HEAD, an empty file), its hash computed, and
 * then one D1 transaction inserts the item only while the upload is still indexed and removes the
 * index row: the reservation passes to the item. A termination or sweep that claimed the row
 * first wins (no item); a second finish finds no row and does nothing.
 */
async function finishUpload(db: Db, env: Bindings, id: string, ownerId: string, status: UploadStatus): Promise<void> {
  const pending = await db.select({ id: uploads.id }).from(uploads).where(eq(uploads.id, id)).get();
  if (!pending) return;
  const declared = declaredUpload(status.metadata, status.length);
  try {
    await checkLeadingBytes(declared.mimeType, status.head);
  } catch (err) {
    await endUpload(db, env, id, ownerId);
    throw err;
  }
  const sha256 = await sha256OfObject(env, mediaKey(id));
  const fromIndex = db
    .select({
      id: uploads.id,
      ownerId: uploads.ownerId,
      purpose: uploads.purpose,
      mimeType: sql<string>`${declared.mimeType}`.as("mime_type"),
      size: uploads.length,
      sha256: sql<string>`${sha256}`.as("sha256"),
      fileName: sql<string | null>`${declared.fileName}`.as("file_name"),
      r2Key: sql<string>`${mediaKey(id)}`.as("r2_key"),
      createdAt: sql<number>`${Date.now()}`.as("created_at"),
      attachedAt: sql<number | null>`NULL`.as("attached_at"),
      chatId: sql<string | null>`${declared.chatId ?? null}`.as("chat_id"),
    })
    .from(uploads)
    .where(eq(uploads.id, id));
  const [inserted] = await db.batch([db.insert(media).select(fromIndex), db.delete(uploads).where(eq(uploads.id, id))]);
  if (inserted.meta.changes > 0) {
    await stageInChat(env, {
      id,
      ownerId,
      chatId: declared.chatId ?? null,
      mimeType: declared.mimeType,
      size: status.length,
      fileName: declared.fileName,
    });
  }
}

/** Hex SHA-256 of an R2 object, streamed through the runtime's digest (the file is never in memory whole). */
async function sha256OfObject(env: Bindings, key: string): Promise<string> {
  const object = await env.MEDIA.get(key);
  if (!object) throw new AppError(409, "upload_incomplete", "The uploaded file is not in storage; retry the last PATCH");
  const digest = new crypto.DigestStream("SHA-256");
  await object.body.pipeTo(digest);
  return [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The hourly job: end uploads past their expiry, oldest first, at most `limit` a run: abort them in
 * R2 and free their reserved bytes. (A finished upload left the index when it became a media item;
 * its object cleans up its own state at the expiry, see UploadSession.alarm.)
 */
export async function sweepExpiredUploads(env: Bindings, db: Db, at: number, limit = 200) {
  const expired = await db
    .select({ id: uploads.id, ownerId: uploads.ownerId })
    .from(uploads)
    .where(lte(uploads.expiresAt, at))
    .orderBy(uploads.expiresAt)
    .limit(limit);
  let releasedBytes = 0;
  for (const upload of expired) releasedBytes += await endUpload(db, env, upload.id, upload.ownerId);
  return { uploadsAborted: expired.length, uploadBytesReleased: releasedBytes };
}
