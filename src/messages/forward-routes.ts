import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter } from "../lib/openapi";
import { forwardMessage } from "./forward";
import * as s from "./schemas";

/** Forwarding a message into other chats: POST /api/v1/chats/{chatId}/messages/{messageId}/forward. */

/** Most chats one forward may name. */
export const FORWARD_TARGETS_MAX = 20;

const ForwardBody = z
  .strictObject({
    toChatIds: z
      .array(z.uuid())
      .min(1)
      .max(FORWARD_TARGETS_MAX)
      .refine((ids) => new Set(ids).size === ids.length, "toChatIds must not repeat a chat")
      .openapi({ description: `1–${FORWARD_TARGETS_MAX} distinct chats to forward into` }),
  })
  .openapi("ForwardMessageRequest");

const ForwardResult = z
  .object({
    chatId: z.string(),
    message: s.Message.optional().openapi({ description: "The forwarded copy in this chat (present when it was sent)" }),
    error: z
      .object({ code: z.string(), message: z.string() })
      .optional()
      .openapi({ description: "Why this chat refused it (present instead of message)" }),
  })
  .openapi("ForwardResult");

const ForwardResponse = z
  .object({ results: z.array(ForwardResult).openapi({ description: "One per target, in the order asked" }) })
  .openapi("ForwardMessageResult");

const app = newRouter();

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/messages/{messageId}/forward",
    operationId: "forwardMessage",
    tags: ["Messages"],
    summary: "Forward a message into other chats",
    description:
      "The message must be one you can see in a chat you are in (else `404 not_found`: deleted, hidden for you, system " +
      "notices, or chats you are not in alike); a chat with `noForwards` refuses with `403 forwarding_disabled`. Each " +
      "target is then tried on its own (partial success): the answer is 200 with one result per target, `{chatId, message}` " +
      "when sent, or `{chatId, error: {code, message}}` with the code a send there would answer (`not_found` for chats you " +
      "are not in, `chat_frozen`, `channel_read_only`, `send_forbidden`, `media_forbidden`, `slow_mode`, `rate_limited`, …). " +
      "The copy keeps the type, text or caption, attachments (the target's members may read them), location (a live one as " +
      "its current position), contact and entities, but not replies, quotes, mentions or metadata; `forwardedFrom` names " +
      "the original message (`{chatId, messageId, senderId}`; forwarding a forward keeps the first origin). Idempotent: a " +
      "retry answers the copies already sent (one per source message, target chat and forwarder), never a second copy.",
    security: actingUserSecurity("messages:write"),
    middleware: [requireAuth({ apiKeyScope: "messages:write" })] as const,
    request: { params: s.MessageParams, body: jsonBody(ForwardBody) },
    responses: { 200: json(ForwardResponse, "One result per target"), ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    const results = await forwardMessage(c.var.db, c.env, c.var.auth.userId, { chatId, messageId }, c.req.valid("json").toChatIds);
    return c.json({ results }, 200);
  },
);

export default app;
