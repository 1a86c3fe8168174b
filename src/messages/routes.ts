import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { chatMember, readerKeyDevice } from "../chats/access";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { chatRoom } from "../rooms/client";
import * as s from "./schemas";

/**
 * Message routes under /api/v1/chats/{chatId}. The chat middleware checks membership in D1 (two
 * primary-key reads: `404 not_found` for non-members, removed members and unknown chats alike),
 * then calls the chat's room, the only writer of its log. Sends take the same path as the
 * socket's `message.send`. The room checks membership again from its own cache, so a member it
 * knows was removed or banned a moment ago gets `403 member_removed` / `member_banned` /
 * `not_member` on every route here, even where D1 still listed them.
 */
const tags = ["Messages"];

const auth = requireAuth({ apiKeyScope: "messages:write" });
const app = newRouter();

const SEND_ERRORS =
  "`403 chat_frozen` (frozen chat), `403 channel_read_only` (channel subscriber), `403 send_forbidden` (no sendMessages " +
  "permission), `429 slow_mode` and `429 rate_limited` (with `details.retryAfter` seconds)";

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/messages",
    operationId: "sendMessage",
    tags,
    summary: "Send a message",
    description:
      "201 with the new message; a retry with the same `clientMessageId` answers 200 with the stored message (one message " +
      "however many retries, even concurrent ones). `type` decides the fields: `text` needs `text`; `image`, `video`, " +
      "`voice` (one), `file` and `sticker` (one) need `attachments` (media ids you uploaded with purpose=attachment, whose " +
      "types fit: `422 attachment_type_mismatch`; unknown or not yours: `404 not_found`) and take `text` as a caption " +
      "(not stickers); `location` needs `location`; `contact` needs `contact`; `poll` needs `poll` (vote with POST …/votes). `replyToId`/`quoteId` name messages of this " +
      "chat (`404 not_found` with `details.field`); `mentions` are member ids (`422 mention_not_member`) or `all` (owners " +
      "and admins: `403 mention_all_forbidden`). Media types need the sendMedia permission (`403 media_forbidden`). " +
      `Other refusals: ${SEND_ERRORS}. With \`scheduledAt\` (in the future, at most a year ahead) the message is scheduled ` +
      "instead: 202 `{scheduled}`; the room sends it then (GET …/scheduled lists mine; `409 already_sent` if this " +
      "clientMessageId was sent already).",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(s.SendMessageBody) },
    responses: {
      201: json(s.MessageResponse, "Sent"),
      200: json(s.MessageResponse, "Already sent with this clientMessageId"),
      202: json(s.ScheduledResponse, "Scheduled (`scheduledAt` given; a retry answers the scheduled message again)"),
      ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    const { scheduledAt, ...body } = c.req.valid("json");
    const room = chatRoom(c.env, chatId);
    if (scheduledAt) {
      const { scheduled } = await room.schedule({ ...body, userId: c.var.auth.userId }, Date.parse(scheduledAt));
      return c.json({ scheduled }, 202);
    }
    const sender = await readerKeyDevice(c.var.db, c.var.auth, c.var.chatAccess.chat);
    const { message, duplicate } = await room.send({ ...body, userId: c.var.auth.userId, senderDeviceId: sender?.deviceId ?? null });
    return c.json({ message }, duplicate ? 200 : 201);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/messages",
    operationId: "listMessages",
    tags,
    summary: "Message history",
    description:
      "At most one of `before`, `after`, `around` (a seq); none = the latest. Items in seq order; `hasMore` says whether " +
      "more exist in the direction asked (for `around`: on either side). Messages I deleted for me are left out; messages " +
      "deleted for everyone stay as `deleted: true` with no text.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, query: s.HistoryQuery },
    responses: { 200: json(s.History), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    const device = await readerKeyDevice(c.var.db, c.var.auth, c.var.chatAccess.chat);
    return c.json(await chatRoom(c.env, chatId).history(c.var.auth.userId, { ...c.req.valid("query"), device }), 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/messages/{messageId}",
    operationId: "getMessage",
    tags,
    summary: "One message",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams },
    responses: { 200: json(s.MessageResponse), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    const device = await readerKeyDevice(c.var.db, c.var.auth, c.var.chatAccess.chat);
    return c.json({ message: await chatRoom(c.env, chatId).getMessage(c.var.auth.userId, messageId, device) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/{chatId}/messages/{messageId}",
    operationId: "editMessage",
    tags,
    summary: "Edit my message",
    description:
      "The author only (`403 not_message_author`), within 48 hours (`403 edit_window_passed`), not in a frozen chat " +
      "(`403 chat_frozen`). `text` replaces the text or a media message's caption (entities follow it); `location` moves a " +
      "live location until its `liveUntil` (`403 location_not_live`). The version replaced is kept: GET …/edits. A " +
      "`message.updated` event carries the new message. Deleted messages: 404.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams, body: jsonBody(s.EditMessageBody) },
    responses: { 200: json(s.MessageResponse), ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    const message = await chatRoom(c.env, chatId).edit(c.var.auth.userId, messageId, c.req.valid("json"));
    return c.json({ message }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/messages/{messageId}",
    operationId: "deleteMessage",
    tags,
    summary: "Delete a message for everyone, or hide it for me",
    description:
      "`?for=everyone` (default): the author within 48 hours (`403 delete_window_passed`), or an owner/admin any time " +
      "(`403 not_message_author` otherwise). Its text, content, edit history and mentions are erased and its attachments " +
      "detached (media nobody references any more are deleted); a tombstone (`deleted: true`) keeps the seq, and it stops " +
      "counting as unread. `?for=me`: hidden from my history only.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams, query: s.DeleteMessageQuery },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    await chatRoom(c.env, chatId).remove(c.var.auth.userId, messageId, c.req.valid("query").for);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/messages/{messageId}/thread",
    operationId: "getMessageThread",
    tags,
    summary: "A message and its replies",
    description:
      "Replies (messages sent with `replyToId` = this message), oldest first; page on with `after` = the last seq received " +
      "while `hasMore`. The parent's `replyCount` is live: every reply or deleted reply logs a `message.replies` event.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams, query: s.ThreadQuery },
    responses: { 200: json(s.Thread), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    const device = await readerKeyDevice(c.var.db, c.var.auth, c.var.chatAccess.chat);
    return c.json(await chatRoom(c.env, chatId).thread(c.var.auth.userId, messageId, { ...c.req.valid("query"), device }), 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/messages/{messageId}/edits",
    operationId: "listMessageEdits",
    tags,
    summary: "Earlier versions of an edited message",
    description: "Oldest first; the current version is the message itself. Erased when the message is deleted for everyone.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams },
    responses: { 200: json(s.Versions), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    return c.json({ items: await chatRoom(c.env, chatId).versions(c.var.auth.userId, messageId) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/messages/{messageId}/receipts",
    operationId: "getMessageReceipts",
    tags,
    summary: "Who received and who read a message",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MessageParams },
    responses: { 200: json(s.Receipts), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    return c.json(await chatRoom(c.env, chatId).receipts(c.var.auth.userId, messageId), 200);
  },
);

for (const kind of ["read", "delivered"] as const) {
  app.openapi(
    createRoute({
      method: "post",
      path: `/{chatId}/${kind}`,
      operationId: kind === "read" ? "markChatRead" : "markChatDelivered",
      tags,
      summary: kind === "read" ? "Mark messages read up to a seq" : "Mark messages delivered up to a seq",
      description:
        "Positions only move forward (a lower seq changes nothing) and stop at the chat's last seq. Answers my position " +
        "and my exact unread count.",
      security: actingUserSecurity("messages:write"),
      middleware: [auth, chatMember] as const,
      request: { params: s.ChatIdParam, body: jsonBody(s.ReadBody) },
      responses: { 200: json(s.ReadResult), ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
    }),
    async (c) => {
      const { chatId } = c.req.valid("param");
      return c.json(await chatRoom(c.env, chatId).mark(c.var.auth.userId, kind, c.req.valid("json").seq), 200);
    },
  );
}

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/events",
    operationId: "listChatEvents",
    tags,
    summary: "Every change after an eventSeq, in order",
    description:
      "New, edited and deleted messages, receipts, membership and chat changes. Page with `hasMore` and the last " +
      "`eventSeq` received. `tooFarBehind: true` means events the client missed were pruned: reload history, then continue " +
      "from `lastEventSeq`.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, query: s.EventsQuery },
    responses: { 200: json(s.Events), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    const { after, limit } = c.req.valid("query");
    const device = await readerKeyDevice(c.var.db, c.var.auth, c.var.chatAccess.chat);
    return c.json(await chatRoom(c.env, chatId).events(c.var.auth.userId, after, limit, device), 200);
  },
);

export default app;
