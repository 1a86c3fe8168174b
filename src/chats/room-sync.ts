import type { UserRow } from "../db/schema";
import type { Bindings } from "../env";
import { chatRoom } from "../rooms/client";
import type { ChatConfig, MembershipChange, RoomMember, SystemNotice } from "../rooms/types";
import { type ChatRow, chatDefaults, type MemberRow, memberOverrides } from "./access";

/**
 * How the Worker tells a chat's room what D1 decided. D1 is always written first (it is the
 * source of truth); the room is told afterwards, and loads a member it has not heard of from D1
 * (rooms/directory.ts), so a lost membership call heals itself on the member's next action.
 */
/** What the chat services reach besides D1: the rooms, and the members' hubs (their chat lists and devices). */
export type RoomEnv = Pick<Bindings, "CHAT_ROOM" | "USER_HUB">;

/** The room's view of a chat row. */
export const roomConfig = (chat: ChatRow): ChatConfig => ({
  chatId: chat.id,
  type: chat.type,
  frozen: chat.frozenAt != null,
  slowModeSeconds: chat.slowModeSeconds,
  noForwards: chat.noForwards,
  encrypted: chat.encrypted,
  messageTtlSeconds: chat.messageTtlSeconds,
  permissions: chatDefaults(chat),
});

/** The room's copy of a member: their own permission overrides and the user's read-receipts setting. */
export const roomMember = (m: Pick<MemberRow, "userId" | "role" | "permissions">, readReceipts: boolean): RoomMember => ({
  userId: m.userId,
  role: m.role,
  overrides: memberOverrides(m),
  readReceipts,
});

/** Set the room's config; `patch` becomes a chat.updated event, `notice` a system message. */
export async function configureRoom(env: RoomEnv, chat: ChatRow, patch?: Record<string, unknown>, notice?: SystemNotice): Promise<void> {
  await chatRoom(env, chat.id).configure(roomConfig(chat), patch, notice);
}

/** Tell the room about membership changes already written to D1. */
export async function membersChanged(env: RoomEnv, chatId: string, change: MembershipChange): Promise<void> {
  await chatRoom(env, chatId).membersChanged(change);
}

/**
 * Tell the room that `users` were added with `role` by `actorId` (already written to D1): their
 * cache entries and one `added` system message. Adding members and accepting an invitation both
 * end here, so the room sees them alike.
 */
export async function announceAdded(
  env: RoomEnv,
  chatId: string,
  actorId: string,
  users: Pick<UserRow, "id" | "readReceipts">[],
  role: "owner" | "admin" | "member",
): Promise<void> {
  await membersChanged(env, chatId, {
    added: users.map((u) => roomMember({ userId: u.id, role, permissions: null }, u.readReceipts)),
    notice: { event: "added", actorId, userIds: users.map((u) => u.id), role },
  });
}
