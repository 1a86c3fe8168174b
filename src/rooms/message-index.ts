import { type MessageRow, SEEN_BY_VIEWER_SQL } from "./message-rows";
import { indexableText } from "./search-query";

/**
 * The room's full-text index (SQLite FTS5, `unicode61 remove_diacritics 2`: case and accents
 * ignored, any script split at spaces and punctuation; Chinese and Japanese split per character,
 * see search-query.ts). One row per message someone sent, keyed by its seq: its text or caption,
 * its attachments' file names and a shared contact's name. Kept in step with the log in the same
 * transactions: edits re-index, deletes and clearing remove; system messages are not indexed.
 */
const SCHEMA = `CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')`;

/** Recency's weight halves over this age: a match a month old counts 3/4 of a fresh one, a year old about half. */
const RECENCY_SCALE_MS = 30 * 24 * 60 * 60 * 1000;

/** What a search may be narrowed to. Times are ms. */
export interface SearchFilters {
  from?: string;
  type?: string;
  before?: number;
  after?: number;
  hasMedia?: boolean;
}

/** `relevance`: bm25 blended with recency (best first); `recent`: newest first. */
export type SearchOrder = "relevance" | "recent";

/** Where a page continues: the score and seq of the last hit given, and the clock the scores were computed at. */
export interface SearchKey {
  score: number;
  seq: number;
}

/** One match: the message row and its score. */
export interface SearchHit {
  row: MessageRow;
  score: number;
}

type SearchQuery = Parameters<MessageIndex["search"]>[0];

/**
 * What a hit must be for the viewer (`?2`): not deleted, not hidden by them, not someone else's
 * shadow message; and the filters (`?4`–`?8`).
 */
const VISIBLE_AND_FILTERED = `m.deleted_at IS NULL AND ${SEEN_BY_VIEWER_SQL.replace("?", "?2")}
  AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ?2 AND h.seq = m.seq)
  AND (?4 IS NULL OR m.sender_id = ?4) AND (?5 IS NULL OR m.type = ?5)
  AND (?6 IS NULL OR m.created_at < ?6) AND (?7 IS NULL OR m.created_at > ?7)
  AND (?8 IS NULL OR (json_extract(m.content, '$.attachments') IS NOT NULL) = ?8)`;

/** The numbered parameters both page queries bind (?1–?11). */
function params(q: SearchQuery): SqlStorageValue[] {
  const f = q.filters;
  const hasMedia = f.hasMedia === undefined ? null : f.hasMedia ? 1 : 0;
  return [
    q.match,
    q.viewerId,
    q.now,
    f.from ?? null,
    f.type ?? null,
    f.before ?? null,
    f.after ?? null,
    hasMedia,
    q.after?.score ?? null,
    q.after?.seq ?? null,
    q.limit + 1,
  ];
}

/** The text a message is found by: its text, its attachments' file names, a shared contact's name (one per line). */
export function searchableText(text: string | null, content: string | null): string {
  const parts = text ? [text] : [];
  if (content) {
    const parsed = JSON.parse(content) as { attachments?: { fileName?: string | null }[]; contact?: { name?: string } };
    for (const a of parsed.attachments ?? []) if (a.fileName) parts.push(a.fileName);
    if (parsed.contact?.name) parts.push(parsed.contact.name);
  }
  return parts.join("\n");
}

/** The room's FTS5 index of its messages (see SCHEMA's comment). */
export class MessageIndex {
  /** `encrypted`: whether the chat is end-to-end encrypted (then nothing is ever indexed). */
  constructor(
    private readonly sql: SqlStorage,
    encrypted: () => boolean = () => false,
  ) {
    const existed = sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'message_fts'").toArray().length > 0;
    sql.exec(SCHEMA);
    // A room older than the index: what it holds is indexed now, once.
    if (!existed && !encrypted()) this.backfill();
  }

  /** Index the message at `seq` (inside its insert's transaction). */
  add(seq: number, text: string | null, content: string | null): void {
    const body = indexableText(searchableText(text, content));
    if (body.trim()) this.sql.exec("INSERT INTO message_fts (rowid, body) VALUES (?, ?)", seq, body);
  }

