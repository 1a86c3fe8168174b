import { z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, chats } from "../db/schema";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { chatRoom } from "../rooms/client";
import type { ChatSearchHit } from "../rooms/message-search";

/** My most recently active chats a search without `chatId` asks (in parallel). */
export const FANOUT_CHATS = 20;
/** How long the fan-out waits for the rooms; a room that has not answered by then is left out of this answer. */
export const FANOUT_BUDGET_MS = 1_500;

/** A message hit from any of my chats. */
export interface MessageHit extends ChatSearchHit {
  chatId: string;
}

/** What a search across my chats answers, and how much of them it covered. */
export interface MessageSearchResult {
  items: MessageHit[];
  /** Chats whose rooms answered in time. */
  searchedChats: number;
  /** Chats asked that did not answer within the budget, or failed (their matches are missing). */
  timedOutChats: number;
  /** I am in more chats than FANOUT_CHATS: older ones were not searched (search one with `chatId`). */
  moreChats: boolean;
}

export const MessageSearchStats = {
  searchedChats: z.number().int().openapi({ description: "Chats whose rooms answered in time" }),
  timedOutChats: z.number().int().openapi({ description: "Chats asked that did not answer within the budget" }),
  moreChats: z.boolean().openapi({ description: `I am in more than ${FANOUT_CHATS} chats: the older ones were not searched` }),
};

/**
 * My messages matching `q` across my chats: the FANOUT_CHATS most recently active (encrypted ones
 * are never indexed), each room asked in parallel for its best `limit` hits, answers merged by
 * score (bm25 blended with recency, computed by each room against its own messages: comparable,
 * not identical, across chats) and cut to `limit`. Rooms that have not answered within
 * FANOUT_BUDGET_MS are left out and counted, so one slow room never holds the answer back.
 */
export async function searchMyMessages(
  env: Bindings,
  db: Database,
  viewerId: string,
  query: { q: string; limit: number },
): Promise<MessageSearchResult> {
  const mine = await db
    .select({ id: chats.id })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(and(eq(chatMembers.userId, viewerId), eq(chats.encrypted, false)))
    .orderBy(desc(chats.lastActivityAt))
    .limit(FANOUT_CHATS + 1);
  const asked = mine.slice(0, FANOUT_CHATS);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), FANOUT_BUDGET_MS);
  });
  const answers = await Promise.all(
    asked.map(async ({ id }) => {
      const search = chatRoom(env, id)
        .search(viewerId, { q: query.q, filters: {}, order: "relevance", limit: query.limit })
        .then((page) => page.items.map((hit) => ({ ...hit, chatId: id })))
        .catch((err: unknown) => {
          // A query the rooms cannot read is the caller's mistake: say so (every room would).
          if (err instanceof AppError && err.status === 400) throw err;
          return "timeout" as const; // a room that failed counts as one that did not answer
        });
      return Promise.race([search, timeout]);
    }),
  ).finally(() => clearTimeout(timer));
  const items = answers
    .filter((a): a is MessageHit[] => a !== "timeout")
    .flat()
    .sort((x, y) => y.score - x.score || y.message.createdAt.localeCompare(x.message.createdAt))
    .slice(0, query.limit);
  const timedOutChats = answers.filter((a) => a === "timeout").length;
  return { items, searchedChats: asked.length - timedOutChats, timedOutChats, moreChats: mine.length > FANOUT_CHATS };
}
