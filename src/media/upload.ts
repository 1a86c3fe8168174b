import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { media, uploads } from "../db/schema";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { DAY, now } from "../lib/time";
import { checkUploadChat, stageInChat } from "./chat-uploads";
import {
  checkLeadingBytes,
  checkUploadAllowed,
  type MediaPurpose,
  type MediaView,
  mediaKey,
  mediaView,
  releaseStorage,
  reserveStorage,
  SMALL_UPLOAD_MAX_BYTES,
  sanitizeFileName,
} from "./items";

/**
 * One-request uploads (POST /media): the body streams into R2 and is never held whole. On its way
 * it is counted, hashed (SHA-256, crypto.DigestStream) and its first bytes are checked against
 * the declared type before any byte reaches R2. The quota is reserved before the first byte is
 * read, and the reservation is recorded as a row of the `uploads` index (like a tus upload's):
 * the item replaces that row in one D1 transaction, any failure deletes the object and gives the
 * reservation back, and should the Worker be cut off mid-way (the client went away) the hourly
 * job ends the row a day later, so no reservation is ever lost.
 */

/** Bytes file-type needs to tell nearly every format (its own reasonableDetectionSizeInBytes). */
const HEAD_BYTES = 4100;

export interface SmallUpload {
  ownerId: string;
  purpose: MediaPurpose;
  /** The chat an attachment is uploaded for (its room is told once it is stored), if named. */
  chatId?: string;
  contentType: string | undefined;
  /** The X-File-Name header (percent-encoded UTF-8, or plain ASCII). */
  fileNameHeader: string | undefined;
  /** The Content-Length header. */
  contentLength: string | undefined;
  body: ReadableStream<Uint8Array> | null;
}

/** Content-Length as a byte count: `411 length_required` when absent, `400` when not a number. */
function declaredLength(header: string | undefined): number {
  if (header === undefined) throw new AppError(411, "length_required", "Send Content-Length: uploads stream to storage at a known size");
  if (!/^\d{1,16}$/.test(header)) throw new AppError(400, "invalid_content_length", "Content-Length must be a byte count");
  const length = Number(header);
  if (length === 0) throw new AppError(400, "empty_body", "The upload is empty");
  return length;
}

/** X-File-Name decoded from percent-encoding (as encodeURIComponent makes it) and sanitized. */
function fileNameFrom(header: string | undefined): string | null {
  if (!header) return null;
  try {
    return sanitizeFileName(decodeURIComponent(header));
  } catch {
    return sanitizeFileName(header);
  }
}

/**
 * Copy the body into R2's writer: the first HEAD_BYTES are held back until they pass
 * checkLeadingBytes, every chunk feeds the SHA-256 digest, and a body longer or shorter than
 * declared is refused. A plain read loop rather than pipeThrough, so a refusal cancels the body
 * and aborts the writer here, with no stream promise left behind.
 */
async function copyInspected(
  body: ReadableStream<Uint8Array>,
  openSink: () => WritableStreamDefaultWriter<Uint8Array>,
  digest: WritableStreamDefaultWriter<Uint8Array>,
  mime: string,
  length: number,
): Promise<void> {
  const reader = body.getReader();
  let head: Uint8Array | null = new Uint8Array(0);
  let seen = 0;
  let sink: WritableStreamDefaultWriter<Uint8Array> | null = null;
  // Storage opens only once the leading bytes passed: a refused body never reaches R2.
  const releaseHead = async () => {
    const bytes = head!;
    head = null;
    await checkLeadingBytes(mime, bytes.subarray(0, HEAD_BYTES));
    sink = openSink();
    await sink.write(bytes);
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.byteLength;
      if (seen > length) throw new AppError(400, "length_mismatch", "The body is longer than its Content-Length");
      await digest.write(value);
      if (head === null) {
        await sink!.write(value);
        continue;
      }
      const joined: Uint8Array = new Uint8Array(head.byteLength + value.byteLength);
      joined.set(head);
      joined.set(value, head.byteLength);
      head = joined;
      if (head.byteLength >= HEAD_BYTES) await releaseHead();
    }
    if (seen !== length)
      throw new AppError(400, "length_mismatch", "The body is shorter than its Content-Length", { received: seen, expected: length });
    if (head !== null) await releaseHead();
    await sink!.close();
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    await (sink as WritableStreamDefaultWriter<Uint8Array> | null)?.abort(err).catch(() => undefined);
    throw err;
  }
}

const toHex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Store a one-request upload and return the owner's view of the new item (see the file comment). */
export async function storeSmallUpload(db: Database, env: Bindings, upload: SmallUpload): Promise<MediaView> {
  const length = declaredLength(upload.contentLength);
  const mimeType = checkUploadAllowed(upload.purpose, upload.contentType, length, SMALL_UPLOAD_MAX_BYTES);
  if (!upload.body) throw new AppError(400, "empty_body", "The upload is empty");
  const fileName = fileNameFrom(upload.fileNameHeader);
  await checkUploadChat(db, upload.ownerId, upload.purpose, upload.chatId);
  await reserveStorage(db, env, upload.ownerId, length);
  const id = newId();
  const key = mediaKey(id);
  const createdAt = now();
  try {
    await db
      .insert(uploads)
      .values({ id, ownerId: upload.ownerId, purpose: upload.purpose, length, createdAt, expiresAt: createdAt + DAY });
  } catch (err) {
    await releaseStorage(db, upload.ownerId, length);
    throw err;
  }
  const digest = new crypto.DigestStream("SHA-256");
  const digestWriter = digest.getWriter();
  let storing: Promise<unknown> = Promise.resolve();
  const openSink = () => {
    // R2 needs the length of a streamed body up front: FixedLengthStream carries it (and errors
    // if the bytes do not add up to it).
    const sized = new FixedLengthStream(length);
    storing = env.MEDIA.put(key, sized.readable, { httpMetadata: { contentType: mimeType }, customMetadata: { ownerId: upload.ownerId } });
    storing.catch(() => undefined); // handled below; never an unhandled rejection meanwhile
    return sized.writable.getWriter();
  };
  try {
    try {
      await copyInspected(upload.body, openSink, digestWriter, mimeType, length);
    } finally {
      // Settle the put either way; after a refusal its own error is not the reason.
      await Promise.resolve(storing).catch(() => undefined);
    }
    await storing;
    await digestWriter.close();
    const sha256 = toHex(await digest.digest);
    const chatId = upload.chatId ?? null;
    const row = {
      id,
      ownerId: upload.ownerId,
      purpose: upload.purpose,
      mimeType,
      size: length,
      sha256,
      fileName,
      r2Key: key,
      createdAt,
      chatId,
    };
    const [[item]] = await db.batch([db.insert(media).values(row).returning(), db.delete(uploads).where(eq(uploads.id, id))]);
    await stageInChat(env, item!);
    return await mediaView(env, item!, upload.ownerId);
  } catch (err) {
    await env.MEDIA.delete(key).catch(() => undefined);
    const claimed = await db.delete(uploads).where(eq(uploads.id, id)).returning({ id: uploads.id });
    if (claimed.length > 0) await releaseStorage(db, upload.ownerId, length);
    if (err instanceof AppError) throw err;
    // A body that broke off mid-way (the client went away).
    throw new AppError(400, "upload_incomplete", "The upload did not complete");
  }
}
