/**
 * The UserHub's SQLite: which chat rooms each of the user's sessions has live sockets in, and
 * which sessions have ended. Synchronous, like every Durable Object SQL call, so a registration
 * and an ending never interleave: one of them sees the other.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS live_rooms (
  session_id TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  PRIMARY KEY (session_id, chat_id)
);
CREATE INDEX IF NOT EXISTS live_rooms_chat_idx ON live_rooms (chat_id);
CREATE TABLE IF NOT EXISTS ended_sessions (
  session_id TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  until INTEGER NOT NULL
);
`;

/** Registrations older than this are dropped by the hub's alarm (rooms also report sockets gone). */
export const LIVE_ROOM_RETENTION_MS = 30 * 24 * 3600_000;

export class SessionRegistry {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** Why `sessionId` ended, while the hub still remembers it (null for a live session). */
  endedReason(sessionId: string, at: number): string | null {
    const row = this.sql
      .exec<{ reason: string }>("SELECT reason FROM ended_sessions WHERE session_id = ? AND until > ?", sessionId, at)
      .toArray()[0];
    return row?.reason ?? null;
  }

  /** Remember that the session has a socket in the chat's room. */
  register(sessionId: string, chatId: string, at: number): void {
    this.sql.exec(
      "INSERT INTO live_rooms (session_id, chat_id, registered_at) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET registered_at = excluded.registered_at",
      sessionId,
      chatId,
      at,
    );
  }

  /** Mark sessions ended until `until`: registrations for them are refused from now on. */
  markEnded(sessionIds: string[], reason: string, until: number): void {
    for (const id of sessionIds) {
      this.sql.exec(
        "INSERT INTO ended_sessions (session_id, reason, until) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET reason = excluded.reason, until = max(until, excluded.until)",
        id,
        reason,
        until,
      );
    }
  }

  /** The rooms these sessions have (or recently had) sockets in. */
  roomsOf(sessionIds: string[]): string[] {
    const rooms = new Set<string>();
    for (const id of sessionIds) {
      for (const r of this.sql.exec<{ chat_id: string }>("SELECT chat_id FROM live_rooms WHERE session_id = ?", id)) rooms.add(r.chat_id);
    }
    return [...rooms];
  }

  /** Forget the rooms of sessions whose sockets were closed. */
  forgetSessions(sessionIds: string[]): void {
    for (const id of sessionIds) this.sql.exec("DELETE FROM live_rooms WHERE session_id = ?", id);
  }

  /** Every room any session of the user has (or recently had) a socket in. */
  rooms(): string[] {
    return this.sql
      .exec<{ chat_id: string }>("SELECT DISTINCT chat_id FROM live_rooms")
      .toArray()
      .map((r) => r.chat_id);
  }

  /** A room said the user has no socket there any more. */
  forgetRoom(chatId: string): void {
    this.sql.exec("DELETE FROM live_rooms WHERE chat_id = ?", chatId);
  }

  /** Drop what can no longer matter; returns when the next prune is due (null: nothing left). */
  prune(at: number): number | null {
    this.sql.exec("DELETE FROM ended_sessions WHERE until <= ?", at);
    this.sql.exec("DELETE FROM live_rooms WHERE registered_at <= ?", at - LIVE_ROOM_RETENTION_MS);
    const next = this.sql
      .exec<{ t: number | null }>(
        "SELECT min(t) AS t FROM (SELECT min(until) AS t FROM ended_sessions UNION ALL SELECT min(registered_at) + ? AS t FROM live_rooms)",
        LIVE_ROOM_RETENTION_MS,
      )
      .one().t;
    return next;
  }
}
