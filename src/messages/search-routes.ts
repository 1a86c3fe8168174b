import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { chatMember } from "../chats/access";
import { bearerSecurity, errorResponses, json, newRouter } from "../lib/openapi";
import { PageQuery } from "../lib/pagination";
import { enforceRateLimit } from "../lib/rate-limit";
import { chatRoom } from "../rooms/client";
import { MAX_QUERY_TERMS } from "../rooms/search-query";
import { SENDABLE_TYPES } from "../rooms/types";
import { ChatIdParam, Message } from "./schemas";

/**
 * Search inside one chat: GET /api/v1/chats/{chatId}/search. The chat middleware checks
 * membership (`404 not_found` otherwise); the room runs the query against its FTS5 index.
 */
const tags = ["Messages"];
const app = newRouter();

const Time = z.iso.datetime({ offset: true });

export const ChatSearchParams = PageQuery.extend({
  q: z
    .string()
    .min(1)
    .max(256)
    .openapi({
      description:
        `Words (all must occur; case and accents ignored), "quoted phrases", a trailing * for a prefix, OR between two terms; ` +
        `at most ${MAX_QUERY_TERMS}. Chinese and Japanese match as substrings.`,
      example: 'deploy* "release notes"',
    }),
  from: z.uuid().optional().openapi({ description: "Only messages this member sent" }),
  type: z.enum(SENDABLE_TYPES).optional().openapi({ description: "Only messages of this type" }),
  before: Time.optional().openapi({ description: "Only messages sent before this time" }),
  after: Time.optional().openapi({ description: "Only messages sent after this time" }),
  hasMedia: z.enum(["true", "false"]).optional().openapi({ description: "Only messages with (true) or without (false) attachments" }),
  order: z.enum(["relevance", "recent"]).default("relevance").openapi({
    description: "relevance: bm25 blended with recency (a month-old match weighs 3/4 of a fresh one); recent: newest first",
  }),
});

export const ChatSearchHit = z
  .object({
    message: Message,
    snippet: z.string().openapi({
      description: "Up to 16 words around the matches, HTML-escaped, matches wrapped in <mark>…</mark>",
      example: "the <mark>release</mark> notes are up…",
    }),
    score: z.number().openapi({ description: "Higher is better (relevance); the seq under order=recent" }),
  })
  .openapi("ChatSearchHit");

const ChatSearchPage = z
  .object({ items: z.array(ChatSearchHit), nextCursor: z.string().nullable() })
  .openapi("ChatMessageSearchPage", { description: "One page of matches, in the order asked" });

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/search",
    operationId: "searchChatMessages",
    tags,
    summary: "Search the chat's messages",
    description:
      "Full-text search over what the caller can see: texts and captions, attachment file names, shared contacts' names. " +
      "Edited messages are found by their new text; deleted, cleared and hidden ones never appear, nor others' messages " +
      "held back by a shadow ban. A query that cannot be read (an unclosed quote, a dangling OR, nothing searchable) is " +
      "`400 invalid_query`; a cursor from another search `400 invalid_cursor`. Rate limit: 60 searches a minute.",
    security: bearerSecurity,
    middleware: [requireAuth(), chatMember] as const,
    request: { params: ChatIdParam, query: ChatSearchParams },
    responses: { 200: json(ChatSearchPage), ...errorResponses(400, 401, 404, 429, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    const query = c.req.valid("query");
    await enforceRateLimit(c, "search:chat", c.var.auth.userId);
    const page = await chatRoom(c.env, chatId).search(c.var.auth.userId, {
      q: query.q,
      filters: {
        from: query.from,
        type: query.type,
        before: query.before ? Date.parse(query.before) : undefined,
        after: query.after ? Date.parse(query.after) : undefined,
        hasMedia: query.hasMedia === undefined ? undefined : query.hasMedia === "true",
      },
      order: query.order,
      limit: query.limit,
      cursor: query.cursor,
    });
    return c.json(page, 200);
  },
);

export default app;
