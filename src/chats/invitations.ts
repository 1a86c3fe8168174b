import { z } from "@hono/zod-openapi";
import { and, desc, eq, lt, lte, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { blocks, chatInvitations, chats, users } from "../db/schema";
import { notFound } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { iso } from "../lib/time";
import { findUser, profilesFor } from "../social/people";
import { isBlockedEitherWay } from "../users/visibility";
import { notBannedSql } from "./bans";
import { joinBatch, joinRefusal, viewFor } from "./invites";
import { announceAdded, type RoomEnv } from "./room-sync";

const InvitationCursor = z.object({ t: z.number().int(), id: z.string() });

/**
 * Invite `userIds` to a chat in one statement (the ids travel as one JSON array): people who are
 * not members and not banned get a pending invitation from `invitedBy`. Inviting again changes
 * nothing (the first invitation, its inviter and time, stays).
 */
export function inviteStatement(d1: D1Database, chatId: string, userIds: string[], invitedBy: string, at: number) {
  return d1
    .prepare(
      `INSERT INTO chat_invitations (chat_id, user_id, invited_by, created_at)
       SELECT ?2, j.value, ?3, ?4 FROM json_each(?1) j
        WHERE NOT EXISTS (SELECT 1 FROM chat_members m WHERE m.chat_id = ?2 AND m.user_id = j.value)
          AND ${notBannedSql("?2", "j.value", "?4")}
       ON CONFLICT DO NOTHING`,
    )
    .bind(JSON.stringify([...new Set(userIds)]), chatId, invitedBy, at);
}

/**
 * One page of `userId`'s invitations, newest first, keyset on `chat_invitations_user_idx` (user_id,
 * created_at, chat_id), with the chat and the inviter (primary-key joins). Invitations from someone
 * with a block between them and `userId` are left out (exported for plan tests).
 */
export function invitationsPageQuery(db: Database, userId: string, limit: number, after?: { t: number; id: string } | null) {
  return db
    .select({ invitation: chatInvitations, chat: chats, inviter: users })
    .from(chatInvitations)
    .innerJoin(chats, eq(chats.id, chatInvitations.chatId))
    .innerJoin(users, eq(users.id, chatInvitations.invitedBy))
    .where(
      and(
        eq(chatInvitations.userId, userId),
        // Written so the index range starts at the cursor (`created_at <= t`), not at the newest row.
        after ? lte(chatInvitations.createdAt, after.t) : undefined,
        after ? or(lt(chatInvitations.createdAt, after.t), lt(chatInvitations.chatId, after.id)) : undefined,
        sql`NOT EXISTS (SELECT 1 FROM ${blocks} WHERE (${blocks.blockerId} = ${userId} AND ${blocks.blockedId} = ${chatInvitations.invitedBy})
          OR (${blocks.blockerId} = ${chatInvitations.invitedBy} AND ${blocks.blockedId} = ${userId}))`,
      ),
    )
    .orderBy(desc(chatInvitations.createdAt), desc(chatInvitations.chatId))
    .limit(limit + 1);
}

/**
 * My pending invitations, newest first: each with a summary of the chat (I am not a member, so
 * no more than a join-by-link preview would show) and the inviter's profile as I may see it.
 */
export async function listInvitations(db: Database, userId: string, limit: number, cursor?: string) {
  const rows = await invitationsPageQuery(db, userId, limit, decodeCursor(cursor, InvitationCursor));
  const profile = await profilesFor(
    db,
    userId,
    rows.slice(0, limit).map((r) => r.inviter),
  );
  return page(
    rows,
    limit,
    ({ chat, inviter, invitation }) => ({
      chat: { id: chat.id, type: chat.type, name: chat.name, avatarMediaId: chat.avatarMediaId, memberCount: chat.memberCount },
      invitedBy: profile(inviter),
      createdAt: iso(invitation.createdAt),
    }),
    (r) => ({ t: r.invitation.createdAt, id: r.invitation.chatId }),
  );
}

/** My invitation to a chat with the chat row, or `404 not_found` (also when a block stands between me and the inviter). */
async function requireInvitation(db: Database, chatId: string, userId: string) {
  const [row] = await db
    .select({ invitation: chatInvitations, chat: chats })
    .from(chatInvitations)
    .innerJoin(chats, eq(chats.id, chatInvitations.chatId))
    .where(and(eq(chatInvitations.chatId, chatId), eq(chatInvitations.userId, userId)))
    .limit(1);
  if (!row || (await isBlockedEitherWay(db, userId, row.invitation.invitedBy))) throw notFound("Invitation");
  return row;
}

/**
 * Accept my invitation: I join like anyone added (one D1 batch re-checking membership, bans and the
 * cap; the room hears of me with an `added` system message by the inviter) and the invitation goes
 * (a trigger deletes it with the member row). Refusals: no such invitation, or a block between me
 * and the inviter, `404 not_found`; banned from the chat `403 banned`; a full chat `409
 * member_limit` (the invitation stays). Returns the chat as I now see it.
 */
export async function acceptInvitation(db: Database, env: RoomEnv, userId: string, chatId: string) {
  const { invitation, chat } = await requireInvitation(db, chatId, userId);
  if (await joinBatch(db, chat, userId, null)) {
    const me = await findUser(db, userId);
    await announceAdded(env, chatId, invitation.invitedBy, [{ id: userId, readReceipts: me?.readReceipts ?? true }], "member");
  } else {
    const refusal = await joinRefusal(db, chat, userId, null);
    if (refusal) throw refusal;
    // A member already: the invitation has nothing left to do.
    await dropInvitation(db, chatId, userId);
  }
  return viewFor(db, env, chatId, userId);
}

/** Delete my invitation to a chat; returns whether there was one. */
async function dropInvitation(db: Database, chatId: string, userId: string): Promise<boolean> {
  const gone = await db
    .delete(chatInvitations)
    .where(and(eq(chatInvitations.chatId, chatId), eq(chatInvitations.userId, userId)))
    .returning({ chatId: chatInvitations.chatId });
  return gone.length > 0;
}

/** Decline (delete) my invitation to a chat; `404 not_found` when there is none. */
export async function declineInvitation(db: Database, userId: string, chatId: string): Promise<void> {
  if (!(await dropInvitation(db, chatId, userId))) throw notFound("Invitation");
}
