/**
 * A room's short-lived state, in its SQLite so it survives hibernation: who is typing (until
 * when).
 */
export class TransientState {
  /** Who is typing, mirrored in memory so a send by someone not typing costs no statement (null: not read yet). */
  private typists: Set<string> | null = null;

  constructor(private readonly sql: SqlStorage) {}

  /** Forget what memory holds (after a transaction rolled back). */
  reset(): void {
    this.typists = null;
  }

  private typing(): Set<string> {
    this.typists ??= new Set(
      this.sql
        .exec<{ user_id: string }>("SELECT user_id FROM typing")
        .toArray()
        .map((r) => r.user_id),
    );
    return this.typists;
  }

  // --- typing -----------------------------------------------------------------------------

  setTyping(userId: string, expiresAt: number): void {
    this.sql.exec(
      "INSERT INTO typing (user_id, expires_at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET expires_at = excluded.expires_at",
      userId,
      expiresAt,
    );
    this.typing().add(userId);
  }

  clearTyping(userId: string): boolean {
    if (!this.typing().delete(userId)) return false;
    this.sql.exec("DELETE FROM typing WHERE user_id = ?", userId);
    return true;
  }

  /** Remove and return typists whose 6 s ran out. */
  expireTyping(at: number): string[] {
    const expired = this.sql
      .exec<{ user_id: string }>("DELETE FROM typing WHERE expires_at <= ? RETURNING user_id", at)
      .toArray()
      .map((r) => r.user_id);
    for (const userId of expired) this.typing().delete(userId);
    return expired;
  }

  nextTypingExpiry(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT min(expires_at) AS t FROM typing").one().t;
  }
}
