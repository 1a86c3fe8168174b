import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { chatMember } from "./access";
import { banUser, listBans, unbanUser } from "./bans";
import { createInvite, joinChat, listInvites, revokeInvite } from "./invites";
import { decideJoinRequest, listJoinRequests } from "./join-requests";
import * as m from "./moderation-schemas";
import * as s from "./schemas";

/** Bans, invite links, joining and join requests under /api/v1/chats. */
const auth = requireAuth({ apiKeyScope: "chats:write" });
const app = newRouter();
const origin = (url: string) => new URL(url).origin;

app.openapi(
  createRoute({
    method: "post",
    path: "/join",
    operationId: "joinChat",
    tags: ["Chat invites"],
    summary: "Join a group or channel by invite code, or a public one by id",
    description:
      'Already a member: 200 with the chat. An invite that requires approval files a join request: 202 `{status: "pending"}` ' +
      "(it counts as a use). Otherwise you join (an invite's use is counted atomically with the join) and get the chat; the " +
      "chat gets a `joined` system message. Unknown, revoked, expired or used-up invites: `404 invite_invalid`. A chat id " +
      "that is not a public group or channel: `404 not_found`. Banned: `403 banned` (`details.until`, null = forever). " +
      "Full: `409 member_limit`.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth] as const,
    request: { body: jsonBody(m.JoinBody) },
    responses: {
      200: json(z.object({ chat: s.Chat }), "Joined, or already a member"),
      202: json(z.object({ status: z.literal("pending") }), "Join request filed"),
      ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503),
    },
  }),
  async (c) => {
    const result = await joinChat(c.var.db, c.env, c.var.auth.userId, c.req.valid("json"));
    if (result.status === "pending") return c.json({ status: "pending" as const }, 202);
    return c.json({ chat: result.chat }, 200);
  },
);

const banTags = ["Chat bans"];

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/bans",
    operationId: "banChatMember",
    tags: banTags,
    summary: "Ban someone from a group or channel",
    description:
      "Owners and admins; admins ban plain members only and nobody bans the owner (`403 permission_denied`); yourself: " +
      "`400 cannot_ban_self`. A member is removed (sockets close with 4002, a `banned` system message) and cannot be added " +
      "or join again until `until` passes (left out: forever). Banning again replaces the ban. `shadow: true` on a " +
      "member is a shadow ban instead: they stay a member (no removal, no system message, no closed socket) and nothing " +
      "tells them; what they send until `until` is acknowledged and shown to them as usual (history, their sockets, their " +
      "events) but reaches nobody else: not live, not in history, threads, events or receipts, not by id (404), and it " +
      "never counts as unread, as a mention or a reply, nor shows as the chat's last message. Only plain members can be " +
      "shadow-banned (`403 permission_denied`). A shadow ban of a non-member is recorded and keeps them out like a ban. " +
      "Unknown user: `404 not_found`. Direct chats: `400 direct_chat_unsupported`.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(m.BanBody) },
    responses: { 201: json(z.object({ ban: m.Ban }), "Banned"), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
  }),
  async (c) => c.json({ ban: await banUser(c.var.db, c.env, c.var.chatAccess, c.req.valid("json")) }, 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/bans",
    operationId: "listChatBans",
    tags: banTags,
    summary: "Bans in force (owners and admins)",
    description: "Ordered by user id, keyset-paginated. Expired bans are not listed.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, query: s.PageQuery },
    responses: { 200: json(m.BanPage), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listBans(c.var.db, c.var.chatAccess, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/bans/{userId}",
    operationId: "unbanChatMember",
    tags: banTags,
    summary: "Lift a ban (owners and admins)",
    description:
      "Not banned (or the ban has ended): `404 not_found`. Lifting a ban does not add the user back. Lifting a shadow ban " +
      "makes what they send from now on visible; messages sent while shadow-banned stay visible to them alone.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MemberParams },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { userId } = c.req.valid("param");
    await unbanUser(c.var.db, c.env, c.var.chatAccess, userId);
    return c.body(null, 204);
  },
);

const inviteTags = ["Chat invites"];

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/invites",
    operationId: "createChatInvite",
    tags: inviteTags,
    summary: "Create an invite link to a group or channel",
    description:
      "Needs the `addMembers` permission (owners and admins always). `expiresAt` must be in the future; `maxUses` 1–100,000. " +
      "The link is `{origin}/join/{code}`; clients join with `POST /api/v1/chats/join {code}`.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(m.CreateInviteBody) },
    responses: { 201: json(m.Invite, "Created"), ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
  }),
  async (c) => c.json(await createInvite(c.var.db, c.var.chatAccess, c.req.valid("json"), origin(c.req.url)), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/invites",
    operationId: "listChatInvites",
    tags: inviteTags,
    summary: "Usable invite links (owners and admins)",
    description: "Not revoked, not expired, not used up; oldest first, keyset-paginated.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, query: s.PageQuery },
    responses: { 200: json(m.InvitePage), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listInvites(c.var.db, c.var.chatAccess, limit, cursor, origin(c.req.url)), 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/invites/{code}",
    operationId: "revokeChatInvite",
    tags: inviteTags,
    summary: "Revoke an invite link",
    description: "Owners, admins, or the member who created it. Unknown or already revoked: `404 not_found`.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: m.InviteParams },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { code } = c.req.valid("param");
    await revokeInvite(c.var.db, c.var.chatAccess, code);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/join-requests",
    operationId: "listJoinRequests",
    tags: inviteTags,
    summary: "Pending join requests (owners and admins)",
    description: "Ordered by user id, keyset-paginated.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, query: s.PageQuery },
    responses: { 200: json(m.JoinRequestPage), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listJoinRequests(c.var.db, c.var.chatAccess, limit, cursor), 200);
  },
);

for (const decision of ["approve", "reject"] as const) {
  app.openapi(
    createRoute({
      method: "post",
      path: `/{chatId}/join-requests/{userId}/${decision}`,
      operationId: decision === "approve" ? "approveJoinRequest" : "rejectJoinRequest",
      tags: inviteTags,
      summary: decision === "approve" ? "Approve a join request: the user joins" : "Reject a join request",
      description:
        (decision === "approve"
          ? "The user becomes a member (a `joined` system message). Banned meanwhile: `403 banned`; full: `409 member_limit`. "
          : "The request is deleted; the user may ask again with a usable invite. ") +
        "No such request: `404 not_found`. Owners and admins.",
      security: actingUserSecurity("chats:write"),
      middleware: [auth, chatMember] as const,
      request: { params: s.MemberParams },
      responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const { userId } = c.req.valid("param");
      await decideJoinRequest(c.var.db, c.env, c.var.chatAccess, userId, decision === "approve");
      return c.body(null, 204);
    },
  );
}

export default app;
