import { addMissingColumns } from "./schema-upgrade";
import type { RoomMember } from "./types";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS members (
  user_id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  permissions TEXT NOT NULL,
  read_receipts INTEGER NOT NULL,
  read_seq INTEGER NOT NULL DEFAULT 0,
  delivered_seq INTEGER NOT NULL DEFAULT 0,
  shadow_until INTEGER
);
CREATE TABLE IF NOT EXISTS former_members (user_id TEXT PRIMARY KEY, reason TEXT NOT NULL, at INTEGER NOT NULL);
`;

interface MemberRow {
  user_id: string;
  role: string;
  permissions: string;
  read_receipts: number;
  read_seq: number;
  delivered_seq: number;
  shadow_until: number | null;
  [key: string]: SqlStorageValue;
}

export interface MemberState extends RoomMember {
  readSeq: number;
  deliveredSeq: number;
  shadowBannedUntil: number | null;
}

/** Whether what `member` posts now is seen by them alone (a shadow ban in force). */
export const isShadowBanned = (member: Pick<MemberState, "shadowBannedUntil">, at = Date.now()) =>
  member.shadowBannedUntil !== null && member.shadowBannedUntil > at;

/**
 * The room's copy of its members (D1 stays the source of truth; the Worker keeps this fresh by
 * RPC and the room loads a member it has not heard of), their read and delivered positions, and
 * why former members left (a removed or banned member is refused without asking D1).
 */
export class MemberCache {
  /** Members read so far (null: known not to be in the table), kept in step with every write. */
  private readonly known = new Map<string, MemberState | null>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    // Rooms created before shadow bans lack the column.
    addMissingColumns(sql, "members", [["shadow_until", "INTEGER"]]);
  }

  /** Forget what memory holds (after a transaction rolled back). */
  reset(): void {
    this.known.clear();
  }

  private toMember(r: MemberRow): MemberState {
    return {
      userId: r.user_id,
      role: r.role as MemberState["role"],
      overrides: JSON.parse(r.permissions) as MemberState["overrides"],
      readReceipts: r.read_receipts === 1,
      readSeq: r.read_seq,
      deliveredSeq: r.delivered_seq,
      shadowBannedUntil: r.shadow_until,
    };
  }

  get(userId: string): MemberState | null {
    let member = this.known.get(userId);
    if (member === undefined) {
      const row = this.sql.exec<MemberRow>("SELECT * FROM members WHERE user_id = ?", userId).toArray()[0];
      member = row ? this.toMember(row) : null;
      this.known.set(userId, member);
    }
    return member;
  }

  all(): MemberState[] {
    return this.sql
      .exec<MemberRow>("SELECT * FROM members")
      .toArray()
      .map((r) => this.toMember(r));
  }

  /**
   * Add or refresh a member. A member new to the room starts reading at `startSeq` (what was
   * there before they joined is not unread for them); an existing one keeps their positions, and
   * their shadow ban unless `shadowBannedUntil` is given.
   */
  upsert(m: RoomMember, startSeq = 0): void {
    const shadowGiven = m.shadowBannedUntil !== undefined ? 1 : 0;
    this.sql.exec(
      `INSERT INTO members (user_id, role, permissions, read_receipts, read_seq, delivered_seq, shadow_until) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
       ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, permissions = excluded.permissions, read_receipts = excluded.read_receipts,
         shadow_until = CASE WHEN ?7 = 1 THEN excluded.shadow_until ELSE shadow_until END`,
      m.userId,
      m.role,
      JSON.stringify(m.overrides ?? null),
      m.readReceipts ? 1 : 0,
      startSeq,
      m.shadowBannedUntil ?? null,
      shadowGiven,
    );
    this.sql.exec("DELETE FROM former_members WHERE user_id = ?", m.userId);
    this.known.delete(m.userId);
  }

  /** A member changed their read-receipts privacy setting. */
  setReadReceipts(userId: string, readReceipts: boolean): void {
    this.sql.exec("UPDATE members SET read_receipts = ? WHERE user_id = ?", readReceipts ? 1 : 0, userId);
    this.known.delete(userId);
  }

  /** A member was shadow-banned until `until` (ms), or the shadow ban was lifted (null). */
  setShadowBan(userId: string, until: number | null): void {
    this.sql.exec("UPDATE members SET shadow_until = ? WHERE user_id = ?", until, userId);
    this.known.delete(userId);
  }

  remove(userId: string, reason: string, at: number): void {
    this.sql.exec("DELETE FROM members WHERE user_id = ?", userId);
    this.known.set(userId, null);
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

  /**
   * Move a member's read or delivered position forward (never back); reading implies delivery.
   * One statement; returns true if the position moved.
   */
  advance(userId: string, column: "read_seq" | "delivered_seq", seq: number): boolean {
    const member = this.get(userId);
    if (!member) return false;
    const current = column === "read_seq" ? member.readSeq : member.deliveredSeq;
    if (current >= seq) return false;
    if (column === "read_seq") {
      this.sql.exec("UPDATE members SET read_seq = ?1, delivered_seq = max(delivered_seq, ?1) WHERE user_id = ?2", seq, userId);
      this.known.set(userId, { ...member, readSeq: seq, deliveredSeq: Math.max(member.deliveredSeq, seq) });
    } else {
      this.sql.exec("UPDATE members SET delivered_seq = ? WHERE user_id = ?", seq, userId);
      this.known.set(userId, { ...member, deliveredSeq: seq });
    }
    return true;
  }
}
