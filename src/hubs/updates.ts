/**
 * The user's update log: every change a user's devices hear on the realtime socket gets the next
 * `updateSeq` and is kept for replay (`sync {afterUpdateSeq}`), so a device that reconnects gets
 * every later update in order, or `tooFarBehind` once what it missed was pruned.
 */

/** Updates kept for replay; a device further behind reloads what it shows. */
export const UPDATE_RETENTION = 5_000;

const SCHEMA = `CREATE TABLE IF NOT EXISTS updates (update_seq INTEGER PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL)`;

/** One update as the socket and replay show it. */
export interface HubUpdateFrame {
  updateSeq: number;
  type: string;
  createdAt: string;
  [key: string]: unknown;
}

export class UpdateLog {
  private last: number | null = null;

  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  lastUpdateSeq(): number {
    this.last ??= this.sql.exec<{ s: number | null }>("SELECT max(update_seq) AS s FROM updates").one().s ?? 0;
    return this.last;
  }

  /** Log an update; answers its frame text (serialized once for every socket). */
  append(type: string, payload: Record<string, unknown>, at: number): string {
    const updateSeq = this.lastUpdateSeq() + 1;
    const payloadJson = JSON.stringify(payload);
    this.sql.exec("INSERT INTO updates (update_seq, type, payload, created_at) VALUES (?, ?, ?, ?)", updateSeq, type, payloadJson, at);
    this.last = updateSeq;
    const head = `{"updateSeq":${updateSeq},"type":${JSON.stringify(type)},"createdAt":"${new Date(at).toISOString()}"`;
    return payloadJson === "{}" ? `${head}}` : `${head},${payloadJson.slice(1)}`;
  }

  /** Updates after `after`, in order; `tooFarBehind` when some it needs were already pruned. */
  after(after: number, limit: number): { updates: HubUpdateFrame[]; hasMore: boolean; tooFarBehind: boolean } {
    const oldest = this.sql.exec<{ s: number | null }>("SELECT min(update_seq) AS s FROM updates").one().s;
    const last = this.lastUpdateSeq();
    // Behind what was pruned, or ahead of anything this hub gave out (another account's or a lost log's seq): reload.
    if ((after < last && (oldest === null || after + 1 < oldest)) || after > last)
      return { updates: [], hasMore: false, tooFarBehind: true };
    const rows = this.sql
      .exec<{ update_seq: number; type: string; payload: string; created_at: number }>(
        "SELECT * FROM updates WHERE update_seq > ? ORDER BY update_seq LIMIT ?",
        after,
        limit + 1,
      )
      .toArray();
    const updates = rows.slice(0, limit).map((r) => ({
      updateSeq: r.update_seq,
      type: r.type,
      createdAt: new Date(r.created_at).toISOString(),
      ...(JSON.parse(r.payload) as Record<string, unknown>),
    }));
    return { updates, hasMore: rows.length > limit, tooFarBehind: false };
  }

  /** Drop updates beyond the retention window (the newest always stays, so the last updateSeq does too). */
  prune(): void {
    const cutoff = this.lastUpdateSeq() - UPDATE_RETENTION;
    if (cutoff > 0) this.sql.exec("DELETE FROM updates WHERE update_seq <= ?", cutoff);
  }
}
