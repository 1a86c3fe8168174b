import { type ChatConfig, DEFAULT_PERMISSIONS, parsePermissions, type RoomMember } from "./types";

/**
 * Read one membership from D1 (the source of truth) when the room's cache has not seen it:
 * after the room was created, or if a membership RPC from the Worker was lost.
 */
export async function loadMemberFromDirectory(db: D1Database, chatId: string, userId: string): Promise<(RoomMember & { readSeq: number }) | null> {
  const row = await db
    .prepare(
      `SELECT m.role, m.permissions, m.read_seq, u.read_receipts
         FROM chat_members m JOIN users u ON u.id = m.user_id
        WHERE m.chat_id = ? AND m.user_id = ?`,
    )
    .bind(chatId, userId)
    .first<{ role: RoomMember["role"]; permissions: string | null; read_seq: number; read_receipts: number }>();
  if (!row) return null;
  return { userId, role: row.role, overrides: parsePermissions(row.permissions), readReceipts: row.read_receipts === 1, readSeq: row.read_seq };
}

/** Read a chat's settings from D1 when the room lost (or never got) its configure call. */
export async function loadConfigFromDirectory(db: D1Database, chatId: string): Promise<ChatConfig | null> {
  const row = await db
    .prepare("SELECT type, frozen_at, slow_mode_seconds, permissions FROM chats WHERE id = ?")
    .bind(chatId)
    .first<{ type: ChatConfig["type"]; frozen_at: number | null; slow_mode_seconds: number; permissions: string }>();
  if (!row) return null;
  return {
    chatId,
    type: row.type,
    frozen: row.frozen_at != null,
    slowModeSeconds: row.slow_mode_seconds,
    permissions: { ...DEFAULT_PERMISSIONS, ...parsePermissions(row.permissions) },
  };
}
