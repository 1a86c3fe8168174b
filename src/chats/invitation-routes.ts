import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { actingUserSecurity, errorResponses, json, newRouter, noContent } from "../lib/openapi";
import { acceptInvitation, declineInvitation, listInvitations } from "./invitations";
import * as s from "./schemas";

/**
 * My invitations under /api/v1/chats/invitations: made when someone adds me to a group or channel
 * while my `groupInvites` privacy does not let them add me directly. Mounted before the
 * `/{chatId}` routes, which would otherwise take `invitations` for a chat id.
 */
const tags = ["Chat invitations"];
const auth = requireAuth({ apiKeyScope: "chats:write" });
const app = newRouter();

app.openapi(
  createRoute({
    method: "get",
    path: "/invitations",
    operationId: "listChatInvitations",
    tags,
    summary: "My pending invitations to groups and channels",
    description:
      "Newest first, keyset-paginated. Each: the chat (id, type, name, avatarMediaId, memberCount), who invited me (their " +
      "profile as I may see it) and when. Invitations from someone with a block between us are not listed.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth] as const,
    request: { query: s.PageQuery },
    responses: { 200: json(s.InvitationPage), ...errorResponses(400, 401, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listInvitations(c.var.db, c.var.auth.userId, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/invitations/{chatId}/accept",
    operationId: "acceptChatInvitation",
    tags,
    summary: "Accept an invitation: join the chat",
    description:
      "I become a member as if the inviter had added me (the chat gets their `added` system message) and the invitation " +
      "is gone. No such invitation of mine, or a block between me and the inviter: `404 not_found`. Banned from the chat " +
      "since: `403 banned` (`details.until`, null = forever). Full: `409 member_limit` (the invitation stays).",
    security: actingUserSecurity("chats:write"),
    middleware: [auth] as const,
    request: { params: s.ChatIdParam },
    responses: { 200: json(z.object({ chat: s.Chat }), "Joined"), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    return c.json({ chat: await acceptInvitation(c.var.db, c.env, c.var.auth.userId, chatId) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/invitations/{chatId}/decline",
    operationId: "declineChatInvitation",
    tags,
    summary: "Decline an invitation",
    description: "The invitation is deleted; nobody is told. No such invitation of mine: `404 not_found`.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth] as const,
    request: { params: s.ChatIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    await declineInvitation(c.var.db, c.var.auth.userId, chatId);
    return c.body(null, 204);
  },
);

export default app;
