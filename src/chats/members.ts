import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt, inArray } from "drizzle-orm";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { chatMembers, users } from "../db/schema";
import { AppError, notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { now } from "../lib/time";
import type { MemberPermissions } from "../rooms/types";
import { chunked, profilesFor } from "../social/people";
import {
  type ChatAccess,
  type ChatRow,
  type MemberRow,
  refuseDirect,
  requireOtherMember,
  requireOutranks,
  requirePermission,
  requireRole,
} from "./access";
import { bannedAmong } from "./bans";
import { inviteStatement } from "./invitations";
import { addMemberStatements, removeMemberStatements, screenInvitees } from "./invitees";
import { announceAdded, membersChanged, type RoomEnv, roomMember } from "./room-sync";
import { MEMBER_LIMITS } from "./schemas";
import { memberView } from "./views";

const MemberCursor = z.object({ id: z.string() });

/** Member views with profiles as `viewerId` may see them (one loadRelations call for the page). */
async function memberViews(db: Database, viewerId: string, chat: ChatRow, rows: { member: MemberRow; user: UserRow }[]) {
  const profile = await profilesFor(
    db,
    viewerId,
    rows.map((r) => r.user),
  );
  return rows.map((r) => memberView(chat, r.member, profile(r.user)));
}

/**
 * A chat's members, keyset-paginated on the (chat_id, user_id) primary key: O(page) rows. In
 * channels only owners and admins may list subscribers (`403 permission_denied` for subscribers).
 */
export async function listMembers(db: Database, { chat, member }: ChatAccess, limit: number, cursor?: string) {
  const [chatId, viewerId] = [chat.id, member.userId];
  if (chat.type === "channel") requireRole(member, "admin");
  const after = decodeCursor(cursor, MemberCursor);
  const rows = await membersPageQuery(db, chatId, limit, after?.id);
  const views = new Map((await memberViews(db, viewerId, chat, rows.slice(0, limit))).map((v) => [v.userId, v]));
  return page(
    rows,
    limit,
    (r) => views.get(r.member.userId)!,
    (r) => ({ id: r.member.userId }),
  );
}

/** One page of members joined to their users, on the (chat_id, user_id) primary key (exported for plan tests). */
export function membersPageQuery(db: Database, chatId: string, limit: number, afterId?: string) {
  return db
    .select({ member: chatMembers, user: users })
    .from(chatMembers)
    .innerJoin(users, eq(users.id, chatMembers.userId))
    .where(and(eq(chatMembers.chatId, chatId), afterId ? gt(chatMembers.userId, afterId) : undefined))
    .orderBy(asc(chatMembers.userId))
    .limit(limit + 1);
}

/**
 * Add users to a group or channel. Needs `addMembers` (owners and admins always); adding as admin
 * is the owner's call. Users already in the chat are reported in `alreadyMembers`; users whose
 * `groupInvites` privacy keeps the actor from adding them get an invitation to accept (`invited`;
 * inviting again changes nothing); users screenInvitees refuses otherwise (and users banned from the
 * chat) are in `skipped`. When nobody could be added or invited for those reasons the answer is
 * `403 cannot_add_user` with `details.userIds`. Past the type's cap: `409 member_limit` (invitations
 * do not count towards it).
 */
export async function addMembers(
  db: Database,
  env: RoomEnv,
  { chat, member }: ChatAccess,
  input: { userIds: string[]; role?: "admin" | "member" },
) {
  const [chatId, actorId] = [chat.id, member.userId];
  refuseDirect(chat, "adding members");
  requirePermission(chat, member, "addMembers");
  const role = input.role ?? "member";
  if (role === "admin") requireRole(member, "owner");
  const ids = [...new Set(input.userIds)];
  const present = new Set<string>();
  for (const part of chunked(ids)) {
    const rows = await db
      .select({ userId: chatMembers.userId })
      .from(chatMembers)
      .where(and(eq(chatMembers.chatId, chatId), inArray(chatMembers.userId, part)));
    for (const r of rows) present.add(r.userId);
  }
  const candidates = ids.filter((id) => !present.has(id));
  // Banned users are skipped like users who may not be added (no reason given).
  const banned = await bannedAmong(db, chatId, candidates);
  const screened = await screenInvitees(
    db,
    actorId,
    candidates.filter((id) => !banned.has(id)),
  );
  const { allowed, invitable: invited } = screened;
  const skipped = [...screened.skipped, ...candidates.filter((id) => banned.has(id))];
  const alreadyMembers = ids.filter((id) => present.has(id));
  if (allowed.length === 0 && invited.length === 0 && skipped.length > 0)
    throw new AppError(403, "cannot_add_user", "None of these users can be added to this chat", { userIds: skipped });
  const joinedAt = now();
  const inserted = allowed.length > 0 ? await insertMembers(db, env, chat, actorId, allowed, role, joinedAt) : [];
  // Someone else added them in the meantime: they are members, just not added by this call.
  for (const u of allowed) if (!inserted.includes(u)) alreadyMembers.push(u.id);
  if (invited.length > 0) await inviteStatement(db.$client, chatId, invited, actorId, joinedAt).run();
  const added = await memberViews(
    db,
    actorId,
    chat,
    inserted.map((user) => ({ user, member: { chatId, userId: user.id, role, permissions: null, joinedAt } as MemberRow })),
  );
  return { added, alreadyMembers, invited, skipped };
}

/**
 * Insert `allowed` as members within the chat type's cap (`409 member_limit`, nothing written),
 * then tell the room about those this call inserted; returns them.
 */
async function insertMembers(
  db: Database,
  env: RoomEnv,
  chat: ChatRow,
  actorId: string,
  allowed: UserRow[],
  role: "admin" | "member",
  joinedAt: number,
) {
  const cap = MEMBER_LIMITS[chat.type];
  const limitError = new AppError(409, "member_limit", `A ${chat.type} has at most ${cap} members`, { limit: cap });
  if (chat.memberCount + allowed.length > cap) throw limitError;
  const d1 = db.$client;
  const results = await d1.batch<{ user_id: string }>(
    addMemberStatements(
      d1,
      chat.id,
      allowed.map((u) => u.id),
      role,
      cap,
      joinedAt,
    ),
  );
  const insertedIds = new Set(results[1]!.results.map((r) => r.user_id));
  if (insertedIds.size === 0 && results[2]!.meta.changes > 0) throw limitError;
  const inserted = allowed.filter((u) => insertedIds.has(u.id));
  if (inserted.length > 0) await announceAdded(env, chat.id, actorId, inserted, role);
  return inserted;
}

async function userRow(db: Database, userId: string): Promise<UserRow> {
  const [row] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  if (!row) throw notFound("Member");
  return row;
}

/**
 * Change a member's role (owner only: make or unmake admins) or permission overrides (admins,
 * for members; the owner, for anyone but themselves). Nobody changes the owner. `permissions:
 * null` resets the overrides to the chat's defaults. A role change leaves a system message.
 */
export async function updateMember(
  db: Database,
  env: RoomEnv,
  { chat, member: actor }: ChatAccess,
  targetId: string,
  input: { role?: "admin" | "member"; permissions?: Partial<MemberPermissions> | null },
) {
  const [chatId, actorId] = [chat.id, actor.userId];
  refuseDirect(chat, "member roles or permissions");
  const target = await requireOtherMember(db, chatId, targetId);
  requireOutranks(actor, target);
  if (input.role !== undefined && input.role !== target.role) requireRole(actor, "owner");
  const changes: Partial<MemberRow> = {};
  if (input.role !== undefined) changes.role = input.role;
  if (input.permissions !== undefined) {
    const current = target.permissions ? (JSON.parse(target.permissions) as Partial<MemberPermissions>) : {};
    changes.permissions = input.permissions === null ? null : JSON.stringify({ ...current, ...input.permissions });
  }
  const [updated] = await db
    .update(chatMembers)
    .set(changes)
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, targetId), eq(chatMembers.role, target.role)))
    .returning();
  if (!updated) throw new AppError(409, "conflict", "The member changed concurrently; try again");
  const user = await userRow(db, targetId);
  const roleChanged = updated.role !== target.role;
  await membersChanged(env, chatId, {
    updated: [roomMember(updated, user.readReceipts)],
    notice: roleChanged
      ? { event: "role_changed", actorId, userIds: [targetId], role: updated.role, previousRole: target.role }
      : undefined,
  });
  return (await memberViews(db, actorId, chat, [{ member: updated, user }]))[0]!;
}

