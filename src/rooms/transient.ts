/**
 * A room's short-lived state, in its SQLite so it survives hibernation: who is typing (until
 * when), and senders' read positions that the next summary flush copies to D1.
 */
export class TransientState {
  constructor(private readonly sql: SqlStorage) {}

  // --- read positions to copy to D1 ---------------------------------------------------------

  /** Remember that a sender has read up to `seq` (sending reads the chat); D1 learns it at the next flush. */
  notePendingRead(userId: string, seq: number): void {
    this.sql.exec(
      "INSERT INTO pending_reads (user_id, seq) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET seq = max(seq, excluded.seq)",
      userId,
      seq,
    );
  }

  /** Take the pending read positions (and forget them). */
  takePendingReads(): { userId: string; seq: number }[] {
    return this.sql
      .exec<{ user_id: string; seq: number }>("DELETE FROM pending_reads RETURNING user_id, seq")
      .toArray()
      .map((r) => ({ userId: r.user_id, seq: r.seq }));
  }

  // --- typing -----------------------------------------------------------------------------

  setTyping(userId: string, expiresAt: number): void {
    this.sql.exec(
      "INSERT INTO typing (user_id, expires_at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET expires_at = excluded.expires_at",
      userId,
      expiresAt,
    );
  }

  clearTyping(userId: string): boolean {
    return this.sql.exec("DELETE FROM typing WHERE user_id = ?", userId).rowsWritten > 0;
  }

  /** Remove and return typists whose 6 s ran out. */
  expireTyping(at: number): string[] {
    return this.sql
      .exec<{ user_id: string }>("DELETE FROM typing WHERE expires_at <= ? RETURNING user_id", at)
      .toArray()
      .map((r) => r.user_id);
  }

  nextTypingExpiry(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT min(expires_at) AS t FROM typing").one().t;
  }
}
