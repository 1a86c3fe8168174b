import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt, inArray, isNull, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatBans } from "../db/schema";
import { AppError, notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { chatRoom } from "../rooms/client";
import { SHADOW_BAN_FOREVER } from "../rooms/types";
import { chunked, findUser } from "../social/people";
import { type ChatAccess, type MemberRow, membershipQuery, refuseDirect, requireOutranks, requireRole } from "./access";
import { removeMemberStatements } from "./invitees";
import { membersChanged, type RoomEnv } from "./room-sync";

type BanRow = typeof chatBans.$inferSelect;
const BanCursor = z.object({ id: z.string() });

/** A ban that still holds at `at`: no end, or an end in the future. */
const activeAt = (at: number) => or(isNull(chatBans.until), gt(chatBans.until, at));

/** SQL guard for raw statements: `?chat` / `?user` / `?at` placeholders are given by the caller. */
export const notBannedSql = (chat: string, user: string, at: string) =>
  `NOT EXISTS (SELECT 1 FROM chat_bans WHERE chat_id = ${chat} AND user_id = ${user} AND (until IS NULL OR until > ${at}))`;

export const banView = (b: BanRow) => ({
  userId: b.userId,
  bannedBy: b.bannedBy,
  until: iso(b.until),
  shadow: b.shadow,
  createdAt: iso(b.createdAt),
});

/** The user's ban in the chat while it holds, else null (one primary-key lookup). */
export async function activeBan(db: Database, chatId: string, userId: string): Promise<BanRow | null> {
  const [row] = await db
    .select()
    .from(chatBans)
    .where(and(eq(chatBans.chatId, chatId), eq(chatBans.userId, userId), activeAt(now())))
    .limit(1);
  return row ?? null;
}

/** `403 banned` (with `details.until`, null = forever) when the user is banned from the chat. */
export async function refuseBanned(db: Database, chatId: string, userId: string): Promise<void> {
  const ban = await activeBan(db, chatId, userId);
  if (ban) throw bannedError(ban.until);
}

export const bannedError = (until: number | null) => new AppError(403, "banned", "You are banned from this chat", { until: iso(until) });

/** Which of `userIds` are banned from the chat now (used to skip them when adding). */
export async function bannedAmong(db: Database, chatId: string, userIds: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of chunked(userIds)) {
    const rows = await db
      .select({ userId: chatBans.userId })
      .from(chatBans)
      .where(and(eq(chatBans.chatId, chatId), inArray(chatBans.userId, part), activeAt(now())));
    for (const r of rows) out.add(r.userId);
  }
  return out;
}

/**
 * Ban someone from a group or channel (owners and admins; admins only plain members, nobody the
 * owner). A member is removed first (exact member_count) and the ban recorded in the same D1
 * batch; the room then closes their sockets (4002) and logs a `banned` system message. Banning a
 * non-member records the ban only. Banning again replaces the end time. A shadow ban of a member
 * is shadowBan below; of a non-member it is recorded and keeps them out like a ban.
 */
