import { TransientState } from "./transient";
import type { ChatConfig, FlatJson, Message, MessageType, RoomEvent, RoomMember } from "./types";

/**
 * The room's SQLite: the ordered message log, the event log, the member cache and small state.
 * Every method is synchronous (the Durable Object SQL API is), so a caller's read-modify-write
 * runs without interleaving and seq/eventSeq assignment needs no locks.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  sender_id TEXT,
  client_message_id TEXT,
  type TEXT NOT NULL,
  text TEXT,
  system TEXT,
  created_at INTEGER NOT NULL,
  edited_at INTEGER,
  deleted_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_uq ON messages (sender_id, client_message_id) WHERE client_message_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS hidden (user_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (user_id, seq));
CREATE TABLE IF NOT EXISTS events (event_seq INTEGER PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (
  user_id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  permissions TEXT NOT NULL,
  read_receipts INTEGER NOT NULL,
  read_seq INTEGER NOT NULL DEFAULT 0,
  delivered_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS former_members (user_id TEXT PRIMARY KEY, reason TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS typing (user_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pending_reads (user_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
`;

/** Events kept for `sync`/`GET events`; a client further behind is told to reload. */
export const EVENT_RETENTION = 10_000;

interface MessageRow {
  seq: number;
  id: string;
  sender_id: string | null;
  client_message_id: string | null;
  type: string;
  text: string | null;
  system: string | null;
  created_at: number;
  edited_at: number | null;
  deleted_at: number | null;
  [key: string]: SqlStorageValue;
}

interface MemberRow {
  user_id: string;
  role: string;
  permissions: string;
  read_receipts: number;
  read_seq: number;
  delivered_seq: number;
  [key: string]: SqlStorageValue;
}

export interface MemberState extends RoomMember {
  readSeq: number;
  deliveredSeq: number;
}

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

