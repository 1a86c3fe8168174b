import type { PollDefinition, PollView } from "./poll-types";
import { addMissingColumns } from "./schema-upgrade";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS polls (
  seq INTEGER PRIMARY KEY,
  definition TEXT NOT NULL,
  closes_at INTEGER,
  closed_at INTEGER
);
CREATE INDEX IF NOT EXISTS polls_closing_idx ON polls (closes_at) WHERE closes_at IS NOT NULL AND closed_at IS NULL;
CREATE TABLE IF NOT EXISTS poll_votes (
  seq INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  option_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  shadow INTEGER,
  PRIMARY KEY (seq, user_id, option_id)
);
`;

/** SQL condition on a poll_votes row `v`: counted for everyone, or a shadow vote of the viewer (`?1`). */
const COUNTED_FOR_VIEWER = "(v.shadow IS NULL OR v.user_id = ?1)";

/** One stored poll: its definition and close times (ms). */
export interface StoredPoll {
  seq: number;
  definition: PollDefinition;
  closesAt: number | null;
  closedAt: number | null;
}

/** Per-option counts and the number of people who voted. */
export interface PollTally {
  totalVoters: number;
  counts: Record<string, number>;
}

type PollRow = { seq: number; definition: string; closes_at: number | null; closed_at: number | null };
type ViewRow = PollRow & { option_id: string | null; n: number; mine: number; voters: string | null; total: number };

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());
const stored = (r: PollRow): StoredPoll => ({
  seq: r.seq,
  definition: JSON.parse(r.definition) as PollDefinition,
  closesAt: r.closes_at,
  closedAt: r.closed_at,
});

/** Whether a poll is closed at `now`: closed by someone, or past its close time (even before the alarm ran). */
export const isClosed = (poll: StoredPoll, now: number) => poll.closedAt !== null || (poll.closesAt !== null && poll.closesAt <= now);

/**
 * The room's polls (one per poll message, keyed by its seq) and their votes. Counts are always
 * read from the votes themselves, so they are exact; the room serializes every write.
 * Erased with the message (delete for everyone, truncate).
 */
export class PollStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    // Rooms whose votes predate shadow bans get the column.
    addMissingColumns(sql, "poll_votes", [["shadow", "INTEGER"]]);
  }

  create(seq: number, definition: PollDefinition, closesAt: number | null): void {
    this.sql.exec("INSERT INTO polls (seq, definition, closes_at) VALUES (?, ?, ?)", seq, JSON.stringify(definition), closesAt);
  }

  get(seq: number): StoredPoll | undefined {
    const row = this.sql.exec<PollRow>("SELECT * FROM polls WHERE seq = ?", seq).toArray()[0];
    return row ? stored(row) : undefined;
  }

  /** The options `userId` voted for ([] for none). */
  votesOf(seq: number, userId: string): string[] {
    return this.sql
      .exec<{ option_id: string }>("SELECT option_id FROM poll_votes WHERE seq = ? AND user_id = ? ORDER BY option_id", seq, userId)
      .toArray()
      .map((r) => r.option_id);
  }

  /** Record `userId`'s votes; `shadow` ones (a shadow-banned member's) count for that member alone. */
  vote(seq: number, userId: string, optionIds: readonly string[], at: number, shadow = false): void {
    for (const optionId of optionIds) {
      this.sql.exec(
        "INSERT INTO poll_votes (seq, user_id, option_id, created_at, shadow) VALUES (?, ?, ?, ?, ?)",
        seq,
        userId,
        optionId,
        at,
        shadow ? 1 : null,
      );
    }
  }

  /** Take back `userId`'s votes; answers how many options they had voted for. */
  retract(seq: number, userId: string): number {
    return this.sql.exec("DELETE FROM poll_votes WHERE seq = ? AND user_id = ?", seq, userId).rowsWritten;
  }

  close(seq: number, at: number): void {
    this.sql.exec("UPDATE polls SET closed_at = ? WHERE seq = ? AND closed_at IS NULL", at, seq);
  }

  /** The counts everyone sees, or (with `viewerId`) as that member sees them: with their own shadow votes. */
  tally(seq: number, viewerId: string | null = null): PollTally {
    const rows = this.sql
      .exec<{ option_id: string; n: number }>(
        `SELECT option_id, count(*) AS n FROM poll_votes v WHERE seq = ?2 AND ${COUNTED_FOR_VIEWER} GROUP BY option_id`,
        viewerId,
        seq,
      )
      .toArray();
    const total = this.sql
      .exec<{ n: number }>(`SELECT count(DISTINCT user_id) AS n FROM poll_votes v WHERE seq = ?2 AND ${COUNTED_FOR_VIEWER}`, viewerId, seq)
      .one().n;
    return { totalVoters: total, counts: Object.fromEntries(rows.map((r) => [r.option_id, r.n])) };
  }

  /** Shadow-banned members who voted in the poll at `seq` (each sees counts with their own vote). */
  shadowVoters(seq: number): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT DISTINCT user_id FROM poll_votes WHERE seq = ? AND shadow = 1", seq)
      .toArray()
      .map((r) => r.user_id);
  }

  /** Polls whose close time has come and that nobody closed yet. */
  due(now: number): StoredPoll[] {
    return this.sql
      .exec<PollRow>("SELECT * FROM polls WHERE closes_at IS NOT NULL AND closed_at IS NULL AND closes_at <= ? ORDER BY closes_at", now)
      .toArray()
      .map(stored);
  }

  /** The earliest close time of an open poll (the room's alarm wakes for it), or null. */
  nextCloseAt(): number | null {
    return this.sql
      .exec<{ at: number | null }>("SELECT min(closes_at) AS at FROM polls WHERE closes_at IS NOT NULL AND closed_at IS NULL")
      .one().at;
  }

  /**
   * The polls at `seqs` as `viewerId` sees them (null: nobody in particular, for broadcast
   * frames), in one query: counts per option, the viewer's own votes, voters of public polls.
   * Shadow votes count for their own voter alone.
   */
  views(seqs: readonly number[], viewerId: string | null, now: number): Map<number, PollView> {
    const views = new Map<number, PollView>();
    if (seqs.length === 0) return views;
    const rows = this.sql
      .exec<ViewRow>(
        `SELECT p.seq, p.definition, p.closes_at, p.closed_at, v.option_id, count(v.user_id) AS n,
                coalesce(sum(v.user_id = ?1), 0) AS mine,
                CASE WHEN json_extract(p.definition, '$.anonymous') THEN NULL ELSE json_group_array(v.user_id) END AS voters,
                (SELECT count(DISTINCT v.user_id) FROM poll_votes v WHERE v.seq = p.seq AND ${COUNTED_FOR_VIEWER}) AS total
           FROM polls p LEFT JOIN poll_votes v ON v.seq = p.seq AND ${COUNTED_FOR_VIEWER}
          WHERE p.seq IN (SELECT value FROM json_each(?2))
          GROUP BY p.seq, v.option_id`,
        viewerId,
        JSON.stringify(seqs),
      )
      .toArray();
    const bySeq = new Map<number, ViewRow[]>();
    for (const row of rows) bySeq.set(row.seq, [...(bySeq.get(row.seq) ?? []), row]);
    for (const [seq, group] of bySeq) views.set(seq, renderView(group, viewerId, now));
    return views;
  }

  /** Forget the poll of a deleted message, and its votes. */
  erase(seq: number): void {
    this.sql.exec("DELETE FROM polls WHERE seq = ?", seq);
    this.sql.exec("DELETE FROM poll_votes WHERE seq = ?", seq);
  }

  /** Forget the polls of every message up to `seq` (the history was cleared). */
  truncate(seq: number): void {
    this.sql.exec("DELETE FROM polls WHERE seq <= ?", seq);
    this.sql.exec("DELETE FROM poll_votes WHERE seq <= ?", seq);
  }
}

/** One poll's rows (one per option voted for, or one with no option) as `viewerId` sees it. */
function renderView(group: ViewRow[], viewerId: string | null, now: number): PollView {
  const poll = stored(group[0]!);
  const def = poll.definition;
  const byOption = new Map(group.filter((r) => r.option_id !== null).map((r) => [r.option_id!, r]));
  const myVotes = group.filter((r) => r.mine > 0).map((r) => r.option_id!);
  const closed = isClosed(poll, now);
  const creator = viewerId !== null && viewerId === def.creatorId;
  const resultsVisible = closed || creator || !def.hideResultsUntilVoted || myVotes.length > 0;
  const answerVisible = def.quiz !== null && (closed || creator || myVotes.length > 0);
  return {
    question: def.question,
    options: def.options.map((o) => {
      const row = byOption.get(o.id);
      const voters = row?.voters ? (JSON.parse(row.voters) as string[]) : [];
      return {
        id: o.id,
        text: o.text,
        votes: resultsVisible ? (row?.n ?? 0) : null,
        voters: resultsVisible && !def.anonymous ? voters : null,
      };
    }),
    multipleChoice: def.multipleChoice,
    anonymous: def.anonymous,
    hideResultsUntilVoted: def.hideResultsUntilVoted,
    resultsVisible,
    totalVoters: group[0]!.total,
    myVotes: myVotes.sort(),
    quiz: def.quiz !== null,
    correctOptionId: answerVisible ? def.quiz!.correctOptionId : null,
    explanation: answerVisible ? def.quiz!.explanation : null,
    closed,
    closesAt: iso(poll.closesAt),
    closedAt: iso(poll.closedAt ?? (closed ? poll.closesAt : null)),
  };
}
