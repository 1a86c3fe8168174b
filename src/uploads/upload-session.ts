import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { type RpcResult, rpcResult } from "../lib/rpc-result";
import { concat, split } from "./chunks";
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
 * any other offset is refused (409) before a byte is read. One PATCH at a time: a new one (or a
 * termination) first ends the one in progress, keeping what it brought, as a client that lost its
 * connection would want. The Worker checks auth, quota and types; this object only handles bytes.
 */
export class UploadSession extends DurableObject<Bindings> {
  private store: UploadStore;
  /** The PATCH being received: a newer request for this upload ends it first (see takeOver). */
  private active: { reader: ReadableStreamDefaultReader<Uint8Array>; done: Promise<unknown> } | null = null;

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
    return rpcResult(async () => {
      const upload = this.owned(ownerId);
      // Every byte is in but R2 did not assemble them (it failed last time): try again now.
      if (!upload.complete && this.offset() === upload.length) await this.finish(upload);
      return this.status(this.store.record()!);
    });
  }

  /**
   * Append `body` at `offset`. A PATCH still running for this upload (a connection the client
   * gave up on, e.g. after switching networks) is ended first, keeping what it brought; then
   * `offset` must be the current one (409). Bytes past the declared length are refused (413)
   * after keeping what fits. When the last byte arrives the multipart upload is completed.
   */
  append(ownerId: string, offset: number, body: ReadableStream<Uint8Array>): Promise<RpcResult<UploadStatus>> {
    return rpcResult(async () => {
      let upload: UploadRecord;
      try {
        this.owned(ownerId);
        await this.takeOver();
        upload = this.owned(ownerId);
        if (upload.complete) throw new AppError(409, "upload_complete", "This upload is complete");
        const current = this.offset();
        if (offset !== current) {
          throw new AppError(409, "offset_mismatch", `Upload-Offset must be ${current}`, { offset: current });
        }
      } catch (err) {
        await body.cancel().catch(() => undefined);
        throw err;
      }
      const reader = body.getReader();
      const receiving = this.receive(upload, reader);
      const active = { reader, done: receiving.catch(() => undefined) };
      this.active = active;
      try {
        const tooLong = await receiving;
        if (this.offset() === upload.length) await this.finish(upload);
        if (tooLong) throw new AppError(413, "upload_too_long", `The upload is ${upload.length} bytes; the extra bytes were not kept`);
        return this.status(this.store.record()!);
      } finally {
        if (this.active === active) this.active = null;
      }
    });
  }

  /**
   * Abort the multipart upload and forget everything (termination, expiry), after ending a PATCH
   * in progress. Returns the declared length, or null when there is no upload.
   */
  async terminate(): Promise<{ length: number; complete: boolean } | null> {
    await this.takeOver();
    const upload = this.store.record();
    if (!upload) return null;
    if (!upload.complete) {
      await this.env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.multipartId)
        .abort()
        .catch(() => undefined);
    }
    await this.forget();
    return { length: upload.length, complete: upload.complete };
  }

  /** End the PATCH in progress, if any, and wait until what it received is stored. */
  private async takeOver(): Promise<void> {
    const active = this.active;
    if (!active) return;
    await active.reader.cancel().catch(() => undefined);
    await active.done;
  }

  /** Drop every row (the tables too): later requests find no upload (404), and an idle object stores nothing. */
  private async forget(): Promise<void> {
    await this.ctx.storage.deleteAll();
    this.store = new UploadStore(this.ctx.storage.sql);
  }

  // --- bytes ------------------------------------------------------------------------------

  /**
   * Read the body into parts; keep the remainder as the tail. Returns whether the body ran past
   * the length. A body that breaks off (the connection dropped, or a newer PATCH took over) keeps
   * what arrived; R2 refusing a part is `503 storage_unavailable` (the bytes stay in the tail).
   */
  private async receive(upload: UploadRecord, reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
    const multipart = this.env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.multipartId);
    const stored = this.store.partsTotal();
    let nextPart = stored.count + 1;
    let offset = stored.bytes;
    // What is not yet in a part: the saved tail, then what this PATCH brings.
    let pending: Uint8Array[] = this.store.tail();
    let pendingBytes = pending.reduce((n, c) => n + c.byteLength, 0);
    // Until a part is cut, the stored tail stays as it is and only this PATCH's bytes are added.
    let storedChunks: number | null = pending.length;
    // The head covers the file's first bytes that are durable (a crash may have left more).
    let head = upload.head.subarray(0, Math.min(upload.head.byteLength, offset + pendingBytes));
    let tooLong = false;
    const storeFullParts = async () => {
      while (pendingBytes >= PART_SIZE) {
        const [part, rest] = split(pending, PART_SIZE);
        let etag: string;
        try {
          etag = (await multipart.uploadPart(nextPart, concat(part))).etag;
        } catch (err) {
          console.error(JSON.stringify({ level: "error", msg: "R2 part upload failed", part: nextPart, error: String(err) }));
          throw new AppError(503, "storage_unavailable", "Storage refused a part; HEAD and retry from Upload-Offset");
        }
        this.store.addPart(nextPart, etag, PART_SIZE);
        storedChunks = null;
        nextPart += 1;
        offset += PART_SIZE;
        pending = rest;
        pendingBytes -= PART_SIZE;
      }
    };
    try {
      await storeFullParts();
      for (;;) {
        let read: ReadableStreamReadResult<Uint8Array>;
        try {
          read = await reader.read();
        } catch {
          break; // the connection dropped mid-PATCH: keep what arrived; the client resumes from HEAD
        }
        if (read.done) break;
        let chunk = read.value;
        const room = upload.length - offset - pendingBytes;
        if (chunk.byteLength > room) {
          chunk = chunk.subarray(0, room);
          tooLong = true;
        }
        if (head.byteLength < HEAD_BYTES) head = concat([head, chunk.subarray(0, HEAD_BYTES - head.byteLength)]);
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        await storeFullParts();
        if (tooLong) {
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
    } finally {
      // Only while the upload exists: a termination may have forgotten it meanwhile.
      if (this.store.record()) {
        if (storedChunks === null) this.store.setTail(pending);
        else this.store.appendTail(pending.slice(storedChunks));
        this.store.setHead(head);
      }
    }
    return tooLong;
  }

  /** The last byte arrived: the tail becomes the last part and R2 assembles the object. */
  private async finish(upload: UploadRecord): Promise<void> {
    const multipart = this.env.MEDIA.resumeMultipartUpload(upload.r2Key, upload.multipartId);
    let tail = this.store.tail();
    const parts = this.store.parts();
    // The tail is under a part's size, unless parts failed to upload before: cut it to size.
    while (tail.length > 0 || parts.length === 0) {
      const [part, rest] = split(tail, PART_SIZE);
      const partNumber = parts.length + 1;
      const uploaded = await multipart.uploadPart(partNumber, concat(part));
      parts.push({ partNumber, etag: uploaded.etag });
      tail = rest;
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
    if (this.store.record()?.complete) await this.forget();
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
