import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { requireChatMember } from "../chats/access";
import { bearerSecurity, errorResponses, json, newRouter } from "../lib/openapi";
import { PageQuery } from "../lib/pagination";
import { enforceRateLimit } from "../lib/rate-limit";
import { chatRoom } from "../rooms/client";
import { ChatSearchResult, searchChats } from "../search/chat-search";
import { FANOUT_BUDGET_MS, FANOUT_CHATS, MessageSearchStats, searchMyMessages } from "../search/message-fanout";
import { SEARCH_QUERY_MAX, UserSearchQuery, UserSearchResult } from "../search/schemas";
import { searchUsers } from "../search/service";
import { PublicProfile } from "../users/schemas";
import { ChatSearchHit } from "./search-routes";

/**
 * Search everywhere, mounted at /api/v1/search: people, chats and my messages at once, or each
 * alone. Served from messages, the layer that knows the message shape; people and chats come
 * from search/, the fan-out over my chats' rooms from search/message-fanout.ts.
 */
const tags = ["Search"];
const auth = requireAuth();
const app = newRouter();

const Q = z.string().trim().min(1).max(SEARCH_QUERY_MAX).openapi({ example: "release" });
const FANOUT_RULE =
  `Asks my ${FANOUT_CHATS} most recently active chats in parallel (encrypted chats are never indexed) and merges their best ` +
  `matches by score; a room that has not answered within ${FANOUT_BUDGET_MS} ms is left out (counted in \`timedOutChats\`), ` +
  `and \`moreChats\` says older chats were not searched (search one with \`chatId\`).`;

const MessageHit = ChatSearchHit.extend({ chatId: z.string() }).openapi("MessageSearchHit");
const MessageSearchResult = z
  .object({ items: z.array(MessageHit), nextCursor: z.string().nullable(), ...MessageSearchStats })
  .openapi("MessageSearchResult");

const TYPES = ["users", "chats", "messages"] as const;
const EverywhereQuery = z.object({
  q: Q,
  types: z
    .string()
    .default(TYPES.join(","))
    .pipe(
      z
        .string()
        .transform((v) => v.split(","))
        .pipe(z.array(z.enum(TYPES)).min(1)),
    )
    .openapi({ description: "Comma-separated: users, chats, messages (default all)", example: "users,chats" }),
  limit: z.coerce.number().int().min(1).max(20).default(5).openapi({ description: "Results per type" }),
});

app.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "searchEverywhere",
    tags,
    summary: "Search people, chats and my messages at once",
    description: `The best \`limit\` of each type asked for, each as its own route ranks them. Messages: ${FANOUT_RULE} Rate limit: 30 a minute.`,
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { query: EverywhereQuery },
    responses: {
      200: json(
        z
          .object({
            users: z.array(PublicProfile).optional(),
            chats: z.array(ChatSearchResult).optional(),
            messages: MessageSearchResult.omit({ nextCursor: true }).optional(),
          })
          .openapi("SearchEverywhereResult"),
      ),
      ...errorResponses(400, 401, 429, 503),
    },
  }),
  async (c) => {
    const { q, types, limit } = c.req.valid("query");
    const viewerId = c.var.auth.userId;
    await enforceRateLimit(c, "search:global", viewerId);
    const [users, chats, messages] = await Promise.all([
      types.includes("users") ? searchUsers(c.var.db, viewerId, { q, limit }).then((p) => p.items) : undefined,
      types.includes("chats") ? searchChats(c.var.db, viewerId, { q, limit }).then((p) => p.items) : undefined,
      types.includes("messages") ? searchMyMessages(c.env, c.var.db, viewerId, { q, limit }) : undefined,
    ]);
    return c.json({ users, chats, messages }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/users",
    operationId: "searchPeople",
    tags,
    summary: "Search people (as GET /users/search)",
    description: "The same search as GET /api/v1/users/search. Rate limit: 60 searches a minute.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { query: UserSearchQuery },
    responses: { 200: json(UserSearchResult), ...errorResponses(400, 401, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "search:user", c.var.auth.userId);
    return c.json(await searchUsers(c.var.db, c.var.auth.userId, c.req.valid("query")), 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/chats",
    operationId: "searchChats",
    tags,
    summary: "Search groups and channels by name and description",
    description:
      "Every word must start a word of the name or description (case and accents ignored). Chats I am in come first, then " +
      "public ones; private chats I am not in never appear. Keyset pages. Rate limit: 30 a minute.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { query: PageQuery.extend({ q: Q }) },
    responses: {
      200: json(z.object({ items: z.array(ChatSearchResult), nextCursor: z.string().nullable() }).openapi("ChatSearchPage")),
      ...errorResponses(400, 401, 429, 503),
    },
  }),
  async (c) => {
    await enforceRateLimit(c, "search:global", c.var.auth.userId);
    return c.json(await searchChats(c.var.db, c.var.auth.userId, c.req.valid("query")), 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/messages",
    operationId: "searchMyMessages",
    tags,
    summary: "Search my messages, in one chat or across my chats",
    description:
      "With `chatId` (a chat I am in, else 404): that chat's search, paginated by `cursor`. Without: " +
      `${FANOUT_RULE} The best \`limit\` only (no cursor). Query syntax as in GET /chats/{chatId}/search. Rate limit: 30 a minute.`,
    security: bearerSecurity,
    middleware: [auth] as const,
    request: {
      query: PageQuery.extend({
        q: z.string().min(1).max(256).openapi({ example: "release notes" }),
        chatId: z.uuid().optional().openapi({ description: "Search only this chat" }),
      }),
    },
    responses: { 200: json(MessageSearchResult), ...errorResponses(400, 401, 404, 429, 503) },
  }),
  async (c) => {
    const { q, chatId, limit, cursor } = c.req.valid("query");
    const viewerId = c.var.auth.userId;
    await enforceRateLimit(c, "search:global", viewerId);
    if (!chatId) return c.json({ ...(await searchMyMessages(c.env, c.var.db, viewerId, { q, limit })), nextCursor: null }, 200);
    await requireChatMember(c.var.db, chatId, viewerId);
    const page = await chatRoom(c.env, chatId).search(viewerId, { q, filters: {}, order: "relevance", limit, cursor });
    const items = page.items.map((hit) => ({ ...hit, chatId }));
    return c.json({ items, nextCursor: page.nextCursor, searchedChats: 1, timedOutChats: 0, moreChats: false }, 200);
  },
);

export default app;
