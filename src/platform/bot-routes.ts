import { createRoute } from "@hono/zod-openapi";
import { requireApiKey } from "../auth/api-keys";
import { apiKeySecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { BotIdParam, BotWithToken, CreateBotBody } from "../users/bot-schemas";
import { createBot, deleteBot, rotateBotToken } from "../users/bots";

/**
 * /api/v1/platform/bots: bots the app's backend owns (ownerId null), with an API key of scope
 * `users:write`. The backend creates them, replaces their tokens and deletes them; nobody else can.
 */
const tags = ["Platform"];
const app = newRouter();

app.openapi(
  createRoute({
    method: "post",
    path: "/bots",
    operationId: "createPlatformBot",
    tags,
    summary: "Create a bot of the app (no owner)",
    description:
      "Scope `users:write`. Like `POST /bots` for a person, without the per-owner limit: the answer holds the bot's token, " +
      "shown this once. `409 username_taken`.",
    security: apiKeySecurity("users:write"),
    middleware: [requireApiKey("users:write")] as const,
    request: { body: jsonBody(CreateBotBody) },
    responses: { 201: json(BotWithToken, "Created"), ...errorResponses(400, 401, 403, 409, 413, 415, 503) },
  }),
  async (c) => c.json(await createBot(c.var.db, null, c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/bots/{id}/token",
    operationId: "rotatePlatformBotToken",
    tags,
    summary: "Replace the token of one of the app's bots",
    description: "Scope `users:write`. The old token stops at once. A bot with an owner, or none: `404 not_found`.",
    security: apiKeySecurity("users:write"),
    middleware: [requireApiKey("users:write")] as const,
    request: { params: BotIdParam },
    responses: { 200: json(BotWithToken, "The bot and its new token"), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => c.json(await rotateBotToken(c.var.db, c.env, null, c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/bots/{id}",
    operationId: "deletePlatformBot",
    tags,
    summary: "Delete one of the app's bots",
    description: "Scope `users:write`. Erased like a deleted account. A bot with an owner, or none: `404 not_found`.",
    security: apiKeySecurity("users:write"),
    middleware: [requireApiKey("users:write")] as const,
    request: { params: BotIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    await deleteBot(c.var.db, c.env, null, c.req.valid("param").id);
    return c.body(null, 204);
  },
);

export default app;
