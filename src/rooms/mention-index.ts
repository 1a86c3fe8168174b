/** The user id that stands for `@all` in the index. */
const EVERYONE = "*";

const SCHEMA = `CREATE TABLE IF NOT EXISTS mentions (user_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (user_id, seq))`;

/**
 * Who each message mentions, so a member's mention count is exact: mentions of them (or of
 * everyone) in messages after their read position that are not theirs, not deleted, not
 * shadow messages and not hidden by them. Erased with the message.
 */
export class MentionIndex {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** Record the mentions of the message at `seq`. */
  add(seq: number, userIds: readonly string[], everyone: boolean): void {
    for (const userId of everyone ? [...userIds, EVERYONE] : userIds) {
      this.sql.exec("INSERT OR IGNORE INTO mentions (user_id, seq) VALUES (?, ?)", userId, seq);
    }
  }

  /** Mentions of `userId` after `afterSeq` that they have not read (see the class comment). */
  count(userId: string, afterSeq: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT count(DISTINCT x.seq) AS n FROM mentions x JOIN messages m ON m.seq = x.seq
          WHERE x.user_id IN (?, '${EVERYONE}') AND x.seq > ? AND m.deleted_at IS NULL AND m.shadow IS NULL
            AND (m.sender_id IS NULL OR m.sender_id != ?)
            AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ? AND h.seq = x.seq)`,
        userId,
        afterSeq,
        userId,
        userId,
      )
      .one().n;
  }

  /** Forget the mentions of a deleted message. */
  erase(seq: number): void {
    this.sql.exec("DELETE FROM mentions WHERE seq = ?", seq);
  }

  /** Forget the mentions of every message up to `seq` (the history was cleared). */
  truncate(seq: number): void {
    this.sql.exec("DELETE FROM mentions WHERE seq <= ?", seq);
  }
}
