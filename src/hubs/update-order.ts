import type { HubUpdate } from "./protocol";

/**
 * Some updates about one chat can reach the hub out of order: each is its own call from the room,
 * and two reads or two draft saves a moment apart race. Each such update carries a version that
 * only grows (the read position, the draft's time, the chat's last seq); the hub drops one older
 * than the last it told for that chat and kind, so devices never step back.
 */

const SCHEMA = `CREATE TABLE IF NOT EXISTS update_versions (
  chat_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (chat_id, kind)
)`;

/** The version an update is ordered by, or null when it is not ordered (told as it comes). */
export function versionOf(update: HubUpdate): { chatId: string; version: number } | null {
  switch (update.type) {
    case "chat.read":
      return { chatId: update.chatId, version: update.readSeq };
    case "chat.draft":
      return { chatId: update.chatId, version: Date.parse(update.at) };
    case "chat.activity":
      return { chatId: update.chatId, version: update.lastSeq };
    default:
      return null;
  }
}

export class UpdateOrder {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  /** Whether `update` is older than what was told for its chat; records it when it is not. */
  stale(update: HubUpdate): boolean {
    const v = versionOf(update);
    if (!v) return false;
    const row = this.sql
      .exec<{ version: number }>("SELECT version FROM update_versions WHERE chat_id = ? AND kind = ?", v.chatId, update.type)
      .toArray()[0];
    if (row && v.version < row.version) return true;
    this.sql.exec(
      `INSERT INTO update_versions (chat_id, kind, version) VALUES (?, ?, ?)
        ON CONFLICT (chat_id, kind) DO UPDATE SET version = excluded.version`,
      v.chatId,
      update.type,
      v.version,
    );
    return false;
  }

  /** Forget a chat the user left (a later join starts over). */
  forget(chatId: string): void {
    this.sql.exec("DELETE FROM update_versions WHERE chat_id = ?", chatId);
  }
}
