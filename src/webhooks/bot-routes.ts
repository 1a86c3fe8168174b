import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { requireApiKey } from "../auth/api-keys";
import { requireAuth } from "../auth/middleware";
import type { AppEnv } from "../env";
import { apiKeySecurity, errorResponses, json, jsonBody, newRouter, noContent, userSecurity } from "../lib/openapi";
import { assertOutboundUrl } from "../lib/outbound";
import { PageQuery } from "../lib/pagination";
import { BotIdParam } from "../users/bot-schemas";
import type { BotOwner } from "../users/bots";
import { BOT_DEFAULT_EVENTS, BotEventPattern, deleteBotWebhook, getBotWebhook, setBotWebhook } from "./bot-endpoints";
import { endpointView, listDeliveries } from "./endpoints";
import { DeliveryPage, Endpoint, Secret, Url } from "./schemas";

/**
 * A bot's webhook (bot-endpoints.ts), at `/bots/{id}/webhook` for the bot's owner (a person's
 * bearer token) and at `/platform/bots/{id}/webhook` for the app's own bots (an API key with
 * `users:write`). Both routers are made by one function, so the two surfaces cannot drift apart.
 */

const SetBody = z
  .strictObject({
    url: Url,
    events: z
      .array(BotEventPattern)
      .min(1)
      .max(30)
      .optional()
      .openapi({ description: `Families or types of the bot's chats' events; default ${BOT_DEFAULT_EVENTS.join(", ")}` }),
    rotateSecret: z.literal(true).optional(),
  })
  .openapi("SetBotWebhookRequest");
const SetResult = z.object({ endpoint: Endpoint, secret: Secret.optional() }).openapi("BotWebhook");

interface Surface {
  tag: string;
  idPrefix: string;
  security: Record<string, string[]>[];
  auth: MiddlewareHandler<AppEnv>;
  who: string;
  /** The owner whose bots this caller manages (null: the app's). */
  owner: (c: { var: AppEnv["Variables"] }) => BotOwner;
}

function botWebhookRoutes(surface: Surface) {
  const app = newRouter();
  const base = { tags: [surface.tag], security: surface.security, middleware: [surface.auth] };
  const refusals = `${surface.who} Someone else's bot, or none: \`404 not_found\`.`;

  app.openapi(
    createRoute({
      ...base,
      method: "put",
      path: "/bots/{id}/webhook",
      operationId: `set${surface.idPrefix}BotWebhook`,
      summary: "Send the bot's updates to a URL",
      description:
        `${refusals} The bot's chats' events (messages, reactions, members, the chat; not what the bot did itself) are ` +
        "POSTed there, signed (Standard Webhooks) and retried like the app's webhooks. The first set answers the signing " +
        "`secret` (201); later ones change the URL and events, enable it again and answer the secret only with " +
        "`rotateSecret: true` (200). `422 invalid_url` unless https to a host name.",
      request: { params: BotIdParam, body: jsonBody(SetBody) },
      responses: {
        200: json(SetResult, "Changed"),
        201: json(SetResult, "Created, with its secret"),
        ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      assertOutboundUrl(c.env, body.url, "invalid_url", "url");
      const { created, ...result } = await setBotWebhook(c.var.db, surface.owner(c), c.req.valid("param").id, body);
      return created ? c.json(result, 201) : c.json(result, 200);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/bots/{id}/webhook",
      operationId: `get${surface.idPrefix}BotWebhook`,
      summary: "The bot's webhook (without its secret)",
      description: `${refusals} A bot without a webhook: \`404 not_found\`.`,
      request: { params: BotIdParam },
      responses: { 200: json(z.object({ endpoint: Endpoint })), ...errorResponses(400, 401, 403, 404, 503) },
    }),
    async (c) => c.json({ endpoint: endpointView(await getBotWebhook(c.var.db, surface.owner(c), c.req.valid("param").id)) }, 200),
  );

  app.openapi(
    createRoute({
      ...base,
      method: "delete",
      path: "/bots/{id}/webhook",
      operationId: `delete${surface.idPrefix}BotWebhook`,
      summary: "Stop sending the bot's updates to its URL",
      description: `${refusals} Its delivery log goes with it; the bot's sockets still get everything.`,
      request: { params: BotIdParam },
      responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      await deleteBotWebhook(c.var.db, surface.owner(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      ...base,
      method: "get",
      path: "/bots/{id}/webhook/deliveries",
      operationId: `list${surface.idPrefix}BotWebhookDeliveries`,
      summary: "The bot's webhook delivery attempts, newest first",
      description: `${refusals} Kept 7 days, like the app's.`,
      request: { params: BotIdParam, query: PageQuery },
      responses: { 200: json(DeliveryPage), ...errorResponses(400, 401, 403, 404, 503) },
    }),
    async (c) => {
      const endpoint = await getBotWebhook(c.var.db, surface.owner(c), c.req.valid("param").id);
      const { limit, cursor } = c.req.valid("query");
      return c.json(await listDeliveries(c.var.db, endpoint.id, limit, cursor), 200);
    },
  );
  return app;
}

/** Mounted at /api/v1: a person's bots (`/bots/{id}/webhook`). */
export const ownerBotWebhookRoutes = botWebhookRoutes({
  tag: "Bots",
  idPrefix: "",
  security: userSecurity,
  auth: requireAuth({ allowBots: false }),
  who: "The bot's owner (bot tokens: `403 bot_not_allowed`).",
  owner: (c) => c.var.auth.userId,
});

/** Mounted at /api/v1/platform: the app's own bots (`/platform/bots/{id}/webhook`). */
export const platformBotWebhookRoutes = botWebhookRoutes({
  tag: "Platform",
  idPrefix: "Platform",
  security: apiKeySecurity("users:write"),
  auth: requireApiKey("users:write"),
  who: "Scope `users:write`, for the app's own bots (a bot with an owner is its owner's).",
  owner: () => null,
});
