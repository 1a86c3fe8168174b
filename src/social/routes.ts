import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { presenceRulesChanged } from "../hubs/client";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { blockChanged } from "./block-hooks";
import { blockUser, listBlocked, unblockUser } from "./blocks";
import contactRoutes from "./contact-routes";
import { followUser, listFollows, unfollowUser } from "./follows";
import * as s from "./schemas";

/** Contacts, sync, close friends, blocks and follows under /api/v1/users (mounted before /users/{id}). */
const auth = requireAuth();
const app = newRouter();
app.route("/", contactRoutes);

app.openapi(
  createRoute({
    method: "get",
    path: "/me/blocked",
    operationId: "listBlockedUsers",
    tags: ["Blocks"],
    summary: "People I blocked",
    description: "Ordered by user id.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { query: s.PageQuery },
    responses: { 200: json(s.BlockedPage), ...errorResponses(400, 401, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listBlocked(c.var.db, c.var.auth.userId, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/me/blocked",
    operationId: "blockUser",
    tags: ["Blocks"],
    summary: "Block a user",
    description:
      "201 when blocked now, 200 when already blocked. Removes follows both ways (counts fixed) and close-friends " +
      "entries both ways; contacts stay. The blocked user can no longer follow you, start a direct chat with you, add " +
      "you to groups, or see your photo, presence or stories. Yourself: `400 cannot_block_self`.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.BlockBody) },
    responses: {
      201: json(z.object({ blocked: s.BlockedUser }), "Blocked"),
      200: json(z.object({ blocked: s.BlockedUser }), "Already blocked"),
      ...errorResponses(400, 401, 404, 413, 415, 503),
    },
  }),
  async (c) => {
    const { userId } = c.req.valid("json");
    const { created, blocked } = await blockUser(c.var.db, c.var.auth.userId, userId);
    await blockChanged(c.env, c.var.db, c.var.auth.userId, userId);
    // Neither may see the other online any more, in any room, from now on.
    await presenceRulesChanged(c.env, [c.var.auth.userId, userId]);
    return c.json({ blocked }, created ? 201 : 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/me/blocked/{userId}",
    operationId: "unblockUser",
    tags: ["Blocks"],
    summary: "Unblock a user",
    description: "Follows removed by the block are not restored. Not blocked: 404.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.UserIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    const { userId } = c.req.valid("param");
    await unblockUser(c.var.db, c.var.auth.userId, userId);
    await blockChanged(c.env, c.var.db, c.var.auth.userId, userId);
    await presenceRulesChanged(c.env, [c.var.auth.userId, userId]);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{id}/follow",
    operationId: "followUser",
    tags: ["Follows"],
    summary: "Follow a user",
    description:
      "Idempotent (following again is 204 and counts nothing twice). Yourself: `400 cannot_follow_self`. Unknown, deleted " +
      "or banned users and users who blocked you: `404 not_found`. A user you blocked: `403 blocked`.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.IdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    await followUser(c.var.db, c.var.auth.userId, c.req.valid("param").id);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{id}/follow",
    operationId: "unfollowUser",
    tags: ["Follows"],
    summary: "Unfollow a user",
    description: "Idempotent: 204 whether or not you followed them. Yourself: `400 cannot_follow_self`.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.IdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 503) },
  }),
  async (c) => {
    await unfollowUser(c.var.db, c.var.auth.userId, c.req.valid("param").id);
    return c.body(null, 204);
  },
);

for (const direction of ["followers", "following"] as const) {
  app.openapi(
    createRoute({
      method: "get",
      path: `/{id}/${direction}`,
      operationId: direction === "followers" ? "listFollowers" : "listFollowing",
      tags: ["Follows"],
      summary: direction === "followers" ? "Who follows a user" : "Whom a user follows",
      description:
        "Newest first; each item is a profile as you may see it plus `followedAt`. `id` may be `me`. Deleted or banned " +
        "users and users who blocked you: 404. People who blocked you are left out of the list.",
      security: bearerSecurity,
      middleware: [auth] as const,
      request: { params: s.IdOrMeParam, query: s.PageQuery },
      responses: { 200: json(s.FollowPage), ...errorResponses(400, 401, 404, 503) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { limit, cursor } = c.req.valid("query");
      const viewer = c.var.auth.userId;
      const result = await listFollows(c.var.db, viewer, id === "me" ? viewer : id, direction, limit, cursor);
      return c.json(result, 200);
    },
  );
}

export default app;
