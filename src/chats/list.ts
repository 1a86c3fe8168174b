import { z } from "@hono/zod-openapi";
import { and, desc, eq, gt, lt, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, chats } from "../db/schema";
import { AppError } from "../lib/errors";
import { decodeCursor, page } from "../lib/pagination";
import { now } from "../lib/time";
import { chatRoom } from "../rooms/client";
import { profilesFor, usersByIds } from "../social/people";
import type { ChatRow, MemberRow } from "./access";
import type { RoomEnv } from "./room-sync";
import { withOwnPreviews } from "./shadow-previews";
import { chatView, directPeerId, type UnreadCounts } from "./views";

const NONE: UnreadCounts = { count: 0, mentions: 0 };

interface UnreadProbe {
  chatId: string;
  lastSeq: number;
  readSeq: number;
}

/**
 * Exact unread counts for `userId`. D1's `last_seq > read_seq` is only a cheap filter (the room
 * flushes last_seq about once a second, and read_seq trails sends): chats that pass it ask their
 * room, in parallel; chats that are fully read are never asked and count 0, and so does a chat the
 * user left or was removed from between the D1 read and the room's answer.
 */
export async function exactUnread(env: RoomEnv, userId: string, probes: UnreadProbe[]): Promise<Map<string, UnreadCounts>> {
  const counts = new Map<string, UnreadCounts>(probes.map((p) => [p.chatId, NONE]));
  const stale = probes.filter((p) => p.lastSeq > p.readSeq);
  const results = await Promise.all(
    stale.map(async (p) => {
      try {
        const { count, mentions } = await chatRoom(env, p.chatId).unread(userId);
        return { count, mentions };
      } catch (err) {
        // Removed from this chat a moment ago (after D1 listed it): nothing unread there, not a failed list.
        if (err instanceof AppError && (err.status === 403 || err.status === 404)) return NONE;
        throw err;
      }
    }),
  );
  for (const [i, p] of stale.entries()) counts.set(p.chatId, results[i]!);
  return counts;
}

/**
 * Views of chats as `userId` sees them: exact unread counts (exactUnread) and, for direct chats,
 * the other person's profile filtered by their privacy (one loadRelations call for the page).
 */
export async function chatViews(db: Database, env: RoomEnv, userId: string, listed: { chat: ChatRow; member: MemberRow }[]) {
  const rows = await withOwnPreviews(db, env, userId, listed);
  const unread = await exactUnread(
    env,
    userId,
    rows.map((r) => ({ chatId: r.chat.id, lastSeq: r.chat.lastSeq, readSeq: r.member.readSeq })),
  );
  const peerIds = rows.map((r) => directPeerId(r.chat, userId)).filter((id): id is string => id !== null);
  const peers = peerIds.length > 0 ? await usersByIds(db, peerIds) : new Map();
  const profile = await profilesFor(db, userId, [...peers.values()]);
  return rows.map(({ chat, member }) => {
    const peer = peers.get(directPeerId(chat, userId) ?? "");
    return chatView(chat, member, unread.get(chat.id) ?? NONE, peer ? profile(peer) : undefined);
  });
}

const ChatCursor = z.object({ p: z.union([z.literal(0), z.literal(1)]), a: z.number().int(), id: z.string() });

const pinned = sql<number>`(${chatMembers.pinnedAt} IS NOT NULL)`;

/**
 * One page of `userId`'s chats: pinned first, then by last activity, newest first (keyset on
 * (pinned, last_activity_at, id)). The sort key lives on the chat row the room updates, so this
 * reads every membership of the user plus their chat rows: O(my chats), never O(members) or
 * O(messages). (Per-member copies of the activity time would cost a D1 write per member on every
 * send; the per-user UserHub will own the ordered list when it exists.)
 */
export function chatsPageQuery(
  db: Database,
  userId: string,
  f: { archived: boolean; hidden: boolean },
  limit: number,
  after: z.output<typeof ChatCursor> | null,
) {
  return db
    .select({ chat: chats, member: chatMembers })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(
      and(
        eq(chatMembers.userId, userId),
        eq(chatMembers.archived, f.archived),
        eq(chatMembers.hidden, f.hidden),
        after
          ? or(
              lt(pinned, after.p),
              and(
                eq(pinned, after.p),
                or(lt(chats.lastActivityAt, after.a), and(eq(chats.lastActivityAt, after.a), lt(chats.id, after.id))),
              ),
            )
          : undefined,
      ),
    )
    .orderBy(desc(pinned), desc(chats.lastActivityAt), desc(chats.id))
    .limit(limit + 1);
}

/** My chats, pinned first then most recent activity first, with exact unread counts. */
export async function listChats(
  db: Database,
  env: RoomEnv,
  userId: string,
  q: { archived: boolean; hidden: boolean; limit: number; cursor?: string },
) {
  const after = decodeCursor(q.cursor, ChatCursor);
  const rows = await chatsPageQuery(db, userId, q, q.limit, after);
  const slice = rows.slice(0, q.limit);
  const views = new Map((await chatViews(db, env, userId, slice)).map((v) => [v.id, v]));
  return page(
    rows,
    q.limit,
    (r) => views.get(r.chat.id)!,
    (r) => ({ p: r.member.pinnedAt != null ? 1 : 0, a: r.chat.lastActivityAt, id: r.chat.id }),
  );
}

/**
 * Unread counts of all my chats that have any: `total` leaves muted chats out, the per-chat list
 * keeps them (flagged). Exact, through exactUnread.
 */
export async function unreadSummary(db: Database, env: RoomEnv, userId: string) {
  const rows = await db
    .select({ chatId: chatMembers.chatId, readSeq: chatMembers.readSeq, mutedUntil: chatMembers.mutedUntil, lastSeq: chats.lastSeq })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(and(eq(chatMembers.userId, userId), gt(chats.lastSeq, chatMembers.readSeq)));
  const counts = await exactUnread(env, userId, rows);
  const at = now();
  const items = rows
    .map((r) => ({ chatId: r.chatId, ...(counts.get(r.chatId) ?? NONE), muted: r.mutedUntil != null && r.mutedUntil > at }))
    .filter((i) => i.count > 0);
  return {
    // A mention shows even in a muted chat.
    total: items.reduce((sum, i) => sum + (i.muted ? i.mentions : i.count), 0),
    mentions: items.reduce((sum, i) => sum + i.mentions, 0),
    chats: items,
  };
}
