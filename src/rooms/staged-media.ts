import type { Attachment } from "./types";

/**
 * How long an item stays staged: well inside the day after which media's hourly sweep erases
 * attachments no message took, so a staged item always still exists.
 */
export const STAGED_TTL_MS = 12 * 60 * 60 * 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS staged_media (
  media_id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  mime_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  file_name TEXT,
  staged_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS staged_media_time_idx ON staged_media (staged_at);
`;

type StagedRow = { media_id: string; owner_id: string; mime_type: string; size: number; file_name: string | null };

/**
 * Attachments uploaded for this chat: when an upload that named the chat finishes, media tells
 * the room what the item is and whose, so a send here checks those items against this table
 * instead of a D1 round trip (the D1 references follow after the commit: media-outbox.ts). An
 * item stays usable for STAGED_TTL_MS; its owner deleting it unstages it. Items not staged here
 * (uploaded without naming the chat, or too long ago) are checked in D1 as before.
 */
export class StagedMedia {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** `ownerId` uploaded `item` for this chat (again: refreshed). Items past their time are forgotten on the way. */
  stage(ownerId: string, item: Attachment, at: number): void {
    this.sql.exec("DELETE FROM staged_media WHERE staged_at <= ?", at - STAGED_TTL_MS);
    this.sql.exec(
      "INSERT OR REPLACE INTO staged_media (media_id, owner_id, mime_type, size, file_name, staged_at) VALUES (?, ?, ?, ?, ?, ?)",
      item.mediaId,
      ownerId,
      item.mimeType,
      item.size,
      item.fileName,
      at,
    );
  }

  /**
   * The items may be gone (their owner deleted them, or messages carrying them were deleted and
   * media erased what nothing references): a send naming them is checked in D1 from now on.
   */
  unstage(...mediaIds: string[]): void {
    if (mediaIds.length === 0) return;
    this.sql.exec("DELETE FROM staged_media WHERE media_id IN (SELECT value FROM json_each(?))", JSON.stringify(mediaIds));
  }

  /**
   * `mediaIds` (duplicates once, in the order asked) as staged by `ownerId` and still fresh at
   * `now`; null when any one is not (the send then checks them all in D1).
   */
  lookup(ownerId: string, mediaIds: readonly string[], now: number): Attachment[] | null {
    const ids = [...new Set(mediaIds)];
    const rows = this.sql
      .exec<StagedRow>(
        "SELECT * FROM staged_media WHERE media_id IN (SELECT value FROM json_each(?)) AND owner_id = ? AND staged_at > ?",
        JSON.stringify(ids),
        ownerId,
        now - STAGED_TTL_MS,
      )
      .toArray();
    if (rows.length !== ids.length) return null;
    const byId = new Map(rows.map((r) => [r.media_id, r]));
    return ids.map((id) => {
      const r = byId.get(id)!;
      return { mediaId: r.media_id, mimeType: r.mime_type, size: r.size, fileName: r.file_name };
    });
  }
}
