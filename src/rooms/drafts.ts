import { AppError } from "../lib/errors";
import type { RoomCore } from "./room-core";

const SCHEMA = `CREATE TABLE IF NOT EXISTS drafts (
  user_id TEXT PRIMARY KEY,
  text TEXT NOT NULL,
  reply_to_id TEXT,
  updated_at INTEGER NOT NULL
)`;

/** A member's unsent text in this chat, as their devices see it. */
export interface Draft {
  text: string;
  replyToId: string | null;
  updatedAt: string;
}

/**
 * Drafts: one per member per chat, private to them. A change goes to the member's own sockets
 * at once (a `draft` frame, never to others and never into the shared event log, which every
 * member replays) and to all their devices as a `chat.draft` update of their hub; sending a
 * message clears the sender's draft.
 */
export class Drafts {
  /** Members with a draft, mirrored in memory so a send by someone without one costs no statement (null: not read yet). */
  private holders: Set<string> | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly room: RoomCore,
  ) {
    sql.exec(SCHEMA);
  }

  /** Forget what memory holds (after a transaction rolled back). */
  reset(): void {
    this.holders = null;
  }

  private withDrafts(): Set<string> {
    this.holders ??= new Set(
      this.sql
        .exec<{ user_id: string }>("SELECT user_id FROM drafts")
        .toArray()
        .map((r) => r.user_id),
    );
    return this.holders;
  }

  /** My draft here, or null. */
  async get(userId: string): Promise<Draft | null> {
    await this.room.access.requireMember(userId);
    const row = this.sql
      .exec<{ text: string; reply_to_id: string | null; updated_at: number }>("SELECT * FROM drafts WHERE user_id = ?", userId)
      .toArray()[0];
    return row ? { text: row.text, replyToId: row.reply_to_id, updatedAt: new Date(row.updated_at).toISOString() } : null;
  }

  /** Save my draft (a reply must name a message I can see here) and show it on my other devices. */
  async put(userId: string, draft: { text: string; replyToId?: string }): Promise<Draft> {
    const room = this.room;
    await room.access.requireMember(userId);
    room.access.refuseIfEncrypted("A draft synced through the server");
    if (draft.replyToId) {
      const row = room.store.findById(draft.replyToId);
      if (!row || row.deleted_at !== null || room.store.isHidden(userId, row.seq)) {
        throw new AppError(404, "not_found", "The message referred to does not exist in this chat", { field: "replyToId" });
      }
    }
    const at = Date.now();
    this.sql.exec(
      `INSERT INTO drafts (user_id, text, reply_to_id, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET text = excluded.text, reply_to_id = excluded.reply_to_id, updated_at = excluded.updated_at`,
      userId,
      draft.text,
      draft.replyToId ?? null,
      at,
    );
    this.withDrafts().add(userId);
    const saved = { text: draft.text, replyToId: draft.replyToId ?? null, updatedAt: new Date(at).toISOString() };
    this.tell(userId, saved);
    return saved;
  }

  /** Drop my draft (idempotent). */
  async remove(userId: string): Promise<void> {
    await this.room.access.requireMember(userId);
    this.clear(userId);
  }

  /** Drop a draft without checks (the member just sent a message); nothing happens when there is none. */
  clear(userId: string): void {
    if (!this.withDrafts().has(userId)) return;
    this.sql.exec("DELETE FROM drafts WHERE user_id = ?", userId);
    this.withDrafts().delete(userId);
    this.tell(userId, null);
  }

  /** Forget a former member's draft (no frame: their sockets are gone). */
  forget(userId: string): void {
    if (!this.withDrafts().has(userId)) return;
    this.sql.exec("DELETE FROM drafts WHERE user_id = ?", userId);
    this.withDrafts().delete(userId);
  }

  /** The member's sockets here at once, and all their devices through their hub (`chat.draft`). */
  private tell(userId: string, draft: Draft | null): void {
    const room = this.room;
    const chatId = room.access.chatId();
    room.host.sendToUser(userId, { type: "draft", chatId, draft });
    room.host.publish([userId], { type: "chat.draft", chatId, draft, at: new Date().toISOString() });
  }
}
