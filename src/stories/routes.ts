import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import { storyFeed } from "./feed";
import { replyToStory } from "./reply";
import * as s from "./schemas";
import { createStory, deleteStory, getStory, listMyStories } from "./service";
import { listViewers, recordView } from "./views";

/**
 * Stories under /api/v1/stories. Who sees a story is one rule (access.ts, visibleTo): a story
 * outside the caller's audience, expired or deleted answers `404 not_found` like an unknown id.
 */
const tags = ["Stories"];
const auth = requireAuth();
const app = newRouter();

const NOT_VISIBLE = "Unknown, expired, deleted, or outside my audience: `404 not_found`.";

app.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createStory",
    tags,
    summary: "Post a story (live for 24 hours)",
    description:
      "Text (`text`, `background` #rrggbb, `font`) or image/video (`mediaId`, `caption` ≤ 1,000 characters). The media " +
      "item must be mine (`404 not_found`), of purpose `story` (`422 media_wrong_purpose`), image/* or video/* as the " +
      "type says (`422 media_type_mismatch`) and not used by another story (`422 media_in_use`). Audience ids must be " +
      "existing users other than me (`400 invalid_user_ids`, bad ids in `details.userIds`). Blocks hide stories both ways. " +
      "Rate limit: 60 stories an hour.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.CreateStoryBody) },
    responses: { 201: json(s.StoryResponse, "Posted"), ...errorResponses(400, 401, 404, 413, 415, 422, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "story-create:user", c.var.auth.userId);
    return c.json({ story: await createStory(c.var.db, c.var.auth.userId, c.req.valid("json")) }, 201);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "getStoryFeed",
    tags,
    summary: "Stories of the people I follow or have in my contacts, grouped by author",
    description:
      "Authors with a story I have not viewed first, then by their newest story; keyset-paginated over authors. Only " +
      "live stories whose audience includes me; my own are at GET /stories/me.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { query: s.FeedQuery },
    responses: { 200: json(s.Feed), ...errorResponses(400, 401, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await storyFeed(c.var.db, c.var.auth.userId, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/me",
    operationId: "listMyStories",
    tags,
    summary: "My live stories, oldest first",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { query: s.PageQuery },
    responses: { 200: json(s.StoryPage), ...errorResponses(400, 401, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listMyStories(c.var.db, c.var.auth.userId, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getStory",
    tags,
    summary: "One story",
    description: NOT_VISIBLE,
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.StoryIdParam },
    responses: { 200: json(s.StoryResponse), ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => c.json({ story: await getStory(c.var.db, c.req.valid("param").id, c.var.auth.userId) }, 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    operationId: "deleteStory",
    tags,
    summary: "Delete my story",
    description: "It disappears at once; the 5-minute sweep then removes its views and its media. Someone else's: `404 not_found`.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.StoryIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    await deleteStory(c.var.db, c.req.valid("param").id, c.var.auth.userId);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{id}/view",
    operationId: "viewStory",
    tags,
    summary: "Mark a story viewed",
    description: `Idempotent: the first view counts, repeats change nothing; my own stories are not counted. ${NOT_VISIBLE}`,
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.StoryIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    await recordView(c.var.db, c.req.valid("param").id, c.var.auth.userId);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{id}/views",
    operationId: "listStoryViewers",
    tags,
    summary: "Who viewed my story, newest first",
    description: "The author only: anyone else, and expired stories, `404 not_found`.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.StoryIdParam, query: s.PageQuery },
    responses: { 200: json(s.ViewersPage), ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listViewers(c.var.db, c.req.valid("param").id, c.var.auth.userId, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{id}/reply",
    operationId: "replyToStory",
    tags,
    summary: "Reply to a story with a direct message",
    description:
      "The reply is a text message in my direct chat with the author (created if needed, refused by blocks like any " +
      "direct chat) with `storyReply: {storyId}`; read it with the messages API. 201 with the message; a retry with the " +
      `same clientMessageId answers 200. My own story: \`400 cannot_reply_to_own_story\`. ${NOT_VISIBLE}`,
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.StoryIdParam, body: jsonBody(s.ReplyBody) },
    responses: {
      201: json(s.MessageResponse, "Sent"),
      200: json(s.MessageResponse, "Already sent with this clientMessageId"),
      ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    const { message, duplicate } = await replyToStory(c.var.db, c.env, c.req.valid("param").id, c.var.auth.userId, c.req.valid("json"));
    return c.json({ message }, duplicate ? 200 : 201);
  },
);

export default app;
