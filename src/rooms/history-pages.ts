import { type MessageRow, SEEN_BY_VIEWER_SQL } from "./message-rows";

/**
 * Pages of a room's messages as one member sees them: through the primary key or the thread
 * index, never the whole log, leaving out what they hid for themselves and others' shadow messages.
 */

export type HistoryPageQuery = { before?: number; after?: number; around?: number; limit: number };

/**
 * One page of history for `userId` in seq order, through the primary key (never the whole
 * log): `before`/`after` a seq, `around` one (half each side), or the latest.
 */
export function historyPage(sql: SqlStorage, userId: string, q: HistoryPageQuery): { rows: MessageRow[]; hasMore: boolean } {
  const visible = `NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ? AND h.seq = m.seq) AND ${SEEN_BY_VIEWER_SQL}`;
  const take = (where: string, order: "ASC" | "DESC", bound: number, limit: number) =>
    sql
      .exec<MessageRow>(
        `SELECT * FROM messages m WHERE ${where} AND ${visible} ORDER BY seq ${order} LIMIT ?`,
        bound,
        userId,
        userId,
        limit + 1,
      )
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

/** Replies to the message at `parentSeq` visible to `userId`, oldest first, after a seq (keyset). */
export function threadPage(
  sql: SqlStorage,
  userId: string,
  parentSeq: number,
  q: { after?: number; limit: number },
): { rows: MessageRow[]; hasMore: boolean } {
  const rows = sql
    .exec<MessageRow>(
      `SELECT * FROM messages m WHERE reply_to_seq = ? AND seq > ?
         AND NOT EXISTS (SELECT 1 FROM hidden h WHERE h.user_id = ? AND h.seq = m.seq) AND ${SEEN_BY_VIEWER_SQL}
       ORDER BY seq LIMIT ?`,
      parentSeq,
      q.after ?? 0,
      userId,
      userId,
      q.limit + 1,
    )
    .toArray();
  return { rows: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}
