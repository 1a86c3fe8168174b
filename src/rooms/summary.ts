import { writeChatSummary } from "./directory";
import { addMissingColumns } from "./schema-upgrade";
import type { MessageRow, RoomStore } from "./store";

/** The chat list's preview of a message (null: none). */
export function previewOf(row: MessageRow | null): Record<string, string | number | null> | null {
  if (!row) return null;
  return {
    id: row.id,
    seq: row.seq,
    senderId: row.sender_id,
    type: row.type,
    text: row.text?.slice(0, 140) ?? null,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/** The room writes its summary to D1 at most this often. */
export const SUMMARY_INTERVAL_MS = 1_000;

const SCHEMA = `CREATE TABLE IF NOT EXISTS summary_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  dirty INTEGER NOT NULL,
  last_flush_at INTEGER NOT NULL,
  user_messages INTEGER NOT NULL,
  flushed_user_messages INTEGER NOT NULL,
  counted_seq INTEGER NOT NULL DEFAULT 0,
  reads_seq INTEGER NOT NULL DEFAULT 0
)`;

/** Columns added after the table first shipped (rooms created before them get them on start). */
const LATER_COLUMNS: [string, string][] = [
  ["counted_seq", "INTEGER NOT NULL DEFAULT 0"],
  ["reads_seq", "INTEGER NOT NULL DEFAULT 0"],
];

interface SummaryState {
  dirty: number;
  last_flush_at: number;
  /** Messages people sent through `counted_seq` that are still in the log and not deleted (system notices excluded). */
  user_messages: number;
  /** How many of those the admin `messages` counter in D1 already holds from this room. */
  flushed_user_messages: number;
  /** The last seq `user_messages` has counted; later sends are counted when the summary next needs the number. */
  counted_seq: number;
  /** The last seq whose sender's read position D1 has; later senders' positions go with the next flush. */
  reads_seq: number;
  [key: string]: SqlStorageValue;
}

/**
 * The chat's summary in D1 (last seq, last activity, preview), the senders' read positions and
 * this room's share of the admin `messages` counter, written from the alarm at most once a
 * second however busy the chat is. This class owns the flush state; the log only says what
 * changed.
 *
 * A send costs the summary no statement: both the count and the senders' read positions are
 * derived from the log itself, past a watermark, when the flush (or a removal) needs them.
 * Removals catch the count up first, so a negative delta never meets sends not yet counted.
 */
export class RoomSummary {
  /** The state row, mirrored in memory and written through (null: not read yet). */
  private cached: SummaryState | null = null;
  /** The flush writing to D1 now, if any: flushes run one at a time. */
  private running: Promise<void> | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly store: RoomStore,
  ) {
    sql.exec(SCHEMA);
    const added = addMissingColumns(sql, "summary_state", LATER_COLUMNS);
    if (sql.exec("SELECT 1 FROM summary_state").toArray().length === 0) this.seed();
    // A pending_reads table also means an older version ran after the columns came (a rollback).
    else if (added.length > 0 || this.hasPendingReadsTable()) this.startWatermarks(added.length > 0);
  }

  /** Forget what memory holds (after a transaction rolled back). */
  reset(): void {
    this.cached = null;
  }

  /** Something the summary shows changed; returns when the next flush may run. */
  changed(at = Date.now()): number {
    const state = this.state();
    if (state.dirty !== 1) {
      this.sql.exec("UPDATE summary_state SET dirty = 1");
      state.dirty = 1;
    }
    return Math.max(at, state.last_flush_at + SUMMARY_INTERVAL_MS);
  }

  /**
   * People's messages were deleted, cleared or erased (`removed` of them, counted before or
   * after the change in the same transaction); the summary is dirty. Sends need no call: the
   * count catches up on them from the log first.
   */
  countRemoved(removed: number): void {
    if (removed === 0) return;
    const state = this.catchUp();
    state.user_messages = Math.max(0, state.user_messages - removed);
    state.dirty = 1;
    this.sql.exec("UPDATE summary_state SET user_messages = ?, dirty = 1", state.user_messages);
  }

  get dirty(): boolean {
    return this.state().dirty === 1;
  }

  /**
   * Write the summary to D1 now, after any flush already running (two at once would both send
   * the same count delta). Changes made while it is being written mark it dirty again.
   */
  async flush(db: D1Database, chatId: string, at: number): Promise<void> {
    while (this.running) await this.running.catch(() => {});
    if (!this.dirty) return;
    this.running = this.write(db, chatId, at);
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }

  private async write(db: D1Database, chatId: string, at: number): Promise<void> {
    const state = this.catchUp();
    // What this flush sends; sends during the write count towards the next one.
    const sending = state.user_messages;
    const readsThrough = this.store.lastSeq();
    const reads = this.sendersSince(state.reads_seq, readsThrough);
    const last = this.store.lastVisibleMessage() ?? null;
    this.sql.exec("UPDATE summary_state SET dirty = 0, last_flush_at = ?", at);
    state.dirty = 0;
    state.last_flush_at = at;
    try {
      await writeChatSummary(db, {
        chatId,
        lastSeq: this.store.lastSeq(),
        lastActivityAt: last?.created_at ?? at,
        preview: previewOf(last),
        reads,
        messagesDelta: sending - state.flushed_user_messages,
      });
    } catch (err) {
      // The alarm is retried; nothing of this flush may be lost meanwhile.
      // The read watermark has not moved, so the next flush derives these positions again.
      this.sql.exec("UPDATE summary_state SET dirty = 1");
      this.state().dirty = 1;
      throw err;
    }
    // Memory may have been reloaded while D1 answered (a rolled-back write): update what it holds now.
    this.sql.exec("UPDATE summary_state SET flushed_user_messages = ?, reads_seq = max(reads_seq, ?)", sending, readsThrough);
    const current = this.state();
    current.flushed_user_messages = sending;
    current.reads_seq = Math.max(current.reads_seq, readsThrough);
  }

  /** The chat is being deleted: what this room added to the admin counter comes back out. */
  flushedMessages(): number {
    return this.state().flushed_user_messages;
  }

  private state(): SummaryState {
    this.cached ??= this.sql.exec<SummaryState>("SELECT * FROM summary_state WHERE id = 1").one();
    return this.cached;
  }

  /**
   * Count the people's messages sent since `counted_seq` into `user_messages`: one range read
   * on the seq key and one write, however many were sent. Deleted ones count too, since their
   * removal subtracts them (before or after this ran).
   */
  private catchUp(): SummaryState {
    const state = this.state();
    const through = this.store.lastSeq();
    if (state.counted_seq >= through) return state;
    const sent = this.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE seq > ? AND seq <= ? AND type != 'system'", state.counted_seq, through)
      .one().n;
    state.user_messages += sent;
    state.counted_seq = through;
    this.sql.exec("UPDATE summary_state SET user_messages = ?, counted_seq = ?", state.user_messages, through);
    return state;
  }

  /**
   * Each sender's newest message in `(after, through]`: sending reads the chat, so that is their
   * read position for D1 (whose update only moves forward, and only for members). A history
   * cleared before the flush takes its senders' positions with it, as it does everyone's.
   */
  private sendersSince(after: number, through: number): { userId: string; seq: number }[] {
    if (after >= through) return [];
    return this.sql
      .exec<{ userId: string; seq: number }>(
        "SELECT sender_id AS userId, max(seq) AS seq FROM messages WHERE seq > ? AND seq <= ? AND type != 'system' AND sender_id IS NOT NULL GROUP BY sender_id",
        after,
        through,
      )
      .toArray();
  }

  /**
   * Start the watermarks of a room whose state predates them (`added`), or that an older
   * version ran meanwhile: its count already holds every message, and its senders' positions
   * waited in a `pending_reads` table, which goes. After such a rollback, sends this version had
   * not flushed yet are still past `reads_seq`, so it never moves forward here.
   */
  private startWatermarks(added: boolean): void {
    const kept = added ? Number.POSITIVE_INFINITY : this.state().reads_seq;
    const readsFrom = Math.min(kept, this.legacyPendingReadsFrom());
    this.sql.exec("UPDATE summary_state SET counted_seq = ?, reads_seq = ?", this.store.lastSeq(), readsFrom);
    this.cached = null;
  }

  private hasPendingReadsTable(): boolean {
    return this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending_reads'").toArray().length > 0;
  }

  /** Where deriving read positions must start for a room that kept them in a `pending_reads` table (which is dropped). */
  private legacyPendingReadsFrom(): number {
    const last = this.store.lastSeq();
    if (!this.hasPendingReadsTable()) return last;
    const oldest = this.sql.exec<{ s: number | null }>("SELECT min(seq) AS s FROM pending_reads").one().s;
    this.sql.exec("DROP TABLE pending_reads");
    return oldest === null ? last : oldest - 1;
  }

  /**
   * First run (a new room, or one written by a version that kept this state in loose meta keys
   * and counted every seq, system notices included, towards the admin counter): count the
   * people's messages once, so the next flush corrects D1 by the difference.
   */
  private seed(): void {
    const meta = (key: string) => this.store.getMeta(key);
    const count = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE type != 'system' AND deleted_at IS NULL").one().n;
    const flushedBefore = Number(meta("flushedSeq") ?? 0);
    this.sql.exec(
      "INSERT INTO summary_state (id, dirty, last_flush_at, user_messages, flushed_user_messages, counted_seq, reads_seq) VALUES (1, ?, ?, ?, ?, ?, ?)",
      meta("summaryDirty") === "1" || count !== flushedBefore ? 1 : 0,
      Number(meta("lastFlushAt") ?? 0),
      count,
      flushedBefore,
      this.store.lastSeq(),
      this.legacyPendingReadsFrom(),
    );
    this.sql.exec("DELETE FROM meta WHERE key IN ('summaryDirty', 'lastFlushAt', 'flushedSeq')");
  }
}
