const SCHEMA = `CREATE TABLE IF NOT EXISTS edits (
  seq INTEGER NOT NULL,
  version_at INTEGER NOT NULL,
  text TEXT,
  content TEXT,
  PRIMARY KEY (seq, version_at)
)`;

/** One earlier version of a message: its text and content as they were from `at` until the next edit. */
export interface StoredVersion {
  text: string | null;
  content: string | null;
  at: number;
}

/**
 * Earlier versions of edited messages, readable by the chat's members (`GET …/edits`) and erased
 * with the message when it is deleted for everyone or the history is cleared.
 */
export class EditHistory {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** Keep the version an edit replaces. */
  record(seq: number, version: StoredVersion): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO edits (seq, version_at, text, content) VALUES (?, ?, ?, ?)",
      seq,
      version.at,
      version.text,
      version.content,
    );
  }

  /** Earlier versions of the message at `seq`, oldest first. */
  list(seq: number): StoredVersion[] {
    return this.sql
      .exec<{ text: string | null; content: string | null; version_at: number }>(
        "SELECT text, content, version_at FROM edits WHERE seq = ? ORDER BY version_at",
        seq,
      )
      .toArray()
      .map((r) => ({ text: r.text, content: r.content, at: r.version_at }));
  }

  /** Forget the versions of a deleted message. */
  erase(seq: number): void {
    this.sql.exec("DELETE FROM edits WHERE seq = ?", seq);
  }

  /** Forget the versions of every message up to `seq` (the history was cleared). */
  truncate(seq: number): void {
    this.sql.exec("DELETE FROM edits WHERE seq <= ?", seq);
  }
}
