import { and, asc, desc, eq, ne, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatInvitations, chatJoinRequests, chatMembers, chats, users } from "../db/schema";
import { AppError } from "../lib/errors";
import { now } from "../lib/time";
import { chatRoom } from "../rooms/client";
import type { ChatRow, MemberRow } from "./access";
import { removeMemberStatements } from "./invitees";
import { membersChanged, type RoomEnv, roomMember } from "./room-sync";

type Env = RoomEnv & { DB: D1Database };

/**
 * An account was deleted: take it out of every chat, so nothing the others can still read breaks.
 * - Direct chats stay for the other person, with the peer shown as "Deleted account"; nobody can
 *   post there any more (`403 peer_deleted`).
 * - Groups and channels: the account leaves (a `left` notice). An owner first hands the chat to
 *   the longest-standing admin, else the longest-standing member (an `ownership_transferred`
 *   notice with no actor); a chat with nobody left is deleted.
 * - Its pending join requests go, and so do its invitations: those it received and those it sent.
 * The account's messages stay, authored by "Deleted account". Idempotent: a retried deletion
 * finds no memberships left to remove (direct chats are told again, harmlessly).
 */
export async function removeAccountFromChats(env: Env, db: Database, userId: string): Promise<void> {
  const memberships = await db
    .select({ chat: chats, member: chatMembers })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(eq(chatMembers.userId, userId));
  for (const { chat, member } of memberships) {
    if (chat.type === "direct") await chatRoom(env, chat.id).setPeerDeleted();
    else if (member.role === "owner") await handOverAndLeave(env, db, chat, member);
    else await leave(env, db, chat.id, member);
  }
  await db.delete(chatJoinRequests).where(eq(chatJoinRequests.userId, userId));
  await db.delete(chatInvitations).where(or(eq(chatInvitations.userId, userId), eq(chatInvitations.invitedBy, userId)));
}

async function leave(env: Env, db: Database, chatId: string, member: MemberRow): Promise<void> {
  const d1 = db.$client;
  const [, removed] = await d1.batch<{ user_id: string }>(removeMemberStatements(d1, chatId, member.userId, member.role, now()));
  if (removed!.results.length === 0) return;
  await membersChanged(env, chatId, {
    removed: [{ userId: member.userId, reason: "left" }],
    notice: { event: "left", actorId: member.userId, userIds: [member.userId] },
  });
}

/** The owner is going: the longest-standing admin (else member) takes over; nobody left deletes the chat. */
async function handOverAndLeave(env: Env, db: Database, chat: ChatRow, owner: MemberRow): Promise<void> {
  const [successor] = await db
    .select({ member: chatMembers, readReceipts: users.readReceipts })
    .from(chatMembers)
    .innerJoin(users, eq(users.id, chatMembers.userId))
    .where(and(eq(chatMembers.chatId, chat.id), ne(chatMembers.userId, owner.userId), ne(users.status, "deleted")))
    .orderBy(desc(sql`${chatMembers.role} = 'admin'`), asc(chatMembers.joinedAt), asc(chatMembers.userId))
    .limit(1);
  if (!successor) {
    await db.delete(chats).where(eq(chats.id, chat.id));
    await chatRoom(env, chat.id).destroy();
    return;
  }
  const promoted = await db
    .update(chatMembers)
    .set({ role: "owner", permissions: null })
    .where(and(eq(chatMembers.chatId, chat.id), eq(chatMembers.userId, successor.member.userId)))
    .returning();
  if (promoted.length === 0) throw new AppError(409, "conflict", "The chat changed concurrently; try again");
  await membersChanged(env, chat.id, {
    updated: [roomMember(promoted[0]!, successor.readReceipts)],
    notice: { event: "ownership_transferred", actorId: null, userIds: [successor.member.userId], previousRole: successor.member.role },
  });
  await leave(env, db, chat.id, owner);
}
