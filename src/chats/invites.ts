import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt, isNull, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatInvites, chatJoinRequests, chats } from "../db/schema";
import { randomToken } from "../lib/crypto";
import { AppError, notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { findUser } from "../social/people";
import { type ChatAccess, type ChatRow, membershipQuery, refuseDirect, requireChatMember, requirePermission, requireRole } from "./access";
import { activeBan, bannedError, notBannedSql } from "./bans";
import { chatViews } from "./list";
import { membersChanged, type RoomEnv, roomMember } from "./room-sync";
import { MEMBER_LIMITS } from "./schemas";

type InviteRow = typeof chatInvites.$inferSelect;
const InviteCursor = z.object({ t: z.number(), code: z.string() });

/** Unknown, revoked, expired and used-up invites all answer this, so codes cannot be probed for state. */
const inviteInvalid = () => new AppError(404, "invite_invalid", "This invite link is invalid, expired, revoked or used up");

export const inviteView = (i: InviteRow, origin: string) => ({
  code: i.code,
  url: `${origin}/join/${i.code}`,
  chatId: i.chatId,
  createdBy: i.createdBy,
  createdAt: iso(i.createdAt),
  expiresAt: iso(i.expiresAt),
  maxUses: i.maxUses,
  uses: i.uses,
  requiresApproval: i.requiresApproval,
});

/** SQL guard (placeholders given by the caller): the invite is for the chat and still usable at `at`. */
const usableSql = (code: string, chat: string, at: string) =>
  `EXISTS (SELECT 1 FROM chat_invites WHERE code = ${code} AND chat_id = ${chat} AND revoked_at IS NULL
     AND (expires_at IS NULL OR expires_at > ${at}) AND (max_uses IS NULL OR uses < max_uses))`;

const usable = (i: InviteRow, at: number) =>
  i.revokedAt == null && (i.expiresAt == null || i.expiresAt > at) && (i.maxUses == null || i.uses < i.maxUses);

/** Create an invite link to a group or channel; needs `addMembers` (owners and admins always). */
export async function createInvite(
  db: Database,
  { chat, member }: ChatAccess,
  input: { expiresAt?: string; maxUses?: number; requiresApproval?: boolean },
  origin: string,
) {
  const [chatId, actorId] = [chat.id, member.userId];
  refuseDirect(chat, "invite links");
  requirePermission(chat, member, "addMembers");
  const row: InviteRow = {
    code: randomToken(9), // 12 URL-safe characters, 72 random bits
    chatId,
    createdBy: actorId,
    createdAt: now(),
    expiresAt: input.expiresAt ? Date.parse(input.expiresAt) : null,
    maxUses: input.maxUses ?? null,
    uses: 0,
    requiresApproval: input.requiresApproval ?? false,
    revokedAt: null,
  };
  await db.insert(chatInvites).values(row);
  return inviteView(row, origin);
}

/** The chat's usable invites, oldest first, keyset on (created_at, code) (owners and admins). */
export async function listInvites(db: Database, { chat, member }: ChatAccess, limit: number, cursor: string | undefined, origin: string) {
  const chatId = chat.id;
  refuseDirect(chat, "invite links");
  requireRole(member, "admin");
  const after = decodeCursor(cursor, InviteCursor);
  const at = now();
  const items: InviteRow[] = [];
  let next = after;
  // Used-up invites are filtered here (not in SQL); keep reading until a page is full or rows run out.
  for (;;) {
    const rows = await db
      .select()
      .from(chatInvites)
      .where(
        and(
          eq(chatInvites.chatId, chatId),
          next ? or(gt(chatInvites.createdAt, next.t), and(eq(chatInvites.createdAt, next.t), gt(chatInvites.code, next.code))) : undefined,
          isNull(chatInvites.revokedAt),
          or(isNull(chatInvites.expiresAt), gt(chatInvites.expiresAt, at)),
        ),
      )
      .orderBy(asc(chatInvites.createdAt), asc(chatInvites.code))
      .limit(limit + 1);
    for (const r of rows) if (usable(r, at)) items.push(r);
    if (items.length > limit || rows.length <= limit) break;
    const last = rows[rows.length - 1]!;
    next = { t: last.createdAt, code: last.code };
  }
  return page(
    items,
    limit,
    (i) => inviteView(i, origin),
    (i) => ({ t: i.createdAt, code: i.code }),
  );
}

/** Revoke an invite (owners, admins, or whoever created it); `404 not_found` if unknown or already revoked. */
export async function revokeInvite(db: Database, { chat, member }: ChatAccess, code: string): Promise<void> {
  const chatId = chat.id;
  refuseDirect(chat, "invite links");
  const [invite] = await db
    .select()
    .from(chatInvites)
    .where(and(eq(chatInvites.code, code), eq(chatInvites.chatId, chatId), isNull(chatInvites.revokedAt)))
    .limit(1);
  if (!invite) throw notFound("Invite");
  if (invite.createdBy !== member.userId) requireRole(member, "admin");
  await db.update(chatInvites).set({ revokedAt: now() }).where(eq(chatInvites.code, code));
}

/**
 * Add one user who joins (by invite, public chat, or approved request), in one D1 batch that keeps
 * member_count exact and re-checks everything that could change concurrently: not a member, not
 * banned, the invite still usable (its `uses` counted only when the member row went in), the cap.
 * Returns whether they were added (joins, approved join requests, accepted invitations).
 */
export async function joinBatch(db: Database, chat: ChatRow, userId: string, code: string | null, extra: D1PreparedStatement[] = []) {
  const d1 = db.$client;
  const at = now();
  const cap = MEMBER_LIMITS[chat.type];
  // ?1 chat, ?2 user, ?3 at, ?4 cap, ?5 invite code (or null)
  const guard = `NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?2) AND ${notBannedSql("?1", "?2", "?3")}
    AND (?5 IS NULL OR ${usableSql("?5", "?1", "?3")})`;
  const bind = (sql: string) => d1.prepare(sql).bind(chat.id, userId, at, cap, code);
  const results = await d1.batch<{ user_id: string }>([
    bind(`UPDATE chats SET member_count = member_count + 1, updated_at = ?3 WHERE id = ?1 AND ${guard} AND ?4 > 0`),
    bind(
      `INSERT INTO chat_members (chat_id, user_id, role, joined_at, read_seq)
       SELECT ?1, ?2, 'member', ?3, last_seq FROM chats WHERE id = ?1 AND member_count <= ?4 AND ${guard}
       ON CONFLICT DO NOTHING RETURNING user_id`,
    ),
    // Over the cap: nobody was inserted (the guard still holds), so take the count back.
    bind(`UPDATE chats SET member_count = member_count - 1 WHERE id = ?1 AND member_count > ?4 AND ${guard}`),
    // The member row with this exact join time exists only if the insert above went in.
    bind(
      `UPDATE chat_invites SET uses = uses + 1 WHERE code = ?5 AND ?4 > 0
        AND EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?2 AND joined_at = ?3)`,
    ),
    ...extra,
  ]);
  return results[1]!.results.length > 0;
}

/** After a failed joinBatch: the precise reason, in the order a client can act on (null: a member after all). */
export async function joinRefusal(db: Database, chat: ChatRow, userId: string, code: string | null): Promise<AppError | null> {
  if ((await membershipQuery(db, chat.id, userId)).length > 0) return null;
  const ban = await activeBan(db, chat.id, userId);
  if (ban) return bannedError(ban.until);
  if (code) {
    const [invite] = await db.select().from(chatInvites).where(eq(chatInvites.code, code)).limit(1);
    if (!invite || !usable(invite, now())) return inviteInvalid();
  }
  const cap = MEMBER_LIMITS[chat.type];
  return new AppError(409, "member_limit", `A ${chat.type} has at most ${cap} members`, { limit: cap });
}

/** Tell the room someone joined (a `joined`/`added` system message by `actorId`). */
export async function announceJoin(db: Database, env: RoomEnv, chatId: string, userId: string, actorId: string) {
  const user = await findUser(db, userId);
  await membersChanged(env, chatId, {
    added: [roomMember({ userId, role: "member", permissions: null }, user?.readReceipts ?? true)],
    notice: { event: "joined", actorId, userIds: [userId] },
  });
}

/** The chat as `userId`, a member, sees it (404 if they are not one). */
export async function viewFor(db: Database, env: RoomEnv, chatId: string, userId: string) {
  const row = await requireChatMember(db, chatId, userId);
  return (await chatViews(db, env, userId, [row]))[0]!;
}

/**
 * Join a group or channel with an invite code, or a public one by id. Members get the chat back
 * (200). Invites that require approval file a join request (`pending`). Refusals: unknown, revoked,
 * expired or used-up invites `404 invite_invalid`; a private chat by id `404 not_found`; a ban
 * `403 banned` (`details.until`); a full chat `409 member_limit`.
 */
export async function joinChat(db: Database, env: RoomEnv, userId: string, input: { code?: string; chatId?: string }) {
  let chat: ChatRow | undefined;
  let invite: InviteRow | undefined;
  if (input.code) {
    [invite] = await db.select().from(chatInvites).where(eq(chatInvites.code, input.code)).limit(1);
    if (!invite) throw inviteInvalid();
    [chat] = await db.select().from(chats).where(eq(chats.id, invite.chatId)).limit(1);
    if (!chat) throw inviteInvalid();
  } else {
    [chat] = await db.select().from(chats).where(eq(chats.id, input.chatId!)).limit(1);
    if (!chat?.isPublic || chat.type === "direct") throw notFound("Chat");
  }
  if ((await membershipQuery(db, chat.id, userId)).length > 0)
    return { status: "member" as const, chat: await viewFor(db, env, chat.id, userId) };
  const ban = await activeBan(db, chat.id, userId);
  if (ban) throw bannedError(ban.until);
  if (invite && !usable(invite, now())) throw inviteInvalid();
  if (invite?.requiresApproval) {
    await fileJoinRequest(db, chat.id, userId, invite.code);
    return { status: "pending" as const };
  }
  const code = invite?.code ?? null;
  if (!(await joinBatch(db, chat, userId, code))) {
    const refusal = await joinRefusal(db, chat, userId, code);
    if (refusal) throw refusal;
    return { status: "member" as const, chat: await viewFor(db, env, chat.id, userId) };
  }
  await announceJoin(db, env, chat.id, userId, userId);
  return { status: "joined" as const, chat: await viewFor(db, env, chat.id, userId) };
}

/** File a join request, counting the invite's use once (a repeated request changes nothing). */
async function fileJoinRequest(db: Database, chatId: string, userId: string, code: string) {
  const d1 = db.$client;
  const at = now();
  const [inserted] = await d1.batch<{ user_id: string }>([
    d1
      .prepare(
        `INSERT INTO chat_join_requests (chat_id, user_id, created_at) SELECT ?1, ?2, ?3
          WHERE ${usableSql("?4", "?1", "?3")} AND ${notBannedSql("?1", "?2", "?3")}
         ON CONFLICT DO NOTHING RETURNING user_id`,
      )
      .bind(chatId, userId, at, code),
    d1
      .prepare(
        "UPDATE chat_invites SET uses = uses + 1 WHERE code = ?4 AND EXISTS (SELECT 1 FROM chat_join_requests WHERE chat_id = ?1 AND user_id = ?2 AND created_at = ?3)",
      )
      .bind(chatId, userId, at, code),
  ]);
  if (inserted!.results.length > 0) return;
  const [pending] = await db
    .select()
    .from(chatJoinRequests)
    .where(and(eq(chatJoinRequests.chatId, chatId), eq(chatJoinRequests.userId, userId)))
    .limit(1);
  if (pending) return;
  const ban = await activeBan(db, chatId, userId);
  throw ban ? bannedError(ban.until) : inviteInvalid();
}