export class RoomStore {
  /** Short-lived state: who is typing, and read positions waiting for the next D1 flush. */
  readonly transient: TransientState;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    this.transient = new TransientState(sql);
  }

  // --- meta -------------------------------------------------------------------------------

  getMeta(key: string): string | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row ? row.value : null;
  }

  setMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  config(): ChatConfig | null {
    const raw = this.getMeta("config");
    return raw ? (JSON.parse(raw) as ChatConfig) : null;
  }

  setConfig(config: ChatConfig): void {
    this.setMeta("config", JSON.stringify(config));
  }

  /** The newest seq ever given out (truncation deletes messages but never reuses their seqs). */
  lastSeq(): number {
    const max = this.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM messages").one().s ?? 0;
    return Math.max(max, Number(this.getMeta("truncatedThrough") ?? 0));
  }

  /** Delete every message up to `seq` (and the per-member hidden marks on them). */
  truncate(seq: number): number {
    const removed = this.sql.exec("DELETE FROM messages WHERE seq <= ?", seq).rowsWritten;
    this.sql.exec("DELETE FROM hidden WHERE seq <= ?", seq);
    this.setMeta("truncatedThrough", String(Math.max(seq, Number(this.getMeta("truncatedThrough") ?? 0))));
    return removed;
  }

  lastEventSeq(): number {
    return Number(this.getMeta("lastEventSeq") ?? 0);
  }

  // --- messages ---------------------------------------------------------------------------

  toMessage(row: MessageRow, chatId: string): Message {
    const deleted = row.deleted_at != null;
    return {
      id: row.id,
      seq: row.seq,
      chatId,
      senderId: row.sender_id,
      clientMessageId: row.client_message_id,
      type: row.type as MessageType,
      text: deleted ? null : row.text,
      system: row.system ? (JSON.parse(row.system) as FlatJson) : null,
      createdAt: iso(row.created_at)!,
      editedAt: iso(row.edited_at),
      deleted,
    };
  }

  findByClientId(senderId: string, clientMessageId: string): MessageRow | undefined {
    return this.sql
      .exec<MessageRow>("SELECT * FROM messages WHERE sender_id = ? AND client_message_id = ?", senderId, clientMessageId)
      .toArray()[0];
  }

  findById(id: string): MessageRow | undefined {
    return this.sql.exec<MessageRow>("SELECT * FROM messages WHERE id = ?", id).toArray()[0];
  }

  findBySeq(seq: number): MessageRow | undefined {
    return this.sql.exec<MessageRow>("SELECT * FROM messages WHERE seq = ?", seq).toArray()[0];
  }

  insertMessage(m: {
    id: string;
    senderId: string | null;
    clientMessageId: string | null;
    type: MessageType;
    text: string | null;
    system: FlatJson | null;
    at: number;
  }): MessageRow {
    const seq = this.lastSeq() + 1;
    this.sql.exec(
      "INSERT INTO messages (seq, id, sender_id, client_message_id, type, text, system, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      seq,
      m.id,
      m.senderId,
      m.clientMessageId,
      m.type,
      m.text,
      m.system ? JSON.stringify(m.system) : null,
      m.at,
    );
    return this.findBySeq(seq)!;
  }

  editMessage(seq: number, text: string, at: number): void {
    this.sql.exec("UPDATE messages SET text = ?, edited_at = ? WHERE seq = ?", text, at, seq);
  }

  deleteMessage(seq: number, at: number): void {
    this.sql.exec("UPDATE messages SET deleted_at = ?, text = NULL WHERE seq = ? AND deleted_at IS NULL", at, seq);
  }

  isHidden(userId: string, seq: number): boolean {
    return this.sql.exec("SELECT 1 FROM hidden WHERE user_id = ? AND seq = ?", userId, seq).toArray().length > 0;
  }

  /** The newest message that is not deleted (the chat list preview). */
  lastVisibleMessage(): MessageRow | undefined {
    return this.sql.exec<MessageRow>("SELECT * FROM messages WHERE deleted_at IS NULL ORDER BY seq DESC LIMIT 1").toArray()[0];
  }

  hideFor(userId: string, seq: number): void {
    this.sql.exec("INSERT OR IGNORE INTO hidden (user_id, seq) VALUES (?, ?)", userId, seq);
  }

  /**
   * One page of history for `userId` in seq order, through the primary key (never the whole
   * log): `before`/`after` a seq, `around` one (half each side), or the latest.
   */
  page(userId: string, q: { before?: number; after?: number; around?: number; limit: number }): { rows: MessageRow[]; hasMore: boolean } {
    const visible = "NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ? AND h.seq = m.seq)";
    const take = (where: string, order: "ASC" | "DESC", bound: number, limit: number) =>
      this.sql
        .exec<MessageRow>(`SELECT * FROM messages m WHERE ${where} AND ${visible} ORDER BY seq ${order} LIMIT ?`, bound, userId, limit + 1)
        .toArray();
    if (q.after !== undefined) {
      const rows = take("seq > ?", "ASC", q.after, q.limit);
      return { rows: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
    }
    if (q.around !== undefined) {
      const half = Math.floor(q.limit / 2);
      const older = take("seq < ?", "DESC", q.around, half);
      const newer = take("seq >= ?", "ASC", q.around, q.limit - half);
      const rows = [...older.slice(0, half).reverse(), ...newer.slice(0, q.limit - half)];
      return { rows, hasMore: older.length > half || newer.length > q.limit - half };
    }
    const rows = take("seq < ?", "DESC", q.before ?? Number.MAX_SAFE_INTEGER, q.limit);
    return { rows: rows.slice(0, q.limit).reverse(), hasMore: rows.length > q.limit };
  }

  /** Messages after `seq` that count as unread for `userId`: others' text, not deleted or hidden. */
  unreadCount(userId: string, afterSeq: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT count(*) AS n FROM messages m WHERE seq > ? AND type != 'system' AND deleted_at IS NULL
           AND (sender_id IS NULL OR sender_id != ?)
           AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ? AND h.seq = m.seq)`,
        afterSeq,
        userId,
        userId,
      )
      .one().n;
  }

  // --- events -----------------------------------------------------------------------------

  appendEvent(type: string, payload: Record<string, unknown>, at: number): RoomEvent {
    const eventSeq = this.lastEventSeq() + 1;
    this.sql.exec("INSERT INTO events (event_seq, type, payload, created_at) VALUES (?, ?, ?, ?)", eventSeq, type, JSON.stringify(payload), at);
    this.setMeta("lastEventSeq", String(eventSeq));
    return { eventSeq, type, createdAt: iso(at)!, ...payload };
  }

  /** Events after `after`, in order; `tooFarBehind` when some were already pruned. */
  eventsAfter(after: number, limit: number): { events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean } {
    const oldest = this.sql.exec<{ s: number | null }>("SELECT min(event_seq) AS s FROM events").one().s;
    const last = this.lastEventSeq();
    // Behind, and the next event it needs (after + 1) is gone: it must reload.
    if (after < last && (oldest === null || after + 1 < oldest)) return { events: [], hasMore: false, tooFarBehind: true };
    const rows = this.sql
      .exec<{ event_seq: number; type: string; payload: string; created_at: number }>(
        "SELECT * FROM events WHERE event_seq > ? ORDER BY event_seq LIMIT ?",
        after,
        limit + 1,
      )
      .toArray();
    const events = rows.slice(0, limit).map((r) => ({ eventSeq: r.event_seq, type: r.type, createdAt: iso(r.created_at)!, ...JSON.parse(r.payload) }));
    return { events, hasMore: rows.length > limit, tooFarBehind: false };
  }

  /** Drop events beyond the retention window. */
  pruneEvents(): number {
    const cutoff = this.lastEventSeq() - EVENT_RETENTION;
    if (cutoff <= 0) return 0;
    return this.sql.exec("DELETE FROM events WHERE event_seq <= ?", cutoff).rowsWritten;
  }

  // --- members ----------------------------------------------------------------------------

  private toMember(r: MemberRow): MemberState {
    return {
      userId: r.user_id,
      role: r.role as MemberState["role"],
      overrides: JSON.parse(r.permissions) as MemberState["overrides"],
      readReceipts: r.read_receipts === 1,
      readSeq: r.read_seq,
      deliveredSeq: r.delivered_seq,
    };
  }

  member(userId: string): MemberState | null {
    const row = this.sql.exec<MemberRow>("SELECT * FROM members WHERE user_id = ?", userId).toArray()[0];
    return row ? this.toMember(row) : null;
  }

  members(): MemberState[] {
    return this.sql.exec<MemberRow>("SELECT * FROM members").toArray().map((r) => this.toMember(r));
  }

  /**
   * Add or refresh a member. A member new to the room starts reading at `startSeq` (what was
   * there before they joined is not unread for them); an existing one keeps their positions.
   */
  upsertMember(m: RoomMember, startSeq = 0): void {
    this.sql.exec(
      `INSERT INTO members (user_id, role, permissions, read_receipts, read_seq, delivered_seq) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, permissions = excluded.permissions, read_receipts = excluded.read_receipts`,
      m.userId,
      m.role,
      JSON.stringify(m.overrides ?? null),
      m.readReceipts ? 1 : 0,
      startSeq,
      startSeq,
    );
    this.sql.exec("DELETE FROM former_members WHERE user_id = ?", m.userId);
  }

  removeMember(userId: string, reason: string, at: number): void {
    this.sql.exec("DELETE FROM members WHERE user_id = ?", userId);
    this.sql.exec(
      "INSERT INTO former_members (user_id, reason, at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason, at = excluded.at",
      userId,
      reason,
      at,
    );
  }

  formerReason(userId: string): string | null {
    return this.sql.exec<{ reason: string }>("SELECT reason FROM former_members WHERE user_id = ?", userId).toArray()[0]?.reason ?? null;
  }

  /** Move a member's read or delivered position forward (never back). Returns true if it moved. */
  advance(userId: string, column: "read_seq" | "delivered_seq", seq: number): boolean {
    const cursor = this.sql.exec(`UPDATE members SET ${column} = ? WHERE user_id = ? AND ${column} < ?`, seq, userId, seq);
    const moved = cursor.rowsWritten > 0;
    // Reading implies delivery.
    if (moved && column === "read_seq") this.sql.exec("UPDATE members SET delivered_seq = ? WHERE user_id = ? AND delivered_seq < ?", seq, userId, seq);
    return moved;
  }
}