  /** The message at `seq` was edited: index its new text. */
  replace(seq: number, text: string | null, content: string | null): void {
    this.remove(seq);
    this.add(seq, text, content);
  }

  /** The message at `seq` was deleted (or expired). */
  remove(seq: number): void {
    this.sql.exec("DELETE FROM message_fts WHERE rowid = ?", seq);
  }

  /** The history was cleared up to `seq`. */
  truncate(seq: number): void {
    this.sql.exec("DELETE FROM message_fts WHERE rowid <= ?", seq);
  }

  /**
   * One page of `match` hits (a safe MATCH expression: toMatchExpression) as `viewerId` sees the
   * log: not deleted, not hidden by them, not someone else's shadow message; narrowed by
   * `filters`, best first (`relevance`, scored at `now`) or newest first, after `after`.
   * Fetches `limit + 1` so the caller knows whether there is more.
   */
  search(q: {
    viewerId: string;
    match: string;
    filters: SearchFilters;
    order: SearchOrder;
    now: number;
    after: SearchKey | null;
    limit: number;
  }): SearchHit[] {
    const page = q.order === "recent" ? this.newestHits(q) : this.bestHits(q);
    if (page.length === 0) return [];
    const rows = this.sql
      .exec<MessageRow>("SELECT * FROM messages WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify(page.map((p) => p.seq)))
      .toArray();
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    return page.flatMap(({ seq, score }) => {
      const row = bySeq.get(seq);
      return row ? [{ row, score }] : [];
    });
  }

  /**
   * `relevance`: every hit is scored (bm25 blended with recency at `now`), then the best page
   * after the cursor is kept: the cost grows with the number of hits.
   */
  private bestHits(q: SearchQuery): { seq: number; score: number }[] {
    return this.sql
      .exec<{ seq: number; score: number }>(
        `SELECT * FROM (
           SELECT m.seq AS seq, -bm25(message_fts) * (0.5 + 0.5 / (1.0 + (?3 - m.created_at) / ${RECENCY_SCALE_MS}.0)) AS score
             FROM message_fts CROSS JOIN messages m ON m.seq = message_fts.rowid
            WHERE message_fts MATCH ?1 AND ${VISIBLE_AND_FILTERED}
         )
         WHERE ?9 IS NULL OR score < ?9 OR (score = ?9 AND seq < ?10)
         ORDER BY score DESC, seq DESC LIMIT ?11`,
        ...params(q),
      )
      .toArray();
  }

  /** `recent`: FTS5 walks its hits newest first and stops once the page is full. */
  private newestHits(q: SearchQuery): { seq: number; score: number }[] {
    return this.sql
      .exec<{ seq: number; score: number }>(
        `SELECT m.seq AS seq, m.seq AS score
           FROM message_fts CROSS JOIN messages m ON m.seq = message_fts.rowid
          WHERE message_fts MATCH ?1 AND ${VISIBLE_AND_FILTERED} AND (?10 IS NULL OR message_fts.rowid < ?10)
          ORDER BY message_fts.rowid DESC LIMIT ?11`,
        ...params(q),
      )
      .toArray();
  }

  /** Bytes of the index's own tables (its inverted index, its copy of the text, document sizes), for the bench. */
  sizeBytes(): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT (SELECT coalesce(sum(length(block)), 0) FROM message_fts_data)
              + (SELECT coalesce(sum(length(c0)), 0) FROM message_fts_content)
              + (SELECT coalesce(sum(length(sz)), 0) FROM message_fts_docsize) AS n`,
      )
      .one().n;
  }

  /** Index every message a room holds from before the index existed, in batches. */
  private backfill(): void {
    let after = 0;
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; text: string | null; content: string | null }>(
          "SELECT seq, text, content FROM messages WHERE seq > ? AND sender_id IS NOT NULL AND deleted_at IS NULL ORDER BY seq LIMIT 1000",
          after,
        )
        .toArray();
      for (const r of rows) this.add(r.seq, r.text, r.content);
      if (rows.length < 1000) return;
      after = rows[rows.length - 1]!.seq;
    }
  }
}
