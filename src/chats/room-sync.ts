import { and, asc, eq, gt } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, users } from "../db/schema";
import type { Bindings } from "../env";
import { roomFor, unwrap } from "../rooms/client";
import { effectivePermissions } from "../rooms/directory";
import type { ChatConfig, MembershipChange, RoomMember, SystemNotice } from "../rooms/types";
import type { ChatRow, MemberRow } from "./access";

/**
 * How the Worker tells a chat's room what D1 decided. D1 is always written first (it is the
 * source of truth); the room is told afterwards, and loads a member it has not heard of from D1
 * (rooms/directory.ts), so a lost membership call heals itself on the member's next action.
 */
export type RoomEnv = Pick<Bindings, "CHAT_ROOM">;

/** The room's view of a chat row. */
export const roomConfig = (chat: ChatRow): ChatConfig => ({
  chatId: chat.id,
  type: chat.type,
  frozen: chat.frozenAt != null,
  slowModeSeconds: chat.slowModeSeconds,
});

/** The room's copy of a member: effective permissions and the user's read-receipts setting. */
export const roomMember = (chat: Pick<ChatRow, "permissions">, m: Pick<MemberRow, "userId" | "role" | "permissions">, readReceipts: boolean): RoomMember => ({
  userId: m.userId,
  role: m.role,
  permissions: effectivePermissions(chat.permissions, m.permissions),
  readReceipts,
});

/** Set the room's config; `patch` becomes a chat.updated event, `notice` a system message. */
export async function configureRoom(env: RoomEnv, chat: ChatRow, patch?: Record<string, unknown>, notice?: SystemNotice): Promise<void> {
  unwrap(await roomFor(env, chat.id).configure(roomConfig(chat), patch, notice));
}

/** Tell the room about membership changes already written to D1. */
export async function membersChanged(env: RoomEnv, chatId: string, change: MembershipChange): Promise<void> {
  unwrap(await roomFor(env, chatId).membersChanged(change));
}

const REFRESH_PAGE = 500;

/**
 * After the chat's default permissions changed, give the room every plain member's new effective
 * permissions (owners and admins hold all anyway), a page of 500 per call, keyset on user id.
 */
export async function refreshMemberPermissions(db: Database, env: RoomEnv, chat: ChatRow): Promise<void> {
  let after = "";
  for (;;) {
    const rows = await db
      .select({ userId: chatMembers.userId, role: chatMembers.role, permissions: chatMembers.permissions, readReceipts: users.readReceipts })
      .from(chatMembers)
      .innerJoin(users, eq(users.id, chatMembers.userId))
      .where(and(eq(chatMembers.chatId, chat.id), gt(chatMembers.userId, after), eq(chatMembers.role, "member")))
      .orderBy(asc(chatMembers.userId))
      .limit(REFRESH_PAGE);
    if (rows.length === 0) return;
    await membersChanged(env, chat.id, { updated: rows.map((r) => roomMember(chat, r, r.readReceipts)) });
    if (rows.length < REFRESH_PAGE) return;
    after = rows[rows.length - 1]!.userId;
  }
}
