import { DEFAULT_PERMISSIONS, type MemberPermissions, type RoomMember } from "./types";

/** A member's effective permissions: the chat's defaults with the member's overrides on top. */
export function effectivePermissions(chatDefaults: string | null, overrides: string | null): MemberPermissions {
  const defaults = chatDefaults ? (JSON.parse(chatDefaults) as Partial<MemberPermissions>) : {};
  const own = overrides ? (JSON.parse(overrides) as Partial<MemberPermissions>) : {};
  return { ...DEFAULT_PERMISSIONS, ...defaults, ...own };
}

/**
 * Read one membership from D1 (the source of truth) when the room's cache has not seen it:
 * after the room was created, or if a membership RPC from the Worker was lost.
 */
export async function loadMemberFromDirectory(db: D1Database, chatId: string, userId: string): Promise<RoomMember | null> {
  const row = await db
    .prepare(
      `SELECT m.role, m.permissions AS overrides, c.permissions AS defaults, u.read_receipts
         FROM chat_members m JOIN chats c ON c.id = m.chat_id JOIN users u ON u.id = m.user_id
        WHERE m.chat_id = ? AND m.user_id = ?`,
    )
    .bind(chatId, userId)
    .first<{ role: RoomMember["role"]; overrides: string | null; defaults: string; read_receipts: number }>();
  if (!row) return null;
  return { userId, role: row.role, permissions: effectivePermissions(row.defaults, row.overrides), readReceipts: row.read_receipts === 1 };
}
