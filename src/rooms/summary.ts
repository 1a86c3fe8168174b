import { writeChatSummary } from "./directory";
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
  flushed_user_messages INTEGER NOT NULL
)`;

interface SummaryState {
  dirty: number;
  last_flush_at: number;
  /** Messages people sent that are still in the log and not deleted (system notices excluded). */
  user_messages: number;
  /** How many of those the admin `messages` counter in D1 already holds from this room. */
  flushed_user_messages: number;
  [key: string]: SqlStorageValue;
}

/**
 * The chat's summary in D1 (last seq, last activity, preview), the senders' read positions and
 * this room's share of the admin `messages` counter, written from the alarm at most once a
 * second however busy the chat is. This class owns the flush state; the log only says what
 * changed.
 */
export class RoomSummary {
  /** The state row, mirrored in memory and written through (null: not read yet). */
  private cached: SummaryState | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly store: RoomStore,
  ) {
    sql.exec(SCHEMA);
    if (sql.exec("SELECT 1 FROM summary_state").toArray().length === 0) this.seed();
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

  /** People's messages were added (+) or deleted, cleared or erased (−); the summary is dirty. */
  countMessages(delta: number): void {
    if (delta === 0) return;
    const state = this.state();
    state.user_messages = Math.max(0, state.user_messages + delta);
    state.dirty = 1;
    this.sql.exec("UPDATE summary_state SET user_messages = ?, dirty = 1", state.user_messages);
  }

  get dirty(): boolean {
    return this.state().dirty === 1;
  }

  /** Write the summary to D1 now. Changes made while it is being written mark it dirty again. */
  async flush(db: D1Database, chatId: string, at: number): Promise<void> {
    const state = this.state();
    // What this flush sends; sends during the write count towards the next one.
    const sending = state.user_messages;
    const last = this.store.lastVisibleMessage() ?? null;
    const reads = this.store.transient.takePendingReads();
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
      this.sql.exec("UPDATE summary_state SET dirty = 1");
      state.dirty = 1;
      for (const r of reads) this.store.transient.notePendingRead(r.userId, r.seq);
      throw err;
    }
    this.sql.exec("UPDATE summary_state SET flushed_user_messages = ?", sending);
    state.flushed_user_messages = sending;
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
   * First run (a new room, or one written by a version that kept this state in loose meta keys
   * and counted every seq, system notices included, towards the admin counter): count the
   * people's messages once, so the next flush corrects D1 by the difference.
   */
  private seed(): void {
    const meta = (key: string) => this.store.getMeta(key);
    const count = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE type != 'system' AND deleted_at IS NULL").one().n;
    const flushedBefore = Number(meta("flushedSeq") ?? 0);
    this.sql.exec(
      "INSERT INTO summary_state (id, dirty, last_flush_at, user_messages, flushed_user_messages) VALUES (1, ?, ?, ?, ?)",
      meta("summaryDirty") === "1" || count !== flushedBefore ? 1 : 0,
      Number(meta("lastFlushAt") ?? 0),
      count,
      flushedBefore,
    );
    this.sql.exec("DELETE FROM meta WHERE key IN ('summaryDirty', 'lastFlushAt', 'flushedSeq')");
  }
}
