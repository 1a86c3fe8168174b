/**
 * An upload's SQLite: what was declared at creation, the R2 multipart parts already stored, and
 * the tail (bytes received after the last full part, under one part's size). The offset a client
 * resumes from is exactly what is durable here: the parts' sizes plus the tail's.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS upload (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  upload_id TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  length INTEGER NOT NULL,
  r2_key TEXT NOT NULL,
  multipart_id TEXT NOT NULL,
  metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  head BLOB,
  complete INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS parts (part_number INTEGER PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tail (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL);
`;

/** Bytes of the tail stored per row (a Durable Object SQLite row holds at most 2 MB). */
const TAIL_ROW_BYTES = 1024 * 1024;

export interface UploadRecord {
  uploadId: string;
  ownerId: string;
  length: number;
  r2Key: string;
  multipartId: string;
  /** The tus Upload-Metadata header as received (echoed by HEAD). */
  metadata: string;
  createdAt: number;
  expiresAt: number;
  /** The first bytes of the file (up to HEAD_BYTES), for checking its type. */
  head: Uint8Array;
  complete: boolean;
}

interface UploadRow {
  upload_id: string;
  owner_id: string;
  length: number;
  r2_key: string;
  multipart_id: string;
  metadata: string;
  created_at: number;
  expires_at: number;
  head: ArrayBuffer | null;
  complete: number;
  [key: string]: SqlStorageValue;
}

export class UploadStore {
  /** Whether the tables exist: they are made by `create`, so an object asked about an unknown id stores nothing. */
  private hasTables: boolean;

  constructor(private readonly sql: SqlStorage) {
    this.hasTables = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'upload'").toArray().length > 0;
  }

  record(): UploadRecord | null {
    if (!this.hasTables) return null;
    const row = this.sql.exec<UploadRow>("SELECT * FROM upload WHERE id = 1").toArray()[0];
    if (!row) return null;
    return {
      uploadId: row.upload_id,
      ownerId: row.owner_id,
      length: row.length,
      r2Key: row.r2_key,
      multipartId: row.multipart_id,
      metadata: row.metadata,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      head: row.head ? new Uint8Array(row.head) : new Uint8Array(0),
      complete: row.complete === 1,
    };
  }

  create(r: Omit<UploadRecord, "head" | "complete">): void {
    this.sql.exec(SCHEMA);
    this.hasTables = true;
    this.sql.exec(
      "INSERT INTO upload (id, upload_id, owner_id, length, r2_key, multipart_id, metadata, created_at, expires_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
      r.uploadId,
      r.ownerId,
      r.length,
      r.r2Key,
      r.multipartId,
      r.metadata,
      r.createdAt,
      r.expiresAt,
    );
  }

  setHead(head: Uint8Array): void {
    this.sql.exec("UPDATE upload SET head = ? WHERE id = 1", head);
  }

  markComplete(): void {
    this.sql.exec("UPDATE upload SET complete = 1 WHERE id = 1");
    this.sql.exec("DELETE FROM tail");
  }

  /** Bytes stored in parts so far, and how many parts. */
  partsTotal(): { bytes: number; count: number } {
    const row = this.sql.exec<{ bytes: number | null; count: number }>("SELECT sum(size) AS bytes, count(*) AS count FROM parts").one();
    return { bytes: row.bytes ?? 0, count: row.count };
  }

  parts(): { partNumber: number; etag: string }[] {
    return this.sql
      .exec<{ part_number: number; etag: string }>("SELECT part_number, etag FROM parts ORDER BY part_number")
      .toArray()
      .map((r) => ({ partNumber: r.part_number, etag: r.etag }));
  }

  /**
   * A part was stored in R2 from the previous tail plus new bytes: record it and drop the old
   * tail in one step (what is left of the new bytes is kept in memory until the PATCH ends).
   */
  addPart(partNumber: number, etag: string, size: number): void {
    this.sql.exec("INSERT OR REPLACE INTO parts (part_number, etag, size) VALUES (?, ?, ?)", partNumber, etag, size);
    this.sql.exec("DELETE FROM tail");
  }

  tail(): Uint8Array[] {
    return this.sql
      .exec<{ bytes: ArrayBuffer }>("SELECT bytes FROM tail ORDER BY seq")
      .toArray()
      .map((r) => new Uint8Array(r.bytes));
  }

  tailBytes(): number {
    return this.sql.exec<{ n: number | null }>("SELECT sum(length(bytes)) AS n FROM tail").one().n ?? 0;
  }

  /** Replace the tail with `chunks` (fewer than one part's bytes), in rows of at most 1 MiB. */
  setTail(chunks: Uint8Array[]): void {
    this.sql.exec("DELETE FROM tail");
    this.appendTail(chunks);
  }

  /** Add `chunks` after the stored tail (a PATCH that cut no part writes only its own bytes). */
  appendTail(chunks: Uint8Array[]): void {
    let seq = (this.sql.exec<{ n: number | null }>("SELECT max(seq) AS n FROM tail").one().n ?? -1) + 1;
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.byteLength; at += TAIL_ROW_BYTES) {
        this.sql.exec("INSERT INTO tail (seq, bytes) VALUES (?, ?)", seq++, chunk.subarray(at, at + TAIL_ROW_BYTES));
      }
    }
  }
}
