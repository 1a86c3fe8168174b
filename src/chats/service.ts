import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { chats } from "../db/schema";
import { publishToHubs } from "../hubs/client";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import { now } from "../lib/time";
import { requireOwnAvatar } from "../media/access";
import { chatRoom } from "../rooms/client";
import { type ChatType, DEFAULT_PERMISSIONS, type JsonObject, type MemberPermissions } from "../rooms/types";
import { assertNotBlocked } from "../social/blocks";
import { findUser } from "../social/people";
import { type ChatAccess, type ChatRow, chatDefaults, refuseDirect, requireChatMember, requirePermission, requireRole } from "./access";
import { assertBotMayOpen, assertKindMayCreate, assertKindMayPublish } from "./account-kinds";
import { directKey } from "./direct-blocks";
import { inviteStatement } from "./invitations";
import { addMemberStatements, screenInvitees } from "./invitees";
import { chatViews } from "./list";
import { configureRoom, membersChanged, type RoomEnv, roomMember } from "./room-sync";
import { MEMBER_LIMITS } from "./schemas";

export interface CreateChatInput {
  type: ChatType;
  name?: string;
  description?: string;
  memberIds?: string[];
  isPublic?: boolean;
  noForwards?: boolean;
  metadata?: JsonObject;
  /** End-to-end encrypted (direct chats and groups; set once, at creation). */
  encrypted?: boolean;
}

export interface ChatPatch {
  name?: string;
  description?: string | null;
  avatarMediaId?: string | null;
  isPublic?: boolean;
  slowModeSeconds?: number;
  permissions?: Partial<MemberPermissions>;
  noForwards?: boolean;
  metadata?: JsonObject | null;
}

/** Channel subscribers may do nothing by default; groups and direct chats start from DEFAULT_PERMISSIONS. */
const NO_PERMISSIONS: MemberPermissions = {
  sendMessages: false,
  sendMedia: false,
  addMembers: false,
  pinMessages: false,
  changeInfo: false,
};

async function viewOne(db: Database, env: RoomEnv, chatId: string, userId: string) {
  const row = await requireChatMember(db, chatId, userId);
  return (await chatViews(db, env, userId, [row]))[0]!;
}

/** Insert a chat row with no members yet (member_count follows the member statements in the same batch). */
function insertChatStatement(d1: D1Database, c: ChatRow) {
  return d1
    .prepare(
      `INSERT INTO chats (id, type, name, description, is_public, direct_key, permissions, slow_mode_seconds, member_count, created_by, created_at, updated_at, last_seq, last_activity_at, no_forwards, metadata, encrypted)
       VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, 0, ?, ?, ?, ?)`,
    )
    .bind(
      c.id,
      c.type,
      c.name,
      c.description,
      c.isPublic ? 1 : 0,
      c.directKey,
      c.permissions,
      c.createdBy,
      c.createdAt,
      c.updatedAt,
      c.lastActivityAt,
      c.noForwards ? 1 : 0,
      c.metadata,
      c.encrypted ? 1 : 0,
    );
}

function newChatRow(actorId: string, input: CreateChatInput, directKey: string | null, at: number): ChatRow {
  return {
    id: newId(),
    type: input.type,
    name: input.name ?? null,
    description: input.description || null,
    avatarMediaId: null,
    isPublic: input.isPublic ?? false,
    encrypted: input.encrypted ?? false,
    directKey,
    permissions: JSON.stringify(input.type === "channel" ? NO_PERMISSIONS : DEFAULT_PERMISSIONS),
    slowModeSeconds: 0,
    memberCount: 0,
    frozenAt: null,
    noForwards: input.noForwards ?? false,
    metadata: input.metadata ? JSON.stringify(input.metadata) : null,
    messageTtlSeconds: null,
    createdBy: actorId,
    createdAt: at,
    updatedAt: at,
    lastSeq: 0,
    lastActivityAt: at,
    lastMessage: null,
  };
}

/**
 * Write a new chat, its members and the invitations of `invited` in one D1 batch, then set up its
 * room: config plus a `created` system message, and the members' cache.
 */
