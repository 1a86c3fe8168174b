import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { chatMember } from "../chats/access";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { chatRoom } from "../rooms/client";
import { SendContentFields } from "../rooms/content";
import { ChatIdParam, MessageResponse, ScheduledMessage, ScheduledResponse } from "./schemas";

/**
 * My scheduled messages in a chat, under /api/v1/chats/{chatId}/scheduled (scheduling itself is
 * POST …/messages with `scheduledAt`). The author's only: anyone else's id answers 404.
 */
const tags = ["Messages"];
const auth = requireAuth({ apiKeyScope: "messages:write" });
const app = newRouter();

const ScheduledParams = ChatIdParam.extend({ messageId: z.uuid().openapi({ param: { name: "messageId", in: "path" } }) });
const EditScheduledBody = z
  .strictObject({
    text: SendContentFields.text,
    scheduledAt: SendContentFields.scheduledAt,
  })
  .refine((b) => b.text !== undefined || b.scheduledAt !== undefined, "Give text, scheduledAt or both");

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/scheduled",
    operationId: "listScheduledMessages",
    tags,
    summary: "My scheduled messages in this chat",
    description: "Soonest first. Nobody else sees them until they are sent.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: ChatIdParam },
    responses: { 200: json(z.object({ items: z.array(ScheduledMessage) })), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const items = await chatRoom(c.env, c.req.valid("param").chatId).scheduledList(c.var.auth.userId);
    return c.json({ items }, 200);
  },
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/{chatId}/scheduled/{messageId}",
    operationId: "editScheduledMessage",
    tags,
    summary: "Change a scheduled message's text or time",
    description: "The author only (404 otherwise). Stickers, locations, contacts and polls have no text (`409 not_editable`).",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: ScheduledParams, body: jsonBody(EditScheduledBody) },
    responses: { 200: json(ScheduledResponse), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    const { text, scheduledAt } = c.req.valid("json");
    const scheduled = await chatRoom(c.env, chatId).editScheduled(c.var.auth.userId, messageId, {
      text,
      scheduledAt: scheduledAt ? Date.parse(scheduledAt) : undefined,
    });
    return c.json({ scheduled }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/scheduled/{messageId}",
    operationId: "cancelScheduledMessage",
    tags,
    summary: "Cancel a scheduled message",
    description: "The author only (404 otherwise). It is never sent; its attachments are let go.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: ScheduledParams },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    await chatRoom(c.env, chatId).cancelScheduled(c.var.auth.userId, messageId);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/scheduled/{messageId}/send",
    operationId: "sendScheduledMessageNow",
    tags,
    summary: "Send a scheduled message now",
    description: "The author only (404 otherwise). Sent through the same rules as any message, with the next seq.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: ScheduledParams },
    responses: { 200: json(MessageResponse), ...errorResponses(400, 401, 403, 404, 409, 422, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    const message = await chatRoom(c.env, chatId).sendScheduledNow(c.var.auth.userId, messageId);
    return c.json({ message }, 200);
  },
);

export default app;
