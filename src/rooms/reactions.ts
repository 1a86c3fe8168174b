import { addMissingColumns } from "./schema-upgrade";
import type { MessageReaction } from "./types";

/** Distinct emojis one member may put on one message. */
export const MAX_REACTIONS_PER_USER = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS reactions (
  seq INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  emoji TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  shadow INTEGER,
  PRIMARY KEY (seq, user_id, emoji)
);
CREATE INDEX IF NOT EXISTS reactions_time_idx ON reactions (seq, created_at, user_id, emoji);
`;

/** One reaction as `GET …/reactions` lists it. */
export interface ReactionRow {
  userId: string;
  emoji: string;
  createdAt: number;
}

/** Where a page of reactions continues: the sort key (time, user, emoji) of the last row given. */
export interface ReactionKey {
  t: number;
  u: string;
  e: string;
}

/**
 * Reactions on the room's messages: who put which emoji on which seq. Counts are computed from
 * the rows (no counters to drift), for a whole page of seqs in one query; a summary is ordered by
 * count, then by which emoji came first (insertion order, so ties between concurrent reactions
 * stay stable).
 */
export class ReactionStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    // Rooms whose table predates shadow bans get the column.
    addMissingColumns(sql, "reactions", [["shadow", "INTEGER"]]);
  }

  /**
   * Add `userId`'s `emoji` to `seq`: `added`, `exists` (already there: nothing changes) or
   * `limit` (they already have MAX_REACTIONS_PER_USER other emojis on it). A `shadow` reaction
   * (its member is shadow-banned) counts for them alone.
   */
  add(seq: number, userId: string, emoji: string, at: number, shadow = false): "added" | "exists" | "limit" {
    const mine = this.sql
      .exec<{ emoji: string }>("SELECT emoji FROM reactions WHERE seq = ? AND user_id = ?", seq, userId)
      .toArray()
      .map((r) => r.emoji);
    if (mine.includes(emoji)) return "exists";
    if (mine.length >= MAX_REACTIONS_PER_USER) return "limit";
    this.sql.exec(
      "INSERT INTO reactions (seq, user_id, emoji, created_at, shadow) VALUES (?, ?, ?, ?, ?)",
      seq,
      userId,
      emoji,
      at,
      shadow ? 1 : null,
    );
    return "added";
  }

  /** Take `userId`'s `emoji` off `seq`; false when it was not there. */
  remove(seq: number, userId: string, emoji: string): boolean {
    return this.sql.exec("DELETE FROM reactions WHERE seq = ? AND user_id = ? AND emoji = ?", seq, userId, emoji).rowsWritten > 0;
  }

  /**
   * The reactions of each of `seqs` (one query for them all), `me` set for `viewerId`'s own
   * (always false without a viewer). Shadow reactions count only for their own member. Seqs
   * without reactions are absent from the map.
   */
  summaries(seqs: readonly number[], viewerId: string | null): Map<number, MessageReaction[]> {
    const out = new Map<number, MessageReaction[]>();
    if (seqs.length === 0) return out;
    const rows = this.sql.exec<{ seq: number; emoji: string; n: number; me: number }>(
      `SELECT seq, emoji, count(*) AS n, max(user_id = ?) AS me FROM reactions
        WHERE seq IN (SELECT value FROM json_each(?)) AND (shadow IS NULL OR user_id = ?1)
        GROUP BY seq, emoji ORDER BY seq, n DESC, min(rowid)`,
      viewerId ?? "",
      JSON.stringify(seqs),
    );
    for (const r of rows) {
      const list = out.get(r.seq) ?? [];
      list.push({ emoji: r.emoji, count: r.n, me: viewerId !== null && r.me === 1 });
      out.set(r.seq, list);
    }
    return out;
  }

  /** One message's reactions as `viewerId` sees them. */
  summary(seq: number, viewerId: string | null): MessageReaction[] {
    return this.summaries([seq], viewerId).get(seq) ?? [];
  }

  /** Who reacted to `seq` (with `emoji` only, when given) as `viewerId` sees it, oldest first, after `after` (keyset). */
  list(seq: number, viewerId: string, q: { emoji?: string; after: ReactionKey | null; limit: number }): ReactionRow[] {
    const after = q.after ?? { t: -1, u: "", e: "" };
    return this.sql
      .exec<{ user_id: string; emoji: string; created_at: number }>(
        `SELECT user_id, emoji, created_at FROM reactions
          WHERE seq = ? AND (? IS NULL OR emoji = ?) AND (created_at, user_id, emoji) > (?, ?, ?)
            AND (shadow IS NULL OR user_id = ?)
          ORDER BY created_at, user_id, emoji LIMIT ?`,
        seq,
        q.emoji ?? null,
        q.emoji ?? null,
        after.t,
        after.u,
        after.e,
        viewerId,
        q.limit,
      )
      .toArray()
      .map((r) => ({ userId: r.user_id, emoji: r.emoji, createdAt: r.created_at }));
  }

  /** Shadow-banned members with reactions on any of `seqs`, by seq (each sees counts with their own). */
  shadowReactors(seqs: readonly number[]): Map<number, string[]> {
    const out = new Map<number, string[]>();
    const rows = this.sql.exec<{ seq: number; user_id: string }>(
      "SELECT DISTINCT seq, user_id FROM reactions WHERE shadow = 1 AND seq IN (SELECT value FROM json_each(?))",
      JSON.stringify(seqs),
    );
    for (const r of rows) out.set(r.seq, [...(out.get(r.seq) ?? []), r.user_id]);
    return out;
  }

  /** A message was deleted for everyone: its reactions go with its content. */
  erase(seq: number): void {
    this.sql.exec("DELETE FROM reactions WHERE seq = ?", seq);
  }

  /** The history was cleared up to `seq`. */
  truncate(seq: number): void {
    this.sql.exec("DELETE FROM reactions WHERE seq <= ?", seq);
  }
}
