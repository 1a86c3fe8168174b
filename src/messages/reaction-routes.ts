import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { chatMember } from "../chats/access";
import { actingUserSecurity, errorResponses, json, newRouter, noContent } from "../lib/openapi";
import { decodeCursor, page } from "../lib/pagination";
import { chatRoom } from "../rooms/client";
import { toEmoji } from "../rooms/emoji";
import { ReactionCursor, ReactionList, ReactionParams, ReactionSummary, ReactionsQuery } from "./reaction-schemas";
import { MessageParams } from "./schemas";

/**
 * Reactions on messages, under /api/v1/chats/{chatId}/messages/{messageId}: the chat middleware
 * checks membership in D1 (`404 not_found` otherwise), the room decides the rest. Changes are
 * logged as `reaction.added` / `reaction.removed` events (GET …/events and `sync` replay them);
 * live, sockets get coalesced `reactions` frames with the counts (README, socket protocol).
 */
const tags = ["Messages"];

const auth = requireAuth({ apiKeyScope: "messages:write" });
const app = newRouter();

const CHANGE_REFUSALS =
  "Members only, on a message they can see that is not deleted (`404 not_found`); channel subscribers may react. Refused in a " +
  "frozen chat (`403 chat_frozen`) and in a direct chat where one blocked the other (`403 blocked`) or the other deleted " +
  "their account (`403 peer_deleted`). `emoji` is exactly one emoji, percent-encoded (`400 validation_failed` otherwise: " +
  "text, digits, two emojis); `❤` and `❤️` are the same reaction.";

app.openapi(
  createRoute({
    method: "put",
    path: "/{chatId}/messages/{messageId}/reactions/{emoji}",
    operationId: "addMessageReaction",
    tags,
    summary: "React to a message",
    description:
      "Idempotent: reacting again with the same emoji changes nothing. A member may put up to 3 different emojis on a message " +
      `(\`409 too_many_reactions\` for a 4th; remove one first). Answers the message's reactions as the caller sees them. ${CHANGE_REFUSALS}`,
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: ReactionParams },
    responses: { 200: json(ReactionSummary), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { chatId, messageId, emoji } = c.req.valid("param");
    return c.json(await chatRoom(c.env, chatId).react(c.var.auth.userId, messageId, toEmoji(emoji)!), 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/messages/{messageId}/reactions/{emoji}",
    operationId: "removeMessageReaction",
    tags,
    summary: "Take my reaction off a message",
    description: `Idempotent: 204 whether or not the caller had reacted with this emoji. ${CHANGE_REFUSALS}`,
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: ReactionParams },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId, emoji } = c.req.valid("param");
    await chatRoom(c.env, chatId).unreact(c.var.auth.userId, messageId, toEmoji(emoji)!);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/messages/{messageId}/reactions",
    operationId: "listMessageReactions",
    tags,
    summary: "Who reacted to a message",
    description:
      "Oldest first, `?emoji=` for one emoji only; page on with `cursor` = `nextCursor` while it is not null. Counts per emoji " +
      "come with the message itself (`reactions`). Deleted messages and messages the caller cannot see: `404 not_found`.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: MessageParams, query: ReactionsQuery },
    responses: { 200: json(ReactionList), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    const { emoji, cursor, limit } = c.req.valid("query");
    const after = decodeCursor(cursor, ReactionCursor);
    const rows = await chatRoom(c.env, chatId).reactions(c.var.auth.userId, messageId, {
      emoji: emoji === undefined ? undefined : toEmoji(emoji)!,
      after,
      limit,
    });
    const body = page(
      rows,
      limit,
      (r) => ({ userId: r.userId, emoji: r.emoji, createdAt: new Date(r.createdAt).toISOString() }),
      (r) => ({ t: r.createdAt, u: r.userId, e: r.emoji }),
    );
    return c.json(body, 200);
  },
);

export default app;
