import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { errorResponses, json, jsonBody, newRouter, noContent, userSecurity } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import { Bot, BotIdParam, BotWithToken, CreateBotBody } from "./bot-schemas";
import { createBot, deleteBot, listBots, MAX_BOTS_PER_OWNER, requireBotOwner, rotateBotToken } from "./bots";

/**
 * /api/v1/bots: a signed-in person's bots. Bot tokens cannot manage bots (`403 bot_not_allowed`).
 * A bot's webhook (its updates pushed to a URL) is set at /bots/{id}/webhook (src/webhooks/bot-routes.ts).
 */
const tags = ["Bots"];
const auth = requireAuth({ allowBots: false });
const app = newRouter();

app.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createBot",
    tags,
    summary: "Create a bot",
    description:
      `A regular account (guests: \`403 guest_not_allowed\`) owns at most ${MAX_BOTS_PER_OWNER} bots (\`409 too_many_bots\`). ` +
      "The answer holds the bot's token, shown this once (only its hash is kept). With it the bot calls the API as itself " +
      "(`Authorization: Bot <token>`) on every route a user's token works on, sockets included, except sessions, " +
      "passwords, 2FA, one-time codes, devices, keys, push and these bot routes (`403 bot_not_allowed`). A bot cannot " +
      "open a direct chat with someone who has not messaged it (`403 bot_cannot_initiate`). `409 username_taken`. " +
      "30 creations an hour.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(CreateBotBody) },
    responses: { 201: json(BotWithToken, "Created"), ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503) },
  }),
  async (c) => {
    const owner = await requireBotOwner(c.var.db, c.var.auth.userId);
    await enforceRateLimit(c, "bot-create:user", owner);
    return c.json(await createBot(c.var.db, owner, c.req.valid("json")), 201);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listBots",
    tags,
    summary: "My bots, oldest first",
    security: userSecurity,
    middleware: [auth] as const,
    responses: { 200: json(z.object({ items: z.array(Bot) })), ...errorResponses(401, 403, 503) },
  }),
  async (c) => c.json({ items: await listBots(c.var.db, c.var.auth.userId) }, 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{id}/token",
    operationId: "rotateBotToken",
    tags,
    summary: "Replace my bot's token",
    description:
      "The new token is answered once; the old one stops at once (its requests answer 401, its sockets close with 4005). " +
      "Someone else's bot, or none: `404 not_found`.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: BotIdParam },
    responses: { 200: json(BotWithToken, "The bot and its new token"), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => c.json(await rotateBotToken(c.var.db, c.env, c.var.auth.userId, c.req.valid("param").id), 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    operationId: "deleteBot",
    tags,
    summary: "Delete my bot",
    description:
      "Erases the bot's account the way a deleted account is erased (it leaves its chats, its uploads go, it shows as " +
      '"Deleted account"); its token stops at once. Someone else\'s bot, or none: `404 not_found`.',
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: BotIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    await deleteBot(c.var.db, c.env, c.var.auth.userId, c.req.valid("param").id);
    return c.body(null, 204);
  },
);

export default app;
