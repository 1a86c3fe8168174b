/**
 * Who may open a socket here, beyond membership: sessions the user's hub said ended (refused
 * until their access tokens could no longer verify), and users penalized for flooding.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS ended_sessions (session_id TEXT PRIMARY KEY, until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS socket_penalties (user_id TEXT PRIMARY KEY, until INTEGER NOT NULL);
`;

export class SocketAdmission {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** No socket of these sessions is accepted until `until`. */
  endSessions(sessionIds: string[], until: number): void {
    for (const id of sessionIds) {
      this.sql.exec(
        "INSERT INTO ended_sessions (session_id, until) VALUES (?, ?) ON CONFLICT DO UPDATE SET until = max(until, excluded.until)",
        id,
        until,
      );
    }
  }

  sessionEnded(sessionId: string, at = Date.now()): boolean {
    return this.sql.exec("SELECT 1 FROM ended_sessions WHERE session_id = ? AND until > ?", sessionId, at).toArray().length > 0;
  }

  /** A user whose socket was closed for flooding may not open sockets here until `until`. */
  penalize(userId: string, until: number): void {
    this.sql.exec(
      "INSERT INTO socket_penalties (user_id, until) VALUES (?, ?) ON CONFLICT DO UPDATE SET until = max(until, excluded.until)",
      userId,
      until,
    );
  }

  /** When the user may open sockets here again (null: now). */
  penaltyUntil(userId: string, at = Date.now()): number | null {
    const row = this.sql
      .exec<{ until: number }>("SELECT until FROM socket_penalties WHERE user_id = ? AND until > ?", userId, at)
      .toArray()[0];
    return row?.until ?? null;
  }

  /** Forget endings and penalties that ran out. */
  prune(at: number): void {
    this.sql.exec("DELETE FROM ended_sessions WHERE until <= ?", at);
    this.sql.exec("DELETE FROM socket_penalties WHERE until <= ?", at);
  }
}
