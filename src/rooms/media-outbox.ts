import { mediaPort } from "./media-port";

/** After a failed write to D1, the alarm tries again this much later. */
export const OUTBOX_RETRY_MS = 5_000;
/** Messages one pass writes (in one D1 batch) before it looks for more. */
const PASS_SIZE = 40;
/**
 * A send asks for a flush this much later: past the socket outbox's coalescing window, so the D1
 * write never competes with the frames of the send it follows, and a burst's sends share a batch.
 */
export const OUTBOX_DELAY_MS = 20;

const SCHEMA = `CREATE TABLE IF NOT EXISTS media_ref_outbox (message_id TEXT PRIMARY KEY, media_ids TEXT NOT NULL, queued_at INTEGER NOT NULL)`;

/** What the outbox needs from the room. */
export interface MediaOutboxDeps {
  db: D1Database;
  chatId(): string;
  /** Wake the room (its alarm, which flushes the outbox) by `at`. */
  wakeAt(at: number): void;
}

/**
 * The D1 references (media_refs: who may read an item, and what keeps it from the sweep) of
 * messages sent with staged media, on their way out. Queued in the send's own transaction, so a
 * stored message always has its references queued and a failed send queues nothing; written
 * after the commit, off the send's path; retried from the alarm until D1 took them (the
 * summary's backstop alarm covers a room evicted before its first try). Until then media's read
 * check asks the room (`pendingFor`), so members can read an item the moment its message is
 * delivered.
 */
export class MediaOutbox {
  private running: Promise<void> | null = null;
  private again = false;
  private soon = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly deps: MediaOutboxDeps,
  ) {
    sql.exec(SCHEMA);
  }

  /** Inside the send's write: message `messageId` references `mediaIds`. */
  queue(messageId: string, mediaIds: readonly string[], at: number): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO media_ref_outbox (message_id, media_ids, queued_at) VALUES (?, ?, ?)",
      messageId,
      JSON.stringify(mediaIds),
      at,
    );
  }

  /** Whether anything waits to be written. */
  get hasQueued(): boolean {
    return this.sql.exec("SELECT 1 FROM media_ref_outbox LIMIT 1").toArray().length > 0;
  }

  /** After a send: flush OUTBOX_DELAY_MS later (once, however many sends ask meanwhile). */
  flushSoon(): void {
    if (this.soon) return;
    this.soon = true;
    setTimeout(() => {
      this.soon = false;
      void this.flush();
    }, OUTBOX_DELAY_MS);
  }

  /**
   * Write what is queued to D1, oldest first. One pass runs at a time: a call during a pass gets
   * another pass after it (for what was queued meanwhile). A failure stops and asks the alarm to
   * try again; it never throws.
   */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          if (!(await this.pass())) break;
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /**
   * Messages that were deleted before their references were written: drop what is queued for
   * them and wait out a pass in flight, so the detach that follows sees every reference made.
   */
  async forget(messageIds: readonly string[]): Promise<void> {
    this.sql.exec("DELETE FROM media_ref_outbox WHERE message_id IN (SELECT value FROM json_each(?))", JSON.stringify(messageIds));
    await this.running;
  }

  /** The messages whose references to `mediaId` are still queued (media's read check asks while they are). */
  pendingFor(mediaId: string): string[] {
    return this.sql
      .exec<{ message_id: string }>(
        "SELECT message_id FROM media_ref_outbox o WHERE EXISTS (SELECT 1 FROM json_each(o.media_ids) WHERE value = ?)",
        mediaId,
      )
      .toArray()
      .map((r) => r.message_id);
  }

  /** Write up to PASS_SIZE queued messages' references in one batch; false when D1 failed (the alarm retries). */
  private async pass(): Promise<boolean> {
    const rows = this.sql
      .exec<{ message_id: string; media_ids: string }>(
        "SELECT message_id, media_ids FROM media_ref_outbox ORDER BY queued_at LIMIT ?",
        PASS_SIZE,
      )
      .toArray();
    if (rows.length === 0) return true;
    const messages = rows.map((r) => ({ messageId: r.message_id, mediaIds: JSON.parse(r.media_ids) as string[] }));
    try {
      await mediaPort().attach(this.deps.db, this.deps.chatId(), messages);
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "writing media references failed", messages: rows.length, error: String(err) }));
      this.deps.wakeAt(Date.now() + OUTBOX_RETRY_MS);
      return false;
    }
    this.sql.exec(
      "DELETE FROM media_ref_outbox WHERE message_id IN (SELECT value FROM json_each(?))",
      JSON.stringify(rows.map((r) => r.message_id)),
    );
    if (rows.length === PASS_SIZE) this.again = true;
    return true;
  }
}
