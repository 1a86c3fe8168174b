import { SocketAdmission } from "./admission";
import { EditHistory } from "./edit-history";
import { EnvelopeStore } from "./envelopes";
import { EventLog } from "./event-log";
import { type HistoryPageQuery, historyPage, threadPage } from "./history-pages";
import { MemberCache } from "./member-cache";
import { MentionIndex } from "./mention-index";
import { MessageIndex } from "./message-index";
import { insertMessageRow, MESSAGES_SCHEMA, type MessageRow, type NewMessage, toMessage, upgradeMessageColumns } from "./message-rows";
import { PollStore } from "./polls";
import { ReactionStore } from "./reactions";
import { SendLimiter } from "./send-limiter";
import { RoomSummary } from "./summary";
import { TransientState } from "./transient";
import type { ChatConfig, Message } from "./types";

export type { MessageRow };

/**
 * The room's SQLite: the ordered message log, the chat's settings, and the parts that own the
 * rest (event log, member cache, send budgets, summary state, transient state, admission).
 * Every method is synchronous (the Durable Object SQL API is), so a caller's read-modify-write
 * runs without interleaving and seq/eventSeq assignment needs no locks. What is read on every
 * message (settings, last seq, members) is kept in memory and written through; after a
 * transaction rolls back, `reset()` drops all of it so memory never runs ahead of storage.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hidden (user_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (user_id, seq));
CREATE TABLE IF NOT EXISTS typing (user_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
`;

export class RoomStore {
  /** Short-lived state: who is typing. */
  readonly transient: TransientState;
  /** Members' send budgets and slow-mode clocks. */
  readonly limiter: SendLimiter;
  /** What the next D1 summary flush writes, and when it may run. */
  readonly summary: RoomSummary;
  /** The room's copy of its members and their read positions. */
  readonly members: MemberCache;
  /** Every change, with its eventSeq, for replay. */
  readonly events: EventLog;
  /** Ended sessions and flood penalties: who may not open a socket. */
  readonly admission: SocketAdmission;
  /** Earlier versions of edited messages. */
  readonly edits: EditHistory;
  /** Who each message mentions (for mention counts). */
  readonly mentions: MentionIndex;
  /** Polls and their votes. */
  readonly polls: PollStore;
  /** Who reacted to which message with what. */
  readonly reactions: ReactionStore;
  /** The full-text index of the messages (kept in step by insert, edit, delete and truncate here). */
  readonly index: MessageIndex;
  /** Encrypted chats: each message's per-device envelopes until their devices acknowledge them. */
  readonly envelopes: EnvelopeStore;

  private configCache: ChatConfig | null | undefined;
  private lastSeqCache: number | null = null;

  constructor(readonly sql: SqlStorage) {
    sql.exec(MESSAGES_SCHEMA);
    upgradeMessageColumns(sql);
    sql.exec(SCHEMA);
    this.edits = new EditHistory(sql);
    this.mentions = new MentionIndex(sql);
    this.polls = new PollStore(sql);
    this.reactions = new ReactionStore(sql);
    this.index = new MessageIndex(sql, () => !!this.config()?.encrypted);
    this.envelopes = new EnvelopeStore(sql);
    this.transient = new TransientState(sql);
    this.limiter = new SendLimiter(sql);
    this.members = new MemberCache(sql);
    this.events = new EventLog(sql, () => Number(this.getMeta("lastEventSeq") ?? 0));
    this.admission = new SocketAdmission(sql);
    this.summary = new RoomSummary(sql, this);
  }

  /** Drop everything kept in memory: the next read comes from storage (after a rolled-back transaction). */
  reset(): void {
    this.configCache = undefined;
    this.lastSeqCache = null;
    this.events.reset();
    this.members.reset();
    this.limiter.reset();
    this.summary.reset();
    this.transient.reset();
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
    if (this.configCache === undefined) {
      const raw = this.getMeta("config");
      this.configCache = raw ? (JSON.parse(raw) as ChatConfig) : null;
    }
    return this.configCache;
  }

  setConfig(config: ChatConfig): void {
    this.setMeta("config", JSON.stringify(config));
    this.configCache = config;
  }

  /** The newest seq ever given out (truncation deletes messages but never reuses their seqs). */
  lastSeq(): number {
    if (this.lastSeqCache === null) {
      const max = this.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM messages").one().s ?? 0;
      this.lastSeqCache = Math.max(max, Number(this.getMeta("truncatedThrough") ?? 0));
    }
    return this.lastSeqCache;
  }

  /** People's messages (not system notices) up to `seq` that are not deleted. */
  countUserMessagesThrough(seq: number): number {
    return this.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM messages WHERE seq <= ? AND type != 'system' AND deleted_at IS NULL", seq)
      .one().n;
  }

  /** Ids of the messages up to `seq` that carry attachments (their media go when the history is cleared). */
  idsWithAttachmentsThrough(seq: number): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM messages WHERE seq <= ? AND json_extract(content, '$.attachments') IS NOT NULL", seq)
      .toArray()
      .map((r) => r.id);
  }

  /** Delete every message up to `seq` (and the per-member hidden marks on them). */
  truncate(seq: number): number {
    const removed = this.sql.exec("DELETE FROM messages WHERE seq <= ?", seq).rowsWritten;
    this.sql.exec("DELETE FROM hidden WHERE seq <= ?", seq);
    this.edits.truncate(seq);
    this.mentions.truncate(seq);
    this.polls.truncate(seq);
    this.reactions.truncate(seq);
    this.index.truncate(seq);
    this.envelopes.truncate(seq);
    this.setMeta("truncatedThrough", String(Math.max(seq, Number(this.getMeta("truncatedThrough") ?? 0))));
    return removed;
  }

  lastEventSeq(): number {
    return this.events.lastEventSeq();
  }

  // --- messages ---------------------------------------------------------------------------

  /** A row as the API shows it to nobody in particular (what broadcast frames carry). */
  toMessage(row: MessageRow, chatId: string): Message {
    return this.toMessages([row], chatId, null)[0]!;
  }

  /** Rows as `viewerId` sees them (null: nobody in particular); their polls come in one query. */
  toMessages(rows: readonly MessageRow[], chatId: string, viewerId: string | null): Message[] {
    const messages = rows.map((row) => toMessage(row, chatId));
    const polls = messages.filter((m) => m.type === "poll" && !m.deleted).map((m) => m.seq);
    if (polls.length === 0) return messages;
    const views = this.polls.views(polls, viewerId, Date.now());
    for (const m of messages) m.poll = views.get(m.seq) ?? null;
    return messages;
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

  /**
   * Insert a message with the next seq, unless its sender already sent one with this client id:
   * then nothing is written and the answer is null (one statement either way; the unique index
   * decides, also between concurrent retries).
   */
  insertMessage(m: NewMessage): MessageRow | null {
    const row = insertMessageRow(this.sql, this.lastSeq() + 1, m);
    if (row) this.lastSeqCache = row.seq;
    // Encrypted chats hold ciphertext only: never indexed.
    if (row && m.senderId && !this.config()?.encrypted) this.index.add(row.seq, m.text, m.content ?? null);
    return row;
  }

  /** Replace a message's text and content, keeping the version it replaces in the edit history. */
  editMessage(row: MessageRow, edit: { text: string | null; content: string | null }, at: number): void {
    this.edits.record(row.seq, { text: row.text, content: row.content, at: row.edited_at ?? row.created_at });
    this.sql.exec("UPDATE messages SET text = ?, content = ?, edited_at = ? WHERE seq = ?", edit.text, edit.content, at, row.seq);
    if (!this.config()?.encrypted) this.index.replace(row.seq, edit.text, edit.content);
  }

  /**
   * Delete a message for everyone: its text, content, edit history and reactions are erased (a tombstone
   * keeps the seq), its mentions stop counting, quotes of it lose the quoted text, and the
   * message it replied to counts one reply fewer.
   */
  deleteMessage(row: MessageRow, at: number): void {
    this.sql.exec("UPDATE messages SET deleted_at = ?, text = NULL, content = NULL WHERE seq = ? AND deleted_at IS NULL", at, row.seq);
    this.edits.erase(row.seq);
    this.mentions.erase(row.seq);
    this.polls.erase(row.seq);
    this.reactions.erase(row.seq);
    this.index.remove(row.seq);
    this.envelopes.erase(row.seq);
    this.sql.exec("UPDATE messages SET content = json_set(content, '$.quote.text', NULL) WHERE quote_seq = ?", row.seq);
    // A shadow reply was never counted.
    if (row.reply_to_seq !== null && row.shadow === null) this.changeReplyCount(row.reply_to_seq, -1);
  }

  /** Count a reply to `seq` in (+1) or out (−1); returns the parent's row after the change. */
  changeReplyCount(seq: number, delta: number): MessageRow | undefined {
    return this.sql
      .exec<MessageRow>("UPDATE messages SET reply_count = max(0, reply_count + ?) WHERE seq = ? RETURNING *", delta, seq)
      .toArray()[0];
  }

  isHidden(userId: string, seq: number): boolean {
    return this.sql.exec("SELECT 1 FROM hidden WHERE user_id = ? AND seq = ?", userId, seq).toArray().length > 0;
  }

  /** The newest message that is not deleted nor a shadow message (the chat list preview). */
  lastVisibleMessage(): MessageRow | undefined {
    return this.sql
      .exec<MessageRow>("SELECT * FROM messages WHERE deleted_at IS NULL AND shadow IS NULL ORDER BY seq DESC LIMIT 1")
      .toArray()[0];
  }

  /**
   * The newest `limit` messages after `seq`, created after `createdAfter`, that may notify (not
   * deleted, not shadowed, not system), oldest first.
   */
  notifiableAfter(seq: number, limit: number, createdAfter: number): Pick<MessageRow, "seq" | "sender_id" | "content">[] {
    return this.sql
      .exec<Pick<MessageRow, "seq" | "sender_id" | "content">>(
        `SELECT seq, sender_id, content FROM messages
          WHERE seq > ? AND created_at > ? AND deleted_at IS NULL AND shadow IS NULL AND type != 'system'
          ORDER BY seq DESC LIMIT ?`,
        seq,
        createdAfter,
        limit,
      )
      .toArray()
      .reverse();
  }

  /** The newest message `userId` sees that is not deleted: theirs while shadow-banned count too. */
  lastVisibleMessageFor(userId: string): MessageRow | undefined {
    return this.sql
      .exec<MessageRow>(
        "SELECT * FROM messages m WHERE deleted_at IS NULL AND (m.shadow IS NULL OR m.sender_id = ?) ORDER BY seq DESC LIMIT 1",
        userId,
      )
      .toArray()[0];
  }

  hideFor(userId: string, seq: number): void {
    this.sql.exec("INSERT OR IGNORE INTO hidden (user_id, seq) VALUES (?, ?)", userId, seq);
  }

  /** One page of history for `userId` in seq order (see history-pages.ts). */
  page(userId: string, q: HistoryPageQuery): { rows: MessageRow[]; hasMore: boolean } {
    return historyPage(this.sql, userId, q);
  }

  /** Replies to the message at `parentSeq` visible to `userId`, oldest first, after a seq (keyset). */
  threadPage(userId: string, parentSeq: number, q: { after?: number; limit: number }): { rows: MessageRow[]; hasMore: boolean } {
    return threadPage(this.sql, userId, parentSeq, q);
  }

  /** Messages after `seq` that count as unread for `userId`: others' text, not deleted, hidden or shadow messages. */
  unreadCount(userId: string, afterSeq: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT count(*) AS n FROM messages m WHERE seq > ? AND type != 'system' AND deleted_at IS NULL AND shadow IS NULL
           AND (sender_id IS NULL OR sender_id != ?)
           AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ? AND h.seq = m.seq)`,
        afterSeq,
        userId,
        userId,
      )
      .one().n;
  }
}