export async function banUser(db: Database, env: RoomEnv, access: ChatAccess, input: { userId: string; until?: string; shadow?: boolean }) {
  const { chat, member: actor } = access;
  const [chatId, actorId] = [chat.id, actor.userId];
  refuseDirect(chat, "bans");
  requireRole(actor, "admin");
  if (input.userId === actorId) throw new AppError(400, "cannot_ban_self", "You cannot ban yourself");
  const [target] = await membershipQuery(db, chatId, input.userId);
  if (target) requireOutranks(actor, target);
  else if (!(await findUser(db, input.userId))) throw notFound("User");
  if (target && input.shadow) return shadowBan(db, env, access, target, input.until);
  const at = now();
  const ban: BanRow = {
    chatId,
    userId: input.userId,
    bannedBy: actorId,
    until: input.until ? Date.parse(input.until) : null,
    shadow: input.shadow ?? false,
    createdAt: at,
  };
  const d1 = db.$client;
  // Recorded only once the user is no longer a member (a concurrent role change makes the removal, and so the ban, a no-op).
  const upsert = d1
    .prepare(
      `INSERT INTO chat_bans (chat_id, user_id, banned_by, until, shadow, created_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?2)
       ON CONFLICT (chat_id, user_id) DO UPDATE SET banned_by = excluded.banned_by, until = excluded.until, shadow = excluded.shadow, created_at = excluded.created_at
       RETURNING user_id`,
    )
    .bind(chatId, ban.userId, actorId, ban.until, ban.shadow ? 1 : 0, at);
  const results = await d1.batch<{ user_id: string }>([
    ...(target ? removeMemberStatements(d1, chatId, target.userId, target.role, at) : []),
    upsert,
  ]);
  if (results.at(-1)!.results.length === 0) throw new AppError(409, "conflict", "The member changed concurrently; try again");
  if (target) {
    await membersChanged(env, chatId, {
      removed: [{ userId: target.userId, reason: "banned" }],
      notice: { event: "banned", actorId, userIds: [target.userId] },
    });
  }
  return banView(ban);
}

/**
 * Shadow-ban a plain member (owners and admins are refused with `403 permission_denied`, whoever
 * asks): they stay a member, with no system message, closed socket or event; the ban row says
 * `shadow`, and the room is told, from then on keeping what they send to themselves (it also
 * reads the ban from D1 when it loads the member). Banning again replaces the end time.
 */
async function shadowBan(db: Database, env: RoomEnv, { chat, member }: ChatAccess, target: MemberRow, until?: string) {
  if (target.role !== "member") {
    throw new AppError(403, "permission_denied", "Only plain members can be shadow-banned", { required: "member" });
  }
  const at = now();
  const ban: BanRow = {
    chatId: chat.id,
    userId: target.userId,
    bannedBy: member.userId,
    until: until ? Date.parse(until) : null,
    shadow: true,
    createdAt: at,
  };
  await db
    .insert(chatBans)
    .values(ban)
    .onConflictDoUpdate({
      target: [chatBans.chatId, chatBans.userId],
      set: { bannedBy: ban.bannedBy, until: ban.until, shadow: true, createdAt: at },
    });
  await chatRoom(env, chat.id).shadowBanChanged(target.userId, ban.until ?? SHADOW_BAN_FOREVER);
  return banView(ban);
}

/**
 * Lift a ban (owners and admins); `404 not_found` when the user is not banned. Lifting a shadow
 * ban lets the room show what they send from now on; what they sent while shadow-banned stays
 * theirs alone.
 */
export async function unbanUser(db: Database, env: RoomEnv, { chat, member }: ChatAccess, userId: string): Promise<void> {
  const chatId = chat.id;
  refuseDirect(chat, "bans");
  requireRole(member, "admin");
  const gone = await db
    .delete(chatBans)
    .where(and(eq(chatBans.chatId, chatId), eq(chatBans.userId, userId), activeAt(now())))
    .returning({ userId: chatBans.userId, shadow: chatBans.shadow });
  if (gone.length === 0) throw notFound("Ban");
  if (gone[0]!.shadow) await chatRoom(env, chatId).shadowBanChanged(userId, null);
}

/** Bans in force, keyset-paginated on the (chat_id, user_id) primary key (owners and admins). */
export async function listBans(db: Database, { chat, member }: ChatAccess, limit: number, cursor?: string) {
  const chatId = chat.id;
  refuseDirect(chat, "bans");
  requireRole(member, "admin");
  const after = decodeCursor(cursor, BanCursor);
  const rows = await db
    .select()
    .from(chatBans)
    .where(and(eq(chatBans.chatId, chatId), after ? gt(chatBans.userId, after.id) : undefined, activeAt(now())))
    .orderBy(asc(chatBans.userId))
    .limit(limit + 1);
  return page(rows, limit, banView, (r) => ({ id: r.userId }));
}
