import { and, eq, gt, inArray, isNull, lt, notExists, or, sql } from "drizzle-orm";
import { createDb, type Database } from "../db/client";
import { blocks, chatBans, chatMembers, chats, contacts, keyDevices, statCounters, users } from "../db/schema";
import type { MemberDevice } from "./envelopes";
import type { PresenceRule } from "./presence";
import { type ChatConfig, DEFAULT_PERMISSIONS, parsePermissions, type RoomMember, SHADOW_BAN_FOREVER } from "./types";

/**
 * Every D1 read and write of the ChatRoom, typed from the drizzle schema (a renamed column fails
 * the typecheck). D1 stays the source of truth for membership and settings; the room reads them
 * when its cache has not seen them and writes back only its coalesced summary.
 */

/**
 * Read one membership from D1 when the room's cache has not seen it: after the room was
 * created, or if a membership RPC from the Worker was lost.
 */
export async function loadMemberFromDirectory(
  d1: D1Database,
  chatId: string,
  userId: string,
): Promise<(RoomMember & { readSeq: number }) | null> {
  const [row] = await createDb(d1)
    .select({
      role: chatMembers.role,
      permissions: chatMembers.permissions,
      readSeq: chatMembers.readSeq,
      readReceipts: users.readReceipts,
      // A shadow ban in force (the ban row's primary key): the member stays, only they see their posts.
      shadowBanned: chatBans.userId,
      shadowUntil: chatBans.until,
    })
    .from(chatMembers)
    .innerJoin(users, eq(users.id, chatMembers.userId))
    .leftJoin(
      chatBans,
      and(
        eq(chatBans.chatId, chatMembers.chatId),
        eq(chatBans.userId, chatMembers.userId),
        eq(chatBans.shadow, true),
        or(isNull(chatBans.until), gt(chatBans.until, Date.now())),
      ),
    )
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .limit(1);
  if (!row) return null;
  return {
    userId,
    role: row.role,
    overrides: parsePermissions(row.permissions),
    readReceipts: row.readReceipts,
    readSeq: row.readSeq,
    shadowBannedUntil: row.shadowBanned ? (row.shadowUntil ?? SHADOW_BAN_FOREVER) : null,
  };
}

/**
 * The key devices an encrypted send by `senderId` must reach: every device of every member whose
 * keys the sender may fetch (the key server's rule: an active account, no block either way), so
 * the device check and GET /keys never disagree. One join on chat_members' primary key prefix and
 * key_devices' (user, device) key.
 */
export async function loadMemberDevices(d1: D1Database, chatId: string, senderId: string): Promise<MemberDevice[]> {
  const blocked = createDb(d1)
    .select({ one: sql`1` })
    .from(blocks)
    .where(
      or(
        and(eq(blocks.blockerId, senderId), eq(blocks.blockedId, chatMembers.userId)),
        and(eq(blocks.blockerId, chatMembers.userId), eq(blocks.blockedId, senderId)),
      ),
    );
  return createDb(d1)
    .select({ userId: keyDevices.userId, deviceId: keyDevices.deviceId, registrationId: keyDevices.registrationId })
    .from(chatMembers)
    .innerJoin(users, and(eq(users.id, chatMembers.userId), eq(users.status, "active")))
    .innerJoin(keyDevices, eq(keyDevices.userId, chatMembers.userId))
    .where(and(eq(chatMembers.chatId, chatId), notExists(blocked)));
}

/** Read a chat's settings from D1 when the room lost (or never got) its configure call. */
export async function loadConfigFromDirectory(d1: D1Database, chatId: string): Promise<ChatConfig | null> {
  const [row] = await createDb(d1)
    .select({
      type: chats.type,
      frozenAt: chats.frozenAt,
      slowModeSeconds: chats.slowModeSeconds,
      permissions: chats.permissions,
      noForwards: chats.noForwards,
      encrypted: chats.encrypted,
      messageTtlSeconds: chats.messageTtlSeconds,
    })
    .from(chats)
    .where(eq(chats.id, chatId))
    .limit(1);
  if (!row) return null;
  return {
    chatId,
    type: row.type,
    frozen: row.frozenAt != null,
    slowModeSeconds: row.slowModeSeconds,
    noForwards: row.noForwards,
    encrypted: row.encrypted,
    messageTtlSeconds: row.messageTtlSeconds,
    permissions: { ...DEFAULT_PERMISSIONS, ...parsePermissions(row.permissions) },
  };
}

/**
 * A user's presence rule in one chat, in one D1 round trip: their `lastSeen` setting, and the
 * contacts and blocks between them and the chat's members (index ranges on the user's own rows,
 * each joined to the membership primary key). A deleted or unknown user is seen by nobody.
 */
