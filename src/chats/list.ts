import { z } from "@hono/zod-openapi";
import { and, eq, gt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, chats } from "../db/schema";
import type { Bindings } from "../env";
import type { ChatOrderEntry, ChatOrderFact } from "../hubs/chat-order";
import { hubFor } from "../hubs/client";
import { hubFanoutMaxMembers } from "../lib/config";
import { AppError } from "../lib/errors";
import { decodeCursor, encodeCursor } from "../lib/pagination";
import { now } from "../lib/time";
import { chatRoom } from "../rooms/client";
import { profilesFor, usersByIds } from "../social/people";
import type { ChatRow, MemberRow } from "./access";
import type { RoomEnv } from "./room-sync";

/** What listing needs from the bindings: the rooms (unread counts) and the hubs (the order). */
type ListEnv = RoomEnv & Pick<Bindings, "USER_HUB" | "HUB_FANOUT_MAX_MEMBERS">;

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

/**
 * The D1 rows of one page of my chats, named by the hub's order: my memberships of those chats
 * and the chats, two primary-key lookups a chat (ids as one JSON parameter: D1 binds at most
 * 100). O(page), however many chats I am in.
 */
export function chatPageRowsQuery(db: Database, userId: string, chatIds: readonly string[]) {
  return db
    .select({ chat: chats, member: chatMembers })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(and(sql`${chatMembers.chatId} IN (SELECT value FROM json_each(${JSON.stringify(chatIds)}))`, eq(chatMembers.userId, userId)));
}

/** Where a page's D1 row says something else than the hub's order entry (or is gone): the fact to heal it with. */
function disagreement(
  entry: ChatOrderEntry,
  row: { chat: ChatRow; member: MemberRow } | undefined,
  filter: ListFilter,
  fanoutMax: number,
): ChatOrderFact | null {
  if (!row) return { chatId: entry.chatId, row: null };
  const { chat, member } = row;
  const same =
    (member.pinnedAt != null ? 1 : 0) === entry.p &&
    chat.lastActivityAt === entry.a &&
    member.archived === filter.archived &&
    member.hidden === filter.hidden;
  if (same) return null;
  const fact = { pinnedAt: member.pinnedAt, lastActivityAt: chat.lastActivityAt, archived: member.archived, hidden: member.hidden };
  return { chatId: entry.chatId, row: { ...fact, lazy: chat.type === "channel" || chat.memberCount > fanoutMax } };
}

type ListFilter = { archived: boolean; hidden: boolean };

/**
 * My chats, pinned first then most recent activity first, with exact unread counts. The order
 * comes from my hub (hubs/chat-order.ts: O(page) however many chats I am in); the page's chats
 * and my memberships are then read from D1 by id, and where D1 disagrees with the hub (an update
 * the hub missed, a chat I left meanwhile) D1 is shown and the hub is corrected.
 */
export async function listChats(db: Database, env: ListEnv, userId: string, q: ListFilter & { limit: number; cursor?: string }) {
  const after = decodeCursor(q.cursor, ChatCursor);
  const hub = hubFor(env, userId);
  const entries = await hub.chatPage(userId, { archived: q.archived, hidden: q.hidden }, q.limit, after);
  const slice = entries.slice(0, q.limit);
  const rows =
    slice.length > 0
      ? await chatPageRowsQuery(
          db,
          userId,
          slice.map((e) => e.chatId),
        )
      : [];
  const byId = new Map(rows.map((r) => [r.chat.id, r]));
  const fanoutMax = hubFanoutMaxMembers(env);
  const facts = slice.map((e) => disagreement(e, byId.get(e.chatId), q, fanoutMax)).filter((f): f is ChatOrderFact => f !== null);
  // Best effort: the page is read already; a hub that misses this heal is corrected by a later page.
  if (facts.length > 0) {
    await hub
      .healChatOrder(facts)
      .catch((err) => console.error(JSON.stringify({ level: "error", msg: "chat order heal failed", userId, error: String(err) })));
  }
  // A chat I am no longer in, or that moved to another list (archived, hidden), is left out of this page.
  const listed = slice
    .map((e) => byId.get(e.chatId))
    .filter(
      (r): r is { chat: ChatRow; member: MemberRow } => r !== undefined && r.member.archived === q.archived && r.member.hidden === q.hidden,
    );
  const views = await chatViews(db, env, userId, listed);
  const last = slice.at(-1);
  return { items: views, nextCursor: entries.length > q.limit && last ? encodeCursor({ p: last.p, a: last.a, id: last.id }) : null };
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
