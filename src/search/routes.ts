import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { bearerSecurity, errorResponses, json, newRouter } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import * as s from "./schemas";
import { searchUsers } from "./service";

// Mounted at /api/v1/users before the users routes, so /users/search never reaches /users/{id}.
const app = newRouter();

app.openapi(
  createRoute({
    method: "get",
    path: "/search",
    operationId: "searchUsers",
    tags: ["Users"],
    summary: "Search people by username, display name and bio",
    description:
      "Full-text search (SQLite FTS5) with prefix matching: every word of `q` must start a word of the username, " +
      "display name or bio; case and accents are ignored. An exact username match comes first, then bm25 relevance " +
      "(username hits weigh most, then display name, then bio). Only active accounts appear, never one I blocked or " +
      "that blocked me; profiles honour their owners' privacy settings. A `q` without any letter or digit is " +
      "`400 validation_failed`; a cursor from another query is `400 invalid_cursor`. Rate limit: 60 searches a minute.",
    security: bearerSecurity,
    middleware: [requireAuth()] as const,
    request: { query: s.UserSearchQuery },
    responses: { 200: json(s.UserSearchResult, "One page of matching profiles, best first"), ...errorResponses(400, 401, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "search:user", c.var.auth.userId);
    const result = await searchUsers(c.var.db, c.var.auth.userId, c.req.valid("query"));
    return c.json(result, 200);
  },
);

export default app;
