import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { chatMember } from "../chats/access";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter, noContent, orNull } from "../lib/openapi";
import { chatRoom } from "../rooms/client";
import { MAX_PINS } from "../rooms/pins";
import * as s from "./schemas";

/**
 * Pinned messages and drafts under /api/v1/chats/{chatId}: both live in the chat's room. Pins
 * are shared with every member (events `message.pinned` / `message.unpinned`); a draft is mine
 * alone and reaches only my own sockets in the chat (a `draft` frame).
 */
const tags = ["Messages"];
const auth = requireAuth({ apiKeyScope: "messages:write" });
const app = newRouter();

const Pinned = z
  .object({ message: s.Message, pinnedBy: z.string(), pinnedAt: z.string() })
  .openapi("PinnedMessage", { description: "A pinned message, who pinned it and when" });

const Draft = z
  .object({ text: z.string(), replyToId: z.string().nullable(), updatedAt: z.string() })
  .openapi("Draft", { description: "My unsent text in this chat, shared by my devices" });

const PIN_RULES =
  "Owners and admins, or members with the `pinMessages` permission (`403 pin_forbidden`); not in a frozen chat " +
  "(`403 chat_frozen`). Idempotent. Logs `message.pinned` / `message.unpinned`; deleting or clearing a message unpins it.";

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/messages/{messageId}/pin",
    operationId: "pinMessage",
    tags,
    summary: "Pin a message",
    description: `${PIN_RULES} At most ${MAX_PINS} pins (\`409 too_many_pins\`).`,
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams },
    responses: { 200: json(Pinned), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    return c.json(await chatRoom(c.env, chatId).pin(c.var.auth.userId, messageId), 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/messages/{messageId}/pin",
    operationId: "unpinMessage",
    tags,
    summary: "Unpin a message",
    description: PIN_RULES,
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    await chatRoom(c.env, chatId).unpin(c.var.auth.userId, messageId);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/pins",
    operationId: "listPinnedMessages",
    tags,
    summary: "The chat's pinned messages",
    description: `Most recently pinned first; at most ${MAX_PINS}. Messages I deleted for me are left out.`,
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam },
    responses: { 200: json(z.object({ items: z.array(Pinned) }).openapi("PinnedMessages")), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    return c.json({ items: await chatRoom(c.env, chatId).pins(c.var.auth.userId) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/draft",
    operationId: "getDraft",
    tags,
    summary: "My draft in this chat",
    description: "`draft` is null when I have none.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam },
    responses: { 200: json(z.object({ draft: orNull(Draft) })), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    return c.json({ draft: await chatRoom(c.env, chatId).draft(c.var.auth.userId) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "put",
    path: "/{chatId}/draft",
    operationId: "saveDraft",
    tags,
    summary: "Save my draft",
    description:
      'My sockets in this chat get `{type:"draft", chatId, draft}` at once (others never see it). Sending a message clears ' +
      "my draft (a `draft` frame with `draft: null`). `replyToId` must be a message here I can see (`404 not_found`).",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(s.DraftBody) },
    responses: { 200: json(z.object({ draft: Draft })), ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    return c.json({ draft: await chatRoom(c.env, chatId).saveDraft(c.var.auth.userId, c.req.valid("json")) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/draft",
    operationId: "deleteDraft",
    tags,
    summary: "Drop my draft",
    description: "Idempotent; my sockets get a `draft` frame with `draft: null`.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    await chatRoom(c.env, chatId).deleteDraft(c.var.auth.userId);
    return c.body(null, 204);
  },
);

export default app;
