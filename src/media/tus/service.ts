import { eq, lte } from "drizzle-orm";
import type { Database as Db } from "../../db/client";
import { uploads } from "../../db/schema";
import type { Bindings } from "../../env";
import { isUniqueViolation } from "../../lib/db-errors";
import { AppError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { unwrap } from "../../lib/rpc-result";
import { DAY } from "../../lib/time";
import { uploadSession } from "../../uploads/client";
import { HEAD_BYTES, type UploadStatus } from "../../uploads/upload-session";
import {
  checkLeadingBytes,
  checkUploadAllowed,
  createMediaItem,
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
}

/** Read and check what an upload declares: `purpose` (default attachment), `filetype`, `filename`. */
export function declaredUpload(metadataHeader: string | undefined, length: number): DeclaredUpload {
  const meta = parseUploadMetadata(metadataHeader);
  const purpose = (meta.purpose ?? "attachment") as MediaPurpose;
  if (!MEDIA_PURPOSES.includes(purpose)) {
    throw new AppError(400, "validation_failed", `Upload-Metadata purpose must be one of ${MEDIA_PURPOSES.join(", ")}`, [
      { path: "headers.upload-metadata", code: "invalid_enum_value", message: "purpose is not a media purpose" },
    ]);
  }
  const mimeType = checkUploadAllowed(purpose, meta.filetype || "application/octet-stream", length, RESUMABLE_UPLOAD_MAX_BYTES);
  return { purpose, mimeType, fileName: sanitizeFileName(meta.filename) };
}

/**
 * Create an upload: check the declaration, reserve its full length against the quota, index it
 * in D1 for the hourly sweep, and start its Durable Object (which starts the R2 multipart upload).
 * The upload id becomes the media item's id.
 */
export async function createUpload(db: Db, env: Bindings, ownerId: string, length: number, metadata: string | undefined) {
  const declared = declaredUpload(metadata, length);
  const id = newId();
  const createdAt = Date.now();
  const expiresAt = createdAt + UPLOAD_TTL_MS;
  await reserveStorage(db, env, ownerId, length);
  try {
    await db.insert(uploads).values({ id, ownerId, purpose: declared.purpose, length, createdAt, expiresAt });
    const status = unwrap(
      await uploadSession(env, id).create({ uploadId: id, ownerId, length, r2Key: mediaKey(id), metadata: metadata ?? "", expiresAt }),
    );
    if (status.complete) await finishUpload(db, env, id, ownerId, status);
    return { id, status };
  } catch (err) {
    await db.delete(uploads).where(eq(uploads.id, id));
    await releaseStorage(db, ownerId, length);
    throw err;
  }
}

/**
 * Append a PATCH body at `offset`. Once the file's first bytes are in, its type is checked (a
 * mismatch ends the upload: 415 and nothing kept); when the last byte is in, it becomes a media item.
 */
export async function appendToUpload(
  db: Db,
  env: Bindings,
  id: string,
  ownerId: string,
  offset: number,
  body: ReadableStream<Uint8Array>,
): Promise<UploadStatus> {
  const status = unwrap(await uploadSession(env, id).append(ownerId, offset, body));
  await checkHead(db, env, id, ownerId, status);
  if (status.complete) await finishUpload(db, env, id, ownerId, status);
  return status;
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
 * Forget an upload. An upload still in the D1 index holds its reservation: its bytes (whole or
 * partial) are deleted and the reservation freed. One that already became a media item keeps it.
 * Returns the bytes freed.
 */
async function endUpload(db: Db, env: Bindings, id: string, ownerId: string): Promise<number> {
  const ended = await uploadSession(env, id).terminate();
  const indexed = await db.delete(uploads).where(eq(uploads.id, id)).returning({ length: uploads.length });
  if (indexed.length === 0) return 0;
  if (ended?.complete) await env.MEDIA.delete(mediaKey(id));
  await releaseStorage(db, ownerId, indexed[0]!.length);
  return indexed[0]!.length;
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
 * The finished file becomes a media item, once: the upload leaves the D1 index in the same step,
 * so its reservation now belongs to the item (and a HEAD after the item was deleted finds nothing
 * to redo). A second call, or one racing it, finds the index row gone or the item there.
 */
async function finishUpload(db: Db, env: Bindings, id: string, ownerId: string, status: UploadStatus): Promise<void> {
  const pending = await db.select({ id: uploads.id }).from(uploads).where(eq(uploads.id, id)).get();
  if (!pending) return;
  const declared = declaredUpload(status.metadata, status.length);
  const sha256 = await sha256OfObject(env, mediaKey(id));
  try {
    await createMediaItem(db, env, { id, ownerId, ...declared, size: status.length, sha256 });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  await db.delete(uploads).where(eq(uploads.id, id));
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
