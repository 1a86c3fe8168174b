import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { publishToHubs } from "../hubs/client";
import { publishEvent } from "../lib/events";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import { chatMember } from "./access";
import invitationRoutes from "./invitation-routes";
import { listChats, unreadSummary } from "./list";
import memberRoutes from "./member-routes";
import messageTtlRoutes from "./message-ttl";
import moderationRoutes from "./moderation-routes";
import * as s from "./schemas";
import { createChat, deleteChat, getChat, setFrozen, truncateChat, updateChat } from "./service";
import { updateSettings } from "./settings";
import socketRoutes from "./socket-route";

/**
 * The chat directory under /api/v1/chats. Static paths (`/unread`, `/invitations…`) are registered
 * before `/{chatId}`, whose middleware would otherwise take them for chat ids.
 */
const tags = ["Chats"];
const auth = requireAuth({ apiKeyScope: "chats:write" });
const app = newRouter();
const ChatResponse = z.object({ chat: s.Chat });

app.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createChat",
    tags,
    summary: "Create a chat, or open the direct chat with someone",
    description:
      "direct: `memberIds` = exactly one other user; an existing direct chat between the two is returned with 200 " +
      "(and un-hidden for you), a new one with 201. Refused when either blocked the other (`404 not_found` towards " +
      "someone who blocked you, `403 blocked` towards someone you blocked); yourself: `400 cannot_chat_with_self`. " +
      "group/channel: `name` required; you become the owner; each user in `memberIds` is added when their account is " +
      "active, no block stands between you, and their `groupInvites` privacy allows you. Those whose privacy alone keeps " +
      "you from adding them get an invitation to accept (listed in `invited`; see `GET /chats/invitations`); the others " +
      "(unknown or inactive accounts, blocks either way) are listed in `skipped` (no reason given). Groups hold up to " +
      "1,000 members, channels 100,000 (invitations do not count). Groups and channels also take `noForwards` and " +
      '`metadata` (JSON object ≤ 4 KiB). Guests (`kind: "guest"`) may not create channels or public groups ' +
      "(`403 guest_not_allowed`). 30 creations a minute per user.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth] as const,
    request: { body: jsonBody(s.CreateChatBody) },
    responses: {
      201: json(s.CreateChatResult, "Created"),
      200: json(s.CreateChatResult, "The existing direct chat"),
      ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    await enforceRateLimit(c, "chat-create:user", c.var.auth.userId);
    const { chat, created, invited, skipped } = await createChat(c.var.db, c.env, c.var.auth.userId, c.req.valid("json"));
    if (created) await publishEvent(c.env, "chat.created", { chatId: chat.id, type: chat.type, createdBy: c.var.auth.userId });
    return c.json({ chat, invited, skipped }, created ? 201 : 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listChats",
    tags,
    summary: "My chats, pinned first, then most recent activity first",
    description:
      "Each item: the chat, its last message preview, `lastSeq`, exact `unreadCount`, my settings, role and permissions. " +
      "Archived and hidden chats are listed only with `?archived=true` / `?hidden=true`. The activity summary is written " +
      "by each chat's room at most once a second, so a message is in the list within about a second.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth] as const,
    request: { query: s.ListChatsQuery },
    responses: { 200: json(s.ChatPage), ...errorResponses(400, 401, 503) },
  }),
  async (c) => c.json(await listChats(c.var.db, c.env, c.var.auth.userId, c.req.valid("query")), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/unread",
    operationId: "getUnreadCounts",
    tags,
    summary: "Unread counts of my chats",
    description:
      "Every chat with unread messages (others' messages after my read position, deleted ones not counted), and a " +
      "`total` that leaves muted chats out.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth] as const,
    responses: { 200: json(s.Unread), ...errorResponses(401, 503) },
  }),
  async (c) => c.json(await unreadSummary(c.var.db, c.env, c.var.auth.userId), 200),
);

