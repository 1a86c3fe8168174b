import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { chatMember, readerKeyDevice } from "../chats/access";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from "../lib/openapi";
import { chatRoom } from "../rooms/client";
import * as s from "./schemas";

/**
 * Per-device delivery in end-to-end encrypted chats, under /api/v1/chats/{chatId}: a device
 * acknowledges the envelopes it received (they are erased), and a sender sees where each
 * envelope of their message stands. The socket acknowledges with the `envelope.ack` frame.
 */
const tags = ["Messages"];

const auth = requireAuth();
const app = newRouter();

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/envelopes/ack",
    operationId: "acknowledgeEnvelopes",
    tags,
    summary: "Acknowledge my device's envelopes",
    description:
      "Encrypted chats: this session's device received these messages' envelopes. They are erased from the server (the " +
      "message then shows `envelope: null` to this device) and each sender's sockets hear `envelope.delivered`. Ids with no " +
      "envelope waiting for this device are ignored (not in `acknowledged`), so a retry is harmless. A device without keys " +
      "has no envelopes: `422 no_key_device`. The socket frame `envelope.ack {messageIds}` does the same.",
    security: bearerSecurity,
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(s.AckEnvelopesBody) },
    responses: { 200: json(s.AckEnvelopesResult), ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    const device = await readerKeyDevice(c.var.db, c.var.auth, c.var.chatAccess.chat);
    const result = await chatRoom(c.env, chatId).acknowledgeEnvelopes(c.var.auth.userId, device, c.req.valid("json").messageIds);
    return c.json(result, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/messages/{messageId}/deliveries",
    operationId: "listEnvelopeDeliveries",
    tags,
    summary: "Where each envelope of my message stands",
    description:
      "Encrypted chats: one row per recipient device of my message: `pending` (waiting), `delivered` (acknowledged, at " +
      "`deliveredAt`) or `expired` (not acknowledged within 30 days, erased). The sender only (`403 not_message_author`); " +
      "a message without envelopes has none.",
    security: bearerSecurity,
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams },
    responses: { 200: json(s.Deliveries), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    return c.json({ deliveries: await chatRoom(c.env, chatId).deliveries(c.var.auth.userId, messageId) }, 200);
  },
);

export default app;
