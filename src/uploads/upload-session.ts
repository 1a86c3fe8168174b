import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { type RpcResult, rpcResult } from "../lib/rpc-result";
import { type UploadRecord, UploadStore } from "./upload-store";

/**
 * Every R2 part but the last has exactly this size (R2 wants equal parts of at least 5 MiB). It
 * is also what a PATCH may hold in memory at once: memory stays bounded whatever the file size.
 */
export const PART_SIZE = 8 * 1024 * 1024;
/** How much of the file's start is kept to check its type. */
export const HEAD_BYTES = 4100;

/** What HEAD and every PATCH answer. */
export interface UploadStatus {
  offset: number;
  length: number;
  expiresAt: number;
  metadata: string;
  complete: boolean;
  /** The file's first bytes (up to HEAD_BYTES; all of them once the upload is past them). */
  head: Uint8Array;
}

export interface NewUpload {
  uploadId: string;
  ownerId: string;
  length: number;
  r2Key: string;
  metadata: string;
  expiresAt: number;
}

const notFound = () => new AppError(404, "not_found", "Upload not found");

/**
 * One per resumable (tus) upload. It owns the upload's offset and turns whatever chunk sizes a
 * client sends into R2 multipart parts of exactly PART_SIZE: bytes accumulate in memory during a
 * PATCH, every full part goes to R2 at once, and what is left when the PATCH ends (or its
 * connection drops) is kept in the object's SQLite as the tail. The offset it reports is what is
 * durable, so a client that resumes with HEAD + PATCH at that offset loses nothing, and a PATCH at
 * any other offset is refused (409) before a byte is read. One PATCH at a time (423 while one
 * runs). The Worker checks auth, quota and types; this object only handles bytes.
 */