export async function loadPresenceRule(d1: D1Database, chatId: string, userId: string): Promise<PresenceRule> {
  const db = createDb(d1);
  const memberOf = (column: typeof contacts.contactId | typeof blocks.blockedId) =>
    and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, column));
  const [who, theirContacts, contactOf, blockedByThem, blockedThem] = await db.batch([
    db.select({ audience: users.privacyLastSeen, status: users.status }).from(users).where(eq(users.id, userId)),
    db
      .select({ id: contacts.contactId })
      .from(contacts)
      .innerJoin(chatMembers, memberOf(contacts.contactId))
      .where(eq(contacts.ownerId, userId)),
    db
      .select({ id: contacts.ownerId })
      .from(contacts)
      .innerJoin(chatMembers, memberOf(contacts.ownerId))
      .where(eq(contacts.contactId, userId)),
    db.select({ id: blocks.blockedId }).from(blocks).innerJoin(chatMembers, memberOf(blocks.blockedId)).where(eq(blocks.blockerId, userId)),
    db.select({ id: blocks.blockerId }).from(blocks).innerJoin(chatMembers, memberOf(blocks.blockerId)).where(eq(blocks.blockedId, userId)),
  ]);
  const user = who[0];
  return {
    audience: user && user.status !== "deleted" ? user.audience : "nobody",
    contacts: theirContacts.map((r) => r.id),
    contactOf: contactOf.map((r) => r.id),
    blocked: [...blockedByThem, ...blockedThem].map((r) => r.id),
  };
}

/** What a room's summary flush writes to D1. */
export interface ChatSummaryWrite {
  chatId: string;
  lastSeq: number;
  lastActivityAt: number;
  /** The newest message that is not deleted, for the chat list (null: none). */
  preview: Record<string, string | number | null> | null;
  /** Senders' read positions (sending reads the chat). */
  reads: { userId: string; seq: number }[];
  /** Change in the room's people's messages since the last flush (may be negative). */
  messagesDelta: number;
}

/** One D1 batch (one transaction) of three statements: the chat row, the admin counter, senders' read positions. */
export async function writeChatSummary(d1: D1Database, s: ChatSummaryWrite): Promise<void> {
  const db = createDb(d1);
  await db.batch([
    db
      .update(chats)
      .set({
        lastSeq: s.lastSeq,
        lastActivityAt: sql`max(${chats.lastActivityAt}, ${s.lastActivityAt})`,
        lastMessage: s.preview ? JSON.stringify(s.preview) : null,
      })
      .where(eq(chats.id, s.chatId)),
    db
      .update(statCounters)
      .set({ value: sql`${statCounters.value} + ${s.messagesDelta}` })
      .where(eq(statCounters.key, MESSAGES_COUNTER)),
    ...(s.reads.length > 0 ? [advanceReadsStatement(db, s.chatId, s.reads)] : []),
  ]);
}

/**
 * Move members' read positions in D1 forward (never back), in one statement whatever
 * their number: the positions travel as one JSON parameter. A busy chat's flush carries every
 * sender of the last second; one statement each cost a query build and a D1 statement apiece.
 */
const advanceReadsStatement = (db: Database, chatId: string, reads: readonly { userId: string; seq: number }[]) =>
  db
    .update(chatMembers)
    .set({ readSeq: sql`r.seq` })
    .from(sql`(SELECT value ->> 'userId' AS user_id, value ->> 'seq' AS seq FROM json_each(${JSON.stringify(reads)})) AS r`)
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, sql`r.user_id`), lt(chatMembers.readSeq, sql`r.seq`)));

/** The admin stats counter a room adds its people's messages to. */
const MESSAGES_COUNTER = "messages";

/** Copy one member's read position to D1 (the chat list's unread check reads it). */
export async function writeReadPosition(d1: D1Database, chatId: string, userId: string, seq: number): Promise<void> {
  await advanceReadsStatement(createDb(d1), chatId, [{ userId, seq }]);
}

/** The chat was deleted: take this room's share back out of the admin messages counter. */
export async function withdrawMessages(d1: D1Database, count: number): Promise<void> {
  if (count === 0) return;
  const db = createDb(d1);
  await db
    .update(statCounters)
    .set({ value: sql`max(0, ${statCounters.value} - ${count})` })
    .where(eq(statCounters.key, MESSAGES_COUNTER));
}

/** The chats a user is a member of (the membership index by user). */
export async function chatIdsOf(d1: D1Database, userId: string): Promise<string[]> {
  const rows = await createDb(d1).select({ chatId: chatMembers.chatId }).from(chatMembers).where(eq(chatMembers.userId, userId));
  return rows.map((r) => r.chatId);
}

/**
 * Which of these accounts may not act now, and why (`account_suspended`, `account_banned`,
 * `account_deactivated`, `account_deleted`, the codes sign-in answers; a suspension that ran out
 * does not count): a scheduled message falling due is sent only for an account that could sign in.
 */
export async function restrictedAccounts(d1: D1Database, userIds: readonly string[], at: number): Promise<Map<string, string>> {
  const refused = new Map<string, string>();
  if (userIds.length === 0) return refused;
  const rows = await createDb(d1)
    .select({ id: users.id, status: users.status, suspendedUntil: users.suspendedUntil })
    .from(users)
    .where(inArray(users.id, [...userIds]));
  const found = new Map(rows.map((r) => [r.id, r]));
  for (const id of userIds) {
    const row = found.get(id);
    if (!row) refused.set(id, "account_deleted");
    else if (row.status === "suspended" && (row.suspendedUntil === null || row.suspendedUntil > at)) refused.set(id, "account_suspended");
    else if (row.status !== "active" && row.status !== "suspended") refused.set(id, `account_${row.status}`);
  }
  return refused;
}