async function insertChat(
  db: Database,
  env: RoomEnv,
  chat: ChatRow,
  owner: { user: UserRow; role: "owner" | "member" },
  others: UserRow[],
  invited: string[] = [],
) {
  const d1 = db.$client;
  const cap = MEMBER_LIMITS[chat.type];
  await d1.batch([
    insertChatStatement(d1, chat),
    ...addMemberStatements(d1, chat.id, [owner.user.id], owner.role, cap, chat.createdAt),
    ...(others.length > 0
      ? addMemberStatements(
          d1,
          chat.id,
          others.map((u) => u.id),
          "member",
          cap,
          chat.createdAt,
        )
      : []),
    ...(invited.length > 0 ? [inviteStatement(d1, chat.id, invited, owner.user.id, chat.createdAt)] : []),
  ]);
  await configureRoom(env, chat, undefined, { event: "created", actorId: owner.user.id, userIds: others.map((u) => u.id) });
  const member = (u: UserRow, role: "owner" | "member") => roomMember({ userId: u.id, role, permissions: null }, u.readReceipts);
  await membersChanged(env, chat.id, { added: [member(owner.user, owner.role), ...others.map((u) => member(u, "member"))] });
}

/**
 * Open the direct chat between `actorId` and `otherId` (their plain one, or with `encrypted` their
 * end-to-end encrypted one): the existing one (`created: false`,
 * un-hidden for the caller) or a new one. Refused when either blocked the other (404 towards
 * someone who blocked you, `403 blocked` towards someone you blocked); unknown or inactive users
 * are 404. A bot opens one only with someone who messaged it there first (`403 bot_cannot_initiate`).
 * Concurrent creation makes one chat: the unique `direct_key` lets one insert win.
 */
async function openDirect(db: Database, env: RoomEnv, actorId: string, otherId: string, encrypted: boolean) {
  if (otherId === actorId) throw new AppError(400, "cannot_chat_with_self", "A direct chat needs another person");
  const [me, other] = await Promise.all([findUser(db, actorId), findUser(db, otherId)]);
  if (other?.status !== "active") throw notFound("User");
  if (!me) throw new AppError(401, "unauthorized", "Account no longer exists");
  await assertNotBlocked(db, actorId, otherId);
  const key = directKey(actorId, otherId, encrypted);
  const byKey = async () => (await db.select().from(chats).where(eq(chats.directKey, key)).limit(1))[0];
  const reopen = async (row: ChatRow) => {
    await db.$client
      .prepare("UPDATE chat_members SET hidden = 0 WHERE chat_id = ? AND user_id = ? AND hidden = 1")
      .bind(row.id, actorId)
      .run();
    // A direct chat's config never changes, so re-sending it is harmless, and it heals a room
    // whose creation call was lost (or is still in flight when both people open it at once).
    await configureRoom(env, row);
    // Reopening is refused while either blocks the other, so any earlier block is lifted now.
    await chatRoom(env, row.id).setBlocked(false);
    const chat = await viewOne(db, env, row.id, actorId);
    // It is back in my list (no longer hidden) on every device.
    const { mutedUntil, pinned, archived, hidden } = chat;
    await publishToHubs(env, [actorId], { type: "chat.settings", chatId: row.id, mutedUntil, pinned, archived, hidden });
    return { chat, created: false, invited: [] as string[], skipped: [] as string[] };
  };
  const found = await byKey();
  if (me.kind === "bot") await assertBotMayOpen(env, found, otherId);
  if (found) return reopen(found);
  const chat = newChatRow(actorId, { type: "direct", encrypted }, key, now());
  try {
    await insertChat(db, env, chat, { user: me, role: "member" }, [other]);
  } catch (err) {
    if (!isUniqueViolation(err, "direct_key")) throw err;
    const winner = await byKey();
    if (!winner) throw new AppError(409, "conflict", "The chat changed concurrently; try again");
    return reopen(winner);
  }
  return { chat: await viewOne(db, env, chat.id, actorId), created: true, invited: [] as string[], skipped: [] as string[] };
}

/**
 * Create a chat. Direct: see openDirect. Group or channel (guests: private groups only, else
 * `403 guest_not_allowed`): the creator becomes owner; each of
 * `memberIds` is added when screenInvitees allows it, invited (`invited`) when only their
 * `groupInvites` privacy stands in the way, and reported in `skipped` otherwise.
 */
export async function createChat(db: Database, env: RoomEnv, actorId: string, input: CreateChatInput) {
  if (input.type === "direct") return openDirect(db, env, actorId, input.memberIds![0]!, input.encrypted ?? false);
  const me = await findUser(db, actorId);
  if (!me) throw new AppError(401, "unauthorized", "Account no longer exists");
  assertKindMayCreate(me, input);
  const { allowed, invitable, skipped } = await screenInvitees(db, actorId, input.memberIds ?? []);
  if (1 + allowed.length > MEMBER_LIMITS[input.type])
    throw new AppError(409, "member_limit", `A ${input.type} has at most ${MEMBER_LIMITS[input.type]} members`);
  const chat = newChatRow(actorId, input, null, now());
  await insertChat(db, env, chat, { user: me, role: "owner" }, allowed, invitable);
  return { chat: await viewOne(db, env, chat.id, actorId), created: true, invited: invitable, skipped };
}