app.route("/", invitationRoutes);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}",
    operationId: "getChat",
    tags,
    summary: "One of my chats",
    description: "Not a member (or no such chat): `404 not_found`.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam },
    responses: { 200: json(ChatResponse), ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => c.json({ chat: await getChat(c.var.db, c.env, c.var.chatAccess) }, 200),
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/{chatId}",
    operationId: "updateChat",
    tags,
    summary: "Change a group's or channel's info and settings",
    description:
      "name, description, avatarMediaId (the caller's own `avatar` upload, else `422 invalid_avatar`): needs the " +
      "`changeInfo` permission (owners and admins always), and so do `noForwards` (refuse forwarding this chat's " +
      "messages) and `metadata` (your JSON object, ≤ 4 KiB serialized, stored and returned as is; null clears it). isPublic, " +
      "slowModeSeconds (0–3600) and default member `permissions`: owners and admins only (`403 permission_denied`); a " +
      "guest may not set `isPublic: true` (`403 guest_not_allowed`). " +
      "A rename leaves a `renamed` system message; every change is a `chat.updated` event. Direct chats: " +
      "`400 direct_chat_unsupported`.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(s.UpdateChatBody) },
    responses: { 200: json(ChatResponse), ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503) },
  }),
  async (c) => {
    const chat = await updateChat(c.var.db, c.env, c.var.chatAccess, c.req.valid("json"));
    return c.json({ chat }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}",
    operationId: "deleteChat",
    tags,
    summary: "Delete a group or channel (owner only)",
    description: "Erases the chat, its members and its messages; open sockets close with 4004. Direct chats cannot be deleted (hide them).",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    await deleteChat(c.var.db, c.env, c.var.chatAccess);
    await publishEvent(c.env, "chat.deleted", { chatId: c.var.chatAccess.chat.id, deletedBy: c.var.auth.userId });
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "put",
    path: "/{chatId}/settings",
    operationId: "updateChatSettings",
    tags,
    summary: "My settings of a chat: mute, pin, archive, hide",
    description:
      '`mutedUntil`: an ISO time, `"forever"` (shown as 9999-12-31T23:59:59.999Z) or null. Muted chats still count ' +
      "their unread messages but are left out of the unread total. Pinned chats come first in my list; archived and " +
      "hidden chats leave the default list.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(s.SettingsBody) },
    responses: { 200: json(z.object({ settings: s.Settings })), ...errorResponses(400, 401, 404, 413, 415, 503) },
  }),
  async (c) => {
    const settings = await updateSettings(c.var.db, c.var.chatAccess, c.req.valid("json"));
    // My other devices' chat lists follow (the realtime socket's `chat.settings`).
    const { chatId, userId } = c.var.chatAccess.member;
    const { muted: _muted, ...shown } = settings;
    // Awaited: a quick change and its undo must reach the hub in order.
    await publishToHubs(c.env, [userId], { type: "chat.settings", chatId, ...shown });
    return c.json({ settings }, 200);
  },
);

for (const action of ["freeze", "unfreeze"] as const) {
  app.openapi(
    createRoute({
      method: "post",
      path: `/{chatId}/${action}`,
      operationId: action === "freeze" ? "freezeChat" : "unfreezeChat",
      tags,
      summary: action === "freeze" ? "Freeze a group or channel: nobody can post or edit" : "Unfreeze a group or channel",
      description: "Owners and admins. Idempotent. Sends to a frozen chat answer `403 chat_frozen`.",
      security: actingUserSecurity("chats:write"),
      middleware: [auth, chatMember] as const,
      request: { params: s.ChatIdParam },
      responses: { 200: json(ChatResponse), ...errorResponses(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      const chat = await setFrozen(c.var.db, c.env, c.var.chatAccess, action === "freeze");
      return c.json({ chat }, 200);
    },
  );
}

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/truncate",
    operationId: "truncateChat",
    tags,
    summary: "Clear a group's or channel's history for everyone",
    description:
      "Owners and admins. Every message so far is deleted; seqs are not reused; members get a `chat.truncated` event " +
      "`{seq}` and should drop what they hold up to it. Unread counts fall to zero.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam },
    responses: {
      200: json(z.object({ seq: z.number(), removed: z.number() }), "History cleared"),
      ...errorResponses(400, 401, 403, 404, 503),
    },
  }),
  async (c) => c.json(await truncateChat(c.env, c.var.chatAccess), 200),
);

app.route("/", memberRoutes);
app.route("/", moderationRoutes);
app.route("/", messageTtlRoutes);
app.route("/", socketRoutes);

export default app;