export class UploadSession extends DurableObject<Bindings> {
  private store: UploadStore;
  private busy = false;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.store = new UploadStore(ctx.storage.sql);
  }

  /** Start the R2 multipart upload and record the declaration. */
  create(input: NewUpload): Promise<RpcResult<UploadStatus>> {
    return rpcResult(async () => {
      if (this.store.record()) throw new AppError(409, "conflict", "This upload exists already");
      if (input.length === 0) {
        // Nothing to assemble: an empty file is stored as it is and the upload is complete at once.
        await this.env.MEDIA.put(input.r2Key, new Uint8Array(0));
        this.store.create({ ...input, multipartId: "", createdAt: Date.now() });
        await this.markComplete(input.expiresAt);
      } else {
        const multipart = await this.env.MEDIA.createMultipartUpload(input.r2Key);
        this.store.create({ ...input, multipartId: multipart.uploadId, createdAt: Date.now() });
      }
      return this.status(this.store.record()!);
    });
  }

  /** The upload's state for its owner (404 for anyone else, and for no such upload). */
  inspect(ownerId: string): Promise<RpcResult<UploadStatus>> {
    return rpcResult(() => this.status(this.owned(ownerId)));
  }

  /**
   * Append `body` at `offset`. Refused unless `offset` is the current one (409) and no other
   * PATCH is running (423); bytes past the declared length are refused (413) after keeping what
   * fits. When the last byte arrives the multipart upload is completed.
   */
  append(ownerId: string, offset: number, body: ReadableStream<Uint8Array>): Promise<RpcResult<UploadStatus>> {
    return rpcResult(async () => {
      let upload: UploadRecord;
      try {
        upload = this.owned(ownerId);
        if (upload.complete) throw new AppError(409, "upload_complete", "This upload is complete");
        if (this.busy) throw new AppError(423, "upload_busy", "Another PATCH to this upload is in progress; retry shortly");
        const current = this.offset();
        if (offset !== current) {
          throw new AppError(409, "offset_mismatch", `Upload-Offset must be ${current}`, { offset: current });
        }
      } catch (err) {
        await body.cancel().catch(() => undefined);
        throw err;
      }
      this.busy = true;
      try {
        const tooLong = await this.receive(upload, body);
        if (this.offset() === upload.length) await this.finish(upload);
        if (tooLong) throw new AppError(413, "upload_too_long", `The upload is ${upload.length} bytes; the extra bytes were not kept`);
        return this.status(this.store.record()!);
      } finally {
        this.busy = false;
      }
    });
  }

  /** Abort the multipart upload and forget everything (termination, expiry). Returns the declared length, or null. */
  async terminate(): Promise<{ length: number; complete: boolean } | null> {
    const upload = this.store.record();
    if (!upload) return null;
    if (!upload.complete) {
      await this.env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.multipartId)
        .abort()
        .catch(() => undefined);
    }
    await this.ctx.storage.deleteAll();
    // deleteAll drops the tables too: start over empty, so later requests find no upload (404).
    this.store = new UploadStore(this.ctx.storage.sql);
    return { length: upload.length, complete: upload.complete };
  }

  // --- bytes ------------------------------------------------------------------------------

  /** Read the body into parts; keep the remainder as the tail. Returns whether the body ran past the length. */
  private async receive(upload: UploadRecord, body: ReadableStream<Uint8Array>): Promise<boolean> {
    const multipart = this.env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.multipartId);
    const stored = this.store.partsTotal();
    let nextPart = stored.count + 1;
    let offset = stored.bytes;
    // What is not yet in a part: the saved tail, then what this PATCH brings.
    let pending: Uint8Array[] = this.store.tail();
    let pendingBytes = pending.reduce((n, c) => n + c.byteLength, 0);
    // The head covers the file's first bytes that are durable (a crash may have left more).
    let head = upload.head.subarray(0, Math.min(upload.head.byteLength, offset + pendingBytes));
    const reader = body.getReader();
    let tooLong = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let chunk = value;
        const room = upload.length - offset - pendingBytes;
        if (chunk.byteLength > room) {
          chunk = chunk.subarray(0, room);
          tooLong = true;
        }
        if (head.byteLength < HEAD_BYTES) head = concat([head, chunk.subarray(0, HEAD_BYTES - head.byteLength)]);
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        while (pendingBytes >= PART_SIZE) {
          const [part, rest] = split(pending, PART_SIZE);
          const uploaded = await multipart.uploadPart(nextPart, concat(part));
          this.store.addPart(nextPart, uploaded.etag, PART_SIZE);
          nextPart += 1;
          offset += PART_SIZE;
          pending = rest;
          pendingBytes -= PART_SIZE;
        }
        if (tooLong) {
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
    } catch {
      // The connection dropped mid-PATCH: keep what arrived; the client resumes from HEAD.
    } finally {
      this.store.setTail(pending);
      this.store.setHead(head);
    }
    return tooLong;
  }

  /** The last byte arrived: the tail becomes the last part and R2 assembles the object. */
  private async finish(upload: UploadRecord): Promise<void> {
    const multipart = this.env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.multipartId);
    const tail = this.store.tail();
    const parts = this.store.parts();
    if (tail.length > 0 || parts.length === 0) {
      const partNumber = parts.length + 1;
      const uploaded = await multipart.uploadPart(partNumber, concat(tail));
      parts.push({ partNumber, etag: uploaded.etag });
    }
    await multipart.complete(parts);
    await this.markComplete(upload.expiresAt);
  }

  /**
   * Finished: HEAD keeps answering the final offset (for a client that lost the last response)
   * until the upload's expiry, when the alarm forgets it.
   */
  private async markComplete(expiresAt: number): Promise<void> {
    this.store.markComplete();
    await this.ctx.storage.setAlarm(expiresAt);
  }

  /** A finished upload's state is dropped at its expiry (unfinished ones are ended by the hourly job, which frees their quota). */
  override async alarm(): Promise<void> {
    if (!this.store.record()?.complete) return;
    await this.ctx.storage.deleteAll();
    this.store = new UploadStore(this.ctx.storage.sql);
  }

  // --- state ------------------------------------------------------------------------------

  private owned(ownerId: string): UploadRecord {
    const upload = this.store.record();
    if (!upload || upload.ownerId !== ownerId) throw notFound();
    if (!upload.complete && upload.expiresAt <= Date.now()) throw new AppError(410, "upload_expired", "This upload expired");
    return upload;
  }

  private offset(): number {
    const upload = this.store.record();
    if (upload?.complete) return upload.length;
    return this.store.partsTotal().bytes + this.store.tailBytes();
  }

  private status(upload: UploadRecord): UploadStatus {
    return {
      offset: this.offset(),
      length: upload.length,
      expiresAt: upload.expiresAt,
      metadata: upload.metadata,
      complete: upload.complete,
      head: upload.head,
    };
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The first `bytes` of `chunks`, and the rest. */
function split(chunks: Uint8Array[], bytes: number): [Uint8Array[], Uint8Array[]] {
  const first: Uint8Array[] = [];
  let need = bytes;
  let i = 0;
  for (; i < chunks.length && need > 0; i++) {
    const c = chunks[i]!;
    if (c.byteLength <= need) {
      first.push(c);
      need -= c.byteLength;
    } else {
      first.push(c.subarray(0, need));
      return [first, [c.subarray(need), ...chunks.slice(i + 1)]];
    }
  }
  return [first, chunks.slice(i)];
}
