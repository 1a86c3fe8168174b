import { and, eq, gt, or, sql } from "drizzle-orm";
import { createDb, type Database } from "../db/client";
import { chatMembers, chats } from "../db/schema";
import type { HubUpdate } from "./protocol";
import { UPDATE_RETENTION, type UpdateLog } from "./updates";

/**
 * The user's chat list order, kept in their hub: one row per chat with what the list sorts and
 * filters on (pinned first, then last activity; archived, hidden). Loaded from D1 once (O(my
 * chats)) and again a day later, then kept current by the updates the hub publishes (activity,
 * membership, settings), so a page of the list costs O(page) wherever the user is a member.
 *
 * Channels and chats over the fan-out limit (HUB_FANOUT_MAX_MEMBERS) are not told of each post
 * (their rooms would call every member's hub): their activity is read from D1 again, for those
 * chats of the user only, when a page is read and it is more than CHANNEL_REFRESH_MS old.
 *
 * Updates can reach the hub out of order (each is its own call): activity older than what the
 * order has (by `lastSeq`) is ignored, and updates published while the order loads from D1 are
 * applied again from the update log once it is loaded.
 */

/** The whole order is read from D1 again after this long (a missed update cannot last). */
export const ORDER_RELOAD_MS = 24 * 3600_000;
/** Channels' activity is read from D1 again at most this often, when the list is read. */
export const CHANNEL_REFRESH_MS = 30_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS chat_order (
  chat_id TEXT PRIMARY KEY,
  pinned INTEGER NOT NULL,
  pinned_at INTEGER,
  last_activity_at INTEGER NOT NULL,
  archived INTEGER NOT NULL,
  hidden INTEGER NOT NULL,
  lazy INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chat_order_page_idx ON chat_order (archived, hidden, pinned DESC, last_activity_at DESC, chat_id DESC);
CREATE TABLE IF NOT EXISTS chat_order_state (id INTEGER PRIMARY KEY CHECK (id = 1), loaded_at INTEGER NOT NULL, channels_at INTEGER NOT NULL);
`;

/** Where a page starts: after the chat with this sort key (pinned, last activity, id). */
export interface ChatOrderKey {
  p: 0 | 1;
  a: number;
  id: string;
}

/** One chat of a page, with its sort key (the next page's cursor). */
export interface ChatOrderEntry extends ChatOrderKey {
  chatId: string;
}

/** What the D1 rows of a page said, for entries that disagree with the order (healed here). */
export interface ChatOrderFact {
  chatId: string;
  /** Null: the user is no longer in this chat. */
  row: { pinnedAt: number | null; lastActivityAt: number; archived: boolean; hidden: boolean; lazy: boolean } | null;
}

/**
 * My memberships with what the list sorts on, all of them or my channels only: the order's D1
 * load (O(my chats), once a day) and the channels' refresh (exported for bench/rows-read).
 */
export function chatOrderRowsQuery(db: Database, userId: string, fanoutMax: number, lazyOnly = false) {
  const lazy = or(eq(chats.type, "channel"), gt(chats.memberCount, fanoutMax));
  return db
    .select({
      chatId: chatMembers.chatId,
      pinnedAt: chatMembers.pinnedAt,
      archived: chatMembers.archived,
      hidden: chatMembers.hidden,
      lastActivityAt: chats.lastActivityAt,
      lastSeq: chats.lastSeq,
      lazy: sql`(${lazy})`.mapWith(Boolean),
    })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(and(eq(chatMembers.userId, userId), lazyOnly ? lazy : undefined));
}

export class ChatOrder {
  /** SQLite rows the last page read (bench/rows-read reports it as the hub's work). */
  lastPageRowsRead = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly d1: D1Database,
    /** Chats over this many members are not told per message (HUB_FANOUT_MAX_MEMBERS). */
    private readonly fanoutMax: number,
    /** The hub's update log: what was published while the order loaded is applied again. */
    private readonly updates: UpdateLog,
  ) {
    sql.exec(SCHEMA);
  }

  /**
   * One page of `userId`'s chats with these flags, in list order, after `after`: up to `limit + 1`
   * entries (one more says there is a next page).
   */
  async page(userId: string, filter: { archived: boolean; hidden: boolean }, limit: number, after: ChatOrderKey | null) {
    await this.ensureLoaded(userId);
    const keyset = after
      ? "AND (pinned < ?1 OR (pinned = ?1 AND (last_activity_at < ?2 OR (last_activity_at = ?2 AND chat_id < ?3))))"
      : "";
    const cursor = this.sql.exec<{ chat_id: string; pinned: number; last_activity_at: number }>(
      `SELECT chat_id, pinned, last_activity_at FROM chat_order WHERE archived = ?4 AND hidden = ?5 ${keyset}
        ORDER BY pinned DESC, last_activity_at DESC, chat_id DESC LIMIT ?6`,
      after?.p ?? 0,
      after?.a ?? 0,
      after?.id ?? "",
      filter.archived ? 1 : 0,
      filter.hidden ? 1 : 0,
      limit + 1,
    );
    const rows = cursor.toArray();
    this.lastPageRowsRead = cursor.rowsRead;
    return rows.map((r): ChatOrderEntry => ({ chatId: r.chat_id, p: r.pinned ? 1 : 0, a: r.last_activity_at, id: r.chat_id }));
  }

  /** Keep the order current with an update the hub is publishing. */
  apply(update: HubUpdate, at: number): void {
    if (!this.loaded()) return; // the first page loads everything anyway
    switch (update.type) {
      case "chat.activity":
        // A chat the order lost (an update it missed) comes back with its activity; older activity is ignored.
        this.sql.exec(
          `INSERT INTO chat_order (chat_id, pinned, pinned_at, last_activity_at, archived, hidden, lazy, last_seq) VALUES (?1, 0, NULL, ?2, 0, 0, 0, ?3)
            ON CONFLICT (chat_id) DO UPDATE SET last_activity_at = ?2, last_seq = ?3 WHERE ?3 >= last_seq`,
          update.chatId,
          Date.parse(update.lastActivityAt),
          update.lastSeq,
        );
        return;
      case "chat.added":
        // Joining again starts over: a row left by a missed removal keeps none of its old flags.
        this.sql.exec(
          `INSERT INTO chat_order (chat_id, pinned, pinned_at, last_activity_at, archived, hidden, lazy, last_seq) VALUES (?, 0, NULL, ?, 0, 0, ?, 0)
            ON CONFLICT (chat_id) DO UPDATE SET pinned = 0, pinned_at = NULL, archived = 0, hidden = 0,
              last_activity_at = excluded.last_activity_at, lazy = excluded.lazy`,
          update.chatId,
          update.lastActivityAt ? Date.parse(update.lastActivityAt) : at,
          update.chatType === "channel" ? 1 : 0,
        );
        return;
      case "chat.removed":
        this.sql.exec("DELETE FROM chat_order WHERE chat_id = ?", update.chatId);
        return;
      case "chat.settings":
        this.sql.exec(
          `UPDATE chat_order SET pinned = ?, pinned_at = CASE WHEN ? THEN coalesce(pinned_at, ?) ELSE NULL END, archived = ?, hidden = ?
            WHERE chat_id = ?`,
          update.pinned ? 1 : 0,
          update.pinned ? 1 : 0,
          at,
          update.archived ? 1 : 0,
          update.hidden ? 1 : 0,
          update.chatId,
        );
        return;
      default:
        return;
    }
  }

  /** What D1 said about a page's chats, where it disagrees with the order: D1 wins. */
  heal(facts: readonly ChatOrderFact[]): void {
    for (const { chatId, row } of facts) {
      if (!row) {
        this.sql.exec("DELETE FROM chat_order WHERE chat_id = ?", chatId);
        continue;
      }
      this.upsert(chatId, row);
    }
  }

  private loaded(): boolean {
    return this.sql.exec("SELECT 1 FROM chat_order_state").toArray().length > 0;
  }

  /** Load the order from D1 when the hub has none or it is a day old; refresh channels when due. */
  private async ensureLoaded(userId: string): Promise<void> {
    const at = Date.now();
    const state = this.sql
      .exec<{ loaded_at: number; channels_at: number }>("SELECT loaded_at, channels_at FROM chat_order_state")
      .toArray()[0];
    if (!state || at - state.loaded_at > ORDER_RELOAD_MS) return this.load(userId, at);
    if (at - state.channels_at > CHANNEL_REFRESH_MS) await this.refreshChannels(userId, at);
  }

  private async load(userId: string, at: number): Promise<void> {
    // Updates published while D1 answers are newer than what it read: applied again below.
    const since = this.updates.lastUpdateSeq();
    const rows = await this.membershipRows(userId);
    this.sql.exec("DELETE FROM chat_order");
    for (const r of rows) this.upsert(r.chatId, r);
    this.sql.exec(
      "INSERT INTO chat_order_state (id, loaded_at, channels_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET loaded_at = excluded.loaded_at, channels_at = excluded.channels_at",
      at,
      at,
    );
    const { updates } = this.updates.after(since, UPDATE_RETENTION);
    for (const u of updates) this.apply(u as unknown as HubUpdate, Date.parse(u.createdAt));
  }

  /** The activity of my channels and large chats, from D1 (their rooms do not tell every member's hub). */
  private async refreshChannels(userId: string, at: number): Promise<void> {
    const rows = await this.membershipRows(userId, true);
    for (const r of rows) {
      this.sql.exec(
        "UPDATE chat_order SET last_activity_at = ?, last_seq = ?, lazy = 1 WHERE chat_id = ? AND last_seq <= ?",
        r.lastActivityAt,
        r.lastSeq,
        r.chatId,
        r.lastSeq,
      );
    }
    this.sql.exec("UPDATE chat_order_state SET channels_at = ?", at);
  }

  private membershipRows(userId: string, lazyOnly = false) {
    return chatOrderRowsQuery(createDb(this.d1), userId, this.fanoutMax, lazyOnly);
  }

  private upsert(chatId: string, r: NonNullable<ChatOrderFact["row"]> & { lastSeq?: number }): void {
    this.sql.exec(
      `INSERT INTO chat_order (chat_id, pinned, pinned_at, last_activity_at, archived, hidden, lazy, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (chat_id) DO UPDATE SET pinned = excluded.pinned, pinned_at = excluded.pinned_at,
          last_activity_at = excluded.last_activity_at, archived = excluded.archived, hidden = excluded.hidden, lazy = excluded.lazy,
          last_seq = max(last_seq, excluded.last_seq)`,
      chatId,
      r.pinnedAt !== null ? 1 : 0,
      r.pinnedAt,
      r.lastActivityAt,
      r.archived ? 1 : 0,
      r.hidden ? 1 : 0,
      r.lazy ? 1 : 0,
      r.lastSeq ?? 0,
    );
  }
}