/** Remove a member (D1 first, then the room closes their sockets and logs it). Returns whether a row went. */
async function dropMember(db: Database, env: RoomEnv, chatId: string, target: MemberRow, reason: "removed" | "left", actorId: string) {
  const d1 = db.$client;
  const results = await d1.batch<{ user_id: string }>(removeMemberStatements(d1, chatId, target.userId, target.role, now()));
  if (results[1]!.results.length === 0) throw new AppError(409, "conflict", "The member changed concurrently; try again");
  await membersChanged(env, chatId, {
    removed: [{ userId: target.userId, reason }],
    notice: reason === "left" ? { event: "left", actorId, userIds: [actorId] } : { event: "removed", actorId, userIds: [target.userId] },
  });
}

/** Remove someone else: admins remove members, the owner removes anyone. Yourself: `400 cannot_remove_self` (leave instead). */
export async function removeMember(db: Database, env: RoomEnv, { chat, member: actor }: ChatAccess, targetId: string): Promise<void> {
  const [chatId, actorId] = [chat.id, actor.userId];
  refuseDirect(chat, "removing members");
  if (targetId === actorId) throw new AppError(400, "cannot_remove_self", "Use POST /chats/{chatId}/leave to leave a chat");
  const target = await requireOtherMember(db, chatId, targetId);
  requireOutranks(actor, target);
  await dropMember(db, env, chatId, target, "removed", actorId);
}

