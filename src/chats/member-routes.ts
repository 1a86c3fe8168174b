import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { chatMember } from "./access";
import { addMembers, leaveChat, listMembers, removeMember, transferOwnership, updateMember } from "./members";
import * as s from "./schemas";

/** Membership routes under /api/v1/chats/{chatId}. Every change is written to D1 first, then told to the room. */
const tags = ["Chat members"];
const auth = requireAuth({ apiKeyScope: "chats:write" });
const app = newRouter();

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/members",
    operationId: "listChatMembers",
    tags,
    summary: "Members of a chat",
    description:
      "Ordered by user id; each with role, effective permissions and the profile as you may see it. In channels only " +
      "owners and admins may list subscribers (`403 permission_denied`).",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, query: s.PageQuery },
    responses: { 200: json(s.MemberPage), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listMembers(c.var.db, c.var.chatAccess, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/members",
    operationId: "addChatMembers",
    tags,
    summary: "Add people to a group or channel",
    description:
      "Needs the `addMembers` permission (owners and admins always); `role: admin` only by the owner. Each user must be " +
      "active, not blocked either way with you, not banned from the chat, and allow you by their `groupInvites` privacy. " +
      "Those whose privacy alone stands in the way get an invitation to accept or decline (`invited`; see " +
      "`GET /chats/invitations`; inviting again changes nothing); the others are in `skipped` (no reason given), and when " +
      "nobody could be added or invited the answer is `403 cannot_add_user` (`details.userIds`). Existing members are in " +
      "`alreadyMembers`. Over 1,000 (group) / 100,000 (channel): `409 member_limit` (invitations do not count). The chat " +
      "gets an `added` system message.",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(s.AddMembersBody) },
    responses: { 200: json(s.AddMembersResult), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
  }),
  async (c) => c.json(await addMembers(c.var.db, c.env, c.var.chatAccess, c.req.valid("json")), 200),
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/{chatId}/members/{userId}",
    operationId: "updateChatMember",
    tags,
    summary: "Change a member's role or permissions",
    description:
      "The owner makes and unmakes admins (a `role_changed` system message); admins set members' permission overrides " +
      "(`permissions: null` resets them to the chat's defaults). Nobody changes the owner, and admins cannot manage " +
      "other admins (`403 permission_denied`).",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MemberParams, body: jsonBody(s.UpdateMemberBody) },
    responses: { 200: json(z.object({ member: s.Member })), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
  }),
  async (c) => {
    const { userId } = c.req.valid("param");
    const member = await updateMember(c.var.db, c.env, c.var.chatAccess, userId, c.req.valid("json"));
    return c.json({ member }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/members/{userId}",
    operationId: "removeChatMember",
    tags,
    summary: "Remove a member",
    description:
      "Admins remove members; the owner removes anyone. The member's sockets close (4001) and they lose access at once. " +
      "Yourself: `400 cannot_remove_self` (leave instead).",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.MemberParams },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { userId } = c.req.valid("param");
    await removeMember(c.var.db, c.env, c.var.chatAccess, userId);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/leave",
    operationId: "leaveChat",
    tags,
    summary: "Leave a group or channel",
    description:
      "The owner must transfer ownership first (`409 owner_must_transfer`). Direct chats: `400 direct_chat_unsupported` (hide them).",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 404, 409, 503) },
  }),
  async (c) => {
    await leaveChat(c.var.db, c.env, c.var.chatAccess);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/transfer-ownership",
    operationId: "transferChatOwnership",
    tags,
    summary: "Make another member the owner (owner only)",
    description: "The previous owner becomes an admin. The target must be a member (`404 not_found`).",
    security: actingUserSecurity("chats:write"),
    middleware: [auth, chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(s.TransferOwnershipBody) },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
  }),
  async (c) => {
    await transferOwnership(c.var.db, c.env, c.var.chatAccess, c.req.valid("json").userId);
    return c.body(null, 204);
  },
);

export default app;