/** One chat as the caller sees it; 404 unless they are a member. */
export async function getChat(db: Database, env: RoomEnv, access: ChatAccess) {
  return (await chatViews(db, env, access.member.userId, [access]))[0]!;
}

/**
 * Change a group's or channel's info and settings. name, description and avatar need the
 * `changeInfo` permission (the avatar must be the caller's own `avatar` upload, else
 * `422 invalid_avatar`), and so do noForwards and metadata; isPublic, slow mode and default
 * permissions need an admin. The room
 * hears a chat.updated event, and a rename also leaves a `renamed` system message.
 */
export async function updateChat(db: Database, env: RoomEnv, { chat, member }: ChatAccess, patch: ChatPatch) {
  const [chatId, actorId] = [chat.id, member.userId];
  refuseDirect(chat, "changing info");
  const info = [patch.name, patch.description, patch.avatarMediaId, patch.noForwards, patch.metadata];
  if (info.some((v) => v !== undefined)) requirePermission(chat, member, "changeInfo");
  if (patch.isPublic !== undefined || patch.slowModeSeconds !== undefined || patch.permissions !== undefined) requireRole(member, "admin");
  await assertKindMayPublish(db, actorId, patch.isPublic);
  if (patch.avatarMediaId) await requireOwnAvatar(db, patch.avatarMediaId, actorId);
  const changes: Partial<ChatRow> = { updatedAt: now() };
  const shown: Record<string, unknown> = {};
  if (patch.name !== undefined) changes.name = shown.name = patch.name;
  if (patch.description !== undefined) changes.description = shown.description = patch.description || null;
  if (patch.avatarMediaId !== undefined) changes.avatarMediaId = shown.avatarMediaId = patch.avatarMediaId;
  if (patch.isPublic !== undefined) changes.isPublic = shown.isPublic = patch.isPublic;
  if (patch.slowModeSeconds !== undefined) changes.slowModeSeconds = shown.slowModeSeconds = patch.slowModeSeconds;
  if (patch.noForwards !== undefined) changes.noForwards = shown.noForwards = patch.noForwards;
  if (patch.metadata !== undefined) {
    changes.metadata = patch.metadata === null ? null : JSON.stringify(patch.metadata);
    shown.metadata = patch.metadata;
  }
  if (patch.permissions !== undefined) {
    const merged = { ...chatDefaults(chat), ...patch.permissions };
    changes.permissions = JSON.stringify(merged);
    shown.permissions = merged;
  }
  const [updated] = await db.update(chats).set(changes).where(eq(chats.id, chatId)).returning();
  if (!updated) throw notFound("Chat");
  const renamed = patch.name !== undefined && patch.name !== chat.name;
  await configureRoom(env, updated, shown, renamed ? { event: "renamed", actorId, name: patch.name, previousName: chat.name } : undefined);
  return viewOne(db, env, chatId, actorId);
}

/** Delete a group or channel (owner only): D1 first (members and bans go with it), then the room is erased. */
export async function deleteChat(db: Database, env: RoomEnv, { chat, member }: ChatAccess): Promise<void> {
  const chatId = chat.id;
  refuseDirect(chat, "deletion; hide it instead");
  requireRole(member, "owner");
  await db.delete(chats).where(eq(chats.id, chatId));
  await chatRoom(env, chatId).destroy();
}

/** Freeze (nobody can post or edit) or unfreeze a group or channel; owners and admins. Idempotent. */
export async function setFrozen(db: Database, env: RoomEnv, { chat, member }: ChatAccess, frozen: boolean) {
  const [chatId, actorId] = [chat.id, member.userId];
  refuseDirect(chat, "freezing");
  requireRole(member, "admin");
  if ((chat.frozenAt != null) !== frozen) {
    const [updated] = await db
      .update(chats)
      .set({ frozenAt: frozen ? now() : null, updatedAt: now() })
      .where(eq(chats.id, chatId))
      .returning();
    if (!updated) throw notFound("Chat");
    await configureRoom(env, updated, { frozen });
  }
  return viewOne(db, env, chatId, actorId);
}

/**
 * Clear a group's or channel's history for everyone (owners and admins). The room deletes the
 * messages and logs `chat.truncated`; seqs continue where they were.
 */
export async function truncateChat(env: RoomEnv, { chat, member }: ChatAccess): Promise<{ seq: number; removed: number }> {
  const [chatId, actorId] = [chat.id, member.userId];
  refuseDirect(chat, "clearing the history");
  requireRole(member, "admin");
  return chatRoom(env, chatId).truncate(actorId);
}
