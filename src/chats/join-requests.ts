import { z } from "@hono/zod-openapi";
import { and, asc, eq, gt } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatJoinRequests } from "../db/schema";
import { notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { iso } from "../lib/time";
import { type ChatAccess, refuseDirect, requireRole } from "./access";
import { announceJoin, joinBatch, joinRefusal } from "./invites";
import type { RoomEnv } from "./room-sync";

/** Join requests: links that need approval file them (invites.ts); owners and admins decide here. */

const RequestCursor = z.object({ id: z.string() });

function requireAdminOf({ chat, member }: ChatAccess) {
  refuseDirect(chat, "join requests");
  requireRole(member, "admin");
  return chat;
}

/** Pending join requests, oldest user id first (keyset on the primary key); owners and admins. */
export async function listJoinRequests(db: Database, access: ChatAccess, limit: number, cursor?: string) {
  const chatId = requireAdminOf(access).id;
  const after = decodeCursor(cursor, RequestCursor);
  const rows = await db
    .select()
    .from(chatJoinRequests)
    .where(and(eq(chatJoinRequests.chatId, chatId), after ? gt(chatJoinRequests.userId, after.id) : undefined))
    .orderBy(asc(chatJoinRequests.userId))
    .limit(limit + 1);
  return page(
    rows,
    limit,
    (r) => ({ userId: r.userId, createdAt: iso(r.createdAt) }),
    (r) => ({ id: r.userId }),
  );
}

const requestQuery = (db: Database, chatId: string, userId: string) =>
  db.delete(chatJoinRequests).where(and(eq(chatJoinRequests.chatId, chatId), eq(chatJoinRequests.userId, userId)));

/**
 * Approve (add the user like a join; the request goes in the same batch) or reject (delete it) a
 * join request; owners and admins. No such request: `404 not_found`. Approving someone banned
 * meanwhile: `403 banned`; a full chat: `409 member_limit` (the request stays).
 */
export async function decideJoinRequest(db: Database, env: RoomEnv, access: ChatAccess, userId: string, approve: boolean) {
  const chat = requireAdminOf(access);
  const [chatId, actorId] = [chat.id, access.member.userId];
  if (!approve) {
    const gone = await requestQuery(db, chatId, userId).returning({ userId: chatJoinRequests.userId });
    if (gone.length === 0) throw notFound("Join request");
    return;
  }
  const [pending] = await db
    .select()
    .from(chatJoinRequests)
    .where(and(eq(chatJoinRequests.chatId, chatId), eq(chatJoinRequests.userId, userId)))
    .limit(1);
  if (!pending) throw notFound("Join request");
  const d1 = db.$client;
  const dropRequest = d1
    .prepare(
      "DELETE FROM chat_join_requests WHERE chat_id = ?1 AND user_id = ?2 AND EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?2)",
    )
    .bind(chatId, userId);
  if (await joinBatch(db, chat, userId, null, [dropRequest])) {
    await announceJoin(db, env, chatId, userId, actorId);
    return;
  }
  const refusal = await joinRefusal(db, chat, userId, null);
  if (refusal) throw refusal;
}
