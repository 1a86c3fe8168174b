import { addMissingColumns } from "./schema-upgrade";
import type { RoomEvent } from "./types";

/** Events kept for `sync`/`GET events`; a client further behind is told to reload. */
export const EVENT_RETENTION = 10_000;

/** `audience`: the one user an event is for (a shadow-banned member's own messages); null: every member. */
const SCHEMA = `CREATE TABLE IF NOT EXISTS events (event_seq INTEGER PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL, audience TEXT)`;

/** One logged change, and its frame text (serialized once, sent to every socket as is). */
export interface LoggedEvent {
  event: RoomEvent;
  text: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The room's event log: every change gets the next `eventSeq`, is stored for replay (`sync`,
 * `GET …/events`) and is serialized once for the sockets. The last eventSeq is kept in memory
 * (read once from the table); callers must `reset()` after a rolled-back transaction.
 */
export class EventLog {
  private last: number | null = null;

  constructor(
    private readonly sql: SqlStorage,
    /** The last eventSeq that older versions kept in the meta table (before the table had it). */
    private readonly legacyLast: () => number,
  ) {
    sql.exec(SCHEMA);
    // Rooms created before audiences lack the column.
    addMissingColumns(sql, "events", [["audience", "TEXT"]]);
  }

  lastEventSeq(): number {
    if (this.last === null) {
      const max = this.sql.exec<{ s: number | null }>("SELECT max(event_seq) AS s FROM events").one().s ?? 0;
      this.last = Math.max(max, this.legacyLast());
    }
    return this.last;
  }

  /** Forget what memory holds (after a transaction rolled back). */
  reset(): void {
    this.last = null;
  }

  /**
   * Messages were deleted, expired or cleared (`seqs`, or every seq `through` one): the events
   * that carried them (`message.new`, `message.updated`) keep only the tombstone, so replay never
   * hands out what is gone. One pass over the retained events.
   */
  scrubMessages(which: { seqs: readonly number[] } | { through: number }): void {
    const where =
      "seqs" in which
        ? "json_extract(payload, '$.message.seq') IN (SELECT value FROM json_each(?))"
        : "json_extract(payload, '$.message.seq') <= ?";
    this.sql.exec(
      `UPDATE events SET payload = json_replace(json_set(payload,
         '$.message.text', NULL, '$.message.attachments', json('[]'), '$.message.location', NULL,
         '$.message.contact', NULL, '$.message.entities', json('[]'), '$.message.quote', NULL,
         '$.message.mentions', json('[]'), '$.message.metadata', NULL, '$.message.poll', NULL,
         '$.message.reactions', json('[]'), '$.message.expiresAt', NULL, '$.message.deleted', json('true')),
         '$.message.ciphertext', NULL)
       WHERE type IN ('message.new', 'message.updated') AND ${where}`,
      "seqs" in which ? JSON.stringify(which.seqs) : which.through,
    );
  }

  /** Log an event for every member, or for `audience` alone (it still takes an eventSeq: others see a gap). */
  append(type: string, payload: Record<string, unknown>, at: number, audience?: string): LoggedEvent {
    const eventSeq = this.lastEventSeq() + 1;
    const payloadJson = JSON.stringify(payload);
    this.sql.exec(
      "INSERT INTO events (event_seq, type, payload, created_at, audience) VALUES (?, ?, ?, ?, ?)",
      eventSeq,
      type,
      payloadJson,
      at,
      audience ?? null,
    );
    this.last = eventSeq;
    const createdAt = iso(at);
    // {eventSeq, type, createdAt, ...payload}, without serializing the payload a second time.
    const head = `{"eventSeq":${eventSeq},"type":${JSON.stringify(type)},"createdAt":"${createdAt}"`;
    const text = payloadJson === "{}" ? `${head}}` : `${head},${payloadJson.slice(1)}`;
    return { event: { eventSeq, type, createdAt, ...payload } as RoomEvent, text };
  }

  /** Events `viewerId` may see after `after`, in order; `tooFarBehind` when some were already pruned. */
  after(after: number, limit: number, viewerId: string): { events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean } {
    const oldest = this.sql.exec<{ s: number | null }>("SELECT min(event_seq) AS s FROM events").one().s;
    const last = this.lastEventSeq();
    // Behind, and the next event it needs (after + 1) is gone: it must reload.
    if (after < last && (oldest === null || after + 1 < oldest)) return { events: [], hasMore: false, tooFarBehind: true };
    const rows = this.sql
      .exec<{ event_seq: number; type: string; payload: string; created_at: number }>(
        "SELECT * FROM events WHERE event_seq > ? AND (audience IS NULL OR audience = ?) ORDER BY event_seq LIMIT ?",
        after,
        viewerId,
        limit + 1,
      )
      .toArray();
    const events = rows
      .slice(0, limit)
      .map((r) => ({ eventSeq: r.event_seq, type: r.type, createdAt: iso(r.created_at), ...JSON.parse(r.payload) }) as RoomEvent);
    return { events, hasMore: rows.length > limit, tooFarBehind: false };
  }

  /** Drop events beyond the retention window (the newest EVENT_RETENTION always stay, so max(event_seq) does too). */
  prune(): number {
    const cutoff = this.lastEventSeq() - EVENT_RETENTION;
    if (cutoff <= 0) return 0;
    return this.sql.exec("DELETE FROM events WHERE event_seq <= ?", cutoff).rowsWritten;
  }
}