/** Leave a group or channel. The owner must transfer ownership first (`409 owner_must_transfer`). */
export async function leaveChat(db: Database, env: RoomEnv, { chat, member }: ChatAccess): Promise<void> {
  const [chatId, userId] = [chat.id, member.userId];
  refuseDirect(chat, "leaving; hide it instead");
  if (member.role === "owner") {
    throw new AppError(409, "owner_must_transfer", "The owner must transfer ownership (or delete the chat) before leaving");
  }
  await dropMember(db, env, chatId, member, "left", userId);
}

/**
 * Hand the chat to another member (owner only); the old owner becomes an admin. Both updates are
 * conditional on the caller still being the owner, in one batch, so two racing transfers cannot
 * make two owners.
 */
export async function transferOwnership(db: Database, env: RoomEnv, { chat, member }: ChatAccess, targetId: string): Promise<void> {
  const [chatId, actorId] = [chat.id, member.userId];
  refuseDirect(chat, "ownership");
  requireRole(member, "owner");
  if (targetId === actorId) throw new AppError(400, "cannot_transfer_to_self", "You already own this chat");
  const target = await requireOtherMember(db, chatId, targetId);
  const d1 = db.$client;
  const ownerStill = "EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?2 AND role = 'owner')";
  const [promoted] = await d1.batch<MemberRow>([
    d1
      .prepare(
        `UPDATE chat_members SET role = 'owner', permissions = NULL WHERE chat_id = ?1 AND user_id = ?3 AND ${ownerStill} RETURNING user_id`,
      )
      .bind(chatId, actorId, targetId),
    d1
      .prepare(
        "UPDATE chat_members SET role = 'admin' WHERE chat_id = ?1 AND user_id = ?2 AND role = 'owner' AND EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?3 AND role = 'owner')",
      )
      .bind(chatId, actorId, targetId),
  ]);
  if (promoted!.results.length === 0) throw new AppError(409, "conflict", "Ownership changed concurrently; try again");
  const [me, them] = await Promise.all([userRow(db, actorId), userRow(db, targetId)]);
  await membersChanged(env, chatId, {
    updated: [
      roomMember({ userId: actorId, role: "admin", permissions: member.permissions }, me.readReceipts),
      roomMember({ userId: targetId, role: "owner", permissions: null }, them.readReceipts),
    ],
    notice: { event: "ownership_transferred", actorId, userIds: [targetId], previousRole: target.role },
  });
}
