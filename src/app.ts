import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import apiKeyRoutes from "./admin/api-key-routes";
import adminRoutes from "./admin/routes";
import guestRoutes from "./auth/guest-routes";
import { requireAuth } from "./auth/middleware";
import otpRoutes from "./auth/otp/routes";
import authRoutes from "./auth/routes";
import securityRoutes from "./auth/security/routes";
import twoFactorRoutes from "./auth/two-factor/routes";
import callRoutes from "./calls/routes";
import callSfuRoutes from "./calls/sfu-routes";
import { callSignaling } from "./calls/signaling";
import { removeAccountFromChats } from "./chats/account-removal";
import { syncDirectChatBlock } from "./chats/direct-blocks";
import chatRoutes from "./chats/routes";
import { createDb } from "./db/client";
import devRoutes from "./dev/routes";
import healthRoutes from "./health/routes";
import { registerCallPort } from "./hubs/call-port";
import keyRoutes from "./keys/routes";
import { corsOrigins, maxBodyBytes, SEND_MAX_BODY_BYTES } from "./lib/config";
import { AppError, errorResponse, noSuchRoute } from "./lib/errors";
import { documentOnBehalfOf, newRouter, publicSecurity } from "./lib/openapi";
import { registerMediaReader } from "./media/access";
import { attachOwnedMedia, detachMessageMedia, referenceMedia, releaseMedia } from "./media/attachments";
import { mediaRoutes } from "./media/routes";
import { removeAccountMedia } from "./media/service";
import { TUS_REQUEST_HEADERS, TUS_RESPONSE_HEADERS } from "./media/tus/protocol";
import tusRoutes from "./media/tus/routes";
import envelopeRoutes from "./messages/envelope-routes";
import forwardRoutes from "./messages/forward-routes";
import globalSearchRoutes from "./messages/global-search-routes";
import pinDraftRoutes from "./messages/pin-draft-routes";
import pollRoutes from "./messages/poll-routes";
import reactionRoutes from "./messages/reaction-routes";
import messageRoutes from "./messages/routes";
import scheduledRoutes from "./messages/scheduled-routes";
import chatSearchRoutes from "./messages/search-routes";
import platformBotRoutes from "./platform/bot-routes";
import platformRoutes from "./platform/routes";
import pushRoutes from "./push/routes";
import realtimeRoutes from "./realtime/routes";
import reportRoutes from "./reports/routes";
import { onReportTarget } from "./reports/target-checks";
import { registerMediaPort } from "./rooms/media-port";
import searchRoutes from "./search/routes";
import { onBlockChange } from "./social/block-hooks";
import socialRoutes from "./social/routes";
import { canViewStoryMedia, findVisibleStory } from "./stories/access";
import { removeAccountStories } from "./stories/account-removal";
import storyRoutes from "./stories/routes";
import botRoutes from "./users/bot-routes";
import { removeAccountBots } from "./users/bots";
import { onAccountDeletion } from "./users/deletion-hooks";
import preferenceRoutes from "./users/preference-routes";
import userRoutes from "./users/routes";
import { ownerBotWebhookRoutes, platformBotWebhookRoutes } from "./webhooks/bot-routes";
import webhookRoutes from "./webhooks/routes";

export const API_PREFIX = "/api/v1";

/** Refuse bodies over `maxSize` bytes (`413 payload_too_large`) before they are parsed. */
const limitBody = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new AppError(413, "payload_too_large", `Request body exceeds ${maxSize} bytes`);
    },
  });

/**
 * Routes whose body is a file, streamed to R2 and never buffered: one-request uploads and the tus
 * endpoints. They enforce their own limits (100 MB, 2 GB, the quota) instead of MAX_BODY_BYTES.
 */
const isUploadRoute = (method: string, path: string) =>
  (method === "POST" && /^\/api\/v1\/media\/?$/.test(path)) || /^\/api\/v1\/media\/uploads(\/|$)/.test(path);

/**
 * Sends may be larger than other JSON bodies: an encrypted group send carries an envelope for
 * every device of every member (up to SEND_MAX_BODY_BYTES, or MAX_BODY_BYTES when that is larger).
 */
const isMessageSend = (method: string, path: string) => method === "POST" && /^\/api\/v1\/chats\/[^/]+\/messages\/?$/.test(path);

/** Signed media content: embeddable from the web app's origin (`<img src>`), so not same-origin only. */
const isMediaContentRoute = (path: string) => /^\/api\/v1\/media\/[^/]+\/content$/.test(path);

/**
 * The /docs page's policy: everything from this origin, no inline scripts. Swagger UI renders some
 * styles as attributes, hence 'unsafe-inline' for styles only; its icons are data: URIs.
 */
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Routes that upgrade to WebSockets: CORS headers mean nothing there and must not be added. */
const isWebSocketRoute = (path: string) => /\/ws$/.test(path) || path === `${API_PREFIX}/realtime`;
/** An OPTIONS request that is not a CORS preflight: tus discovery, answered by its route. */
const isTusDiscovery = (req: Request) => req.method === "OPTIONS" && !req.headers.has("access-control-request-method");

export function buildApp() {
  const app = newRouter();
  // Modules above users and social react to their changes through hooks, so imports run one way
  // (README, Layers): chats cleans up after a deleted account (users/deletion-hooks.ts) and
  // stops or resumes posting in a direct chat when a block between its members changes (social/block-hooks.ts).
  onAccountDeletion(removeAccountFromChats);
  onAccountDeletion(removeAccountMedia);
  onBlockChange(syncDirectChatBlock);
  // Stories: an erased author's stories expire at once; a story is reported only by someone who can see it.
  onAccountDeletion(removeAccountStories);
  // Bots: an erased bot's token goes; an erased user's bots are erased too (users/bots.ts).
  onAccountDeletion(removeAccountBots);
  // Hubs hand call signaling from the realtime sockets, and ended sessions, to calls (above them).
  registerCallPort(callSignaling);
  onReportTarget("story", async (db, reporterId, storyId) => (await findVisibleStory(db, storyId, reporterId)) !== null);
  // Story media are read by exactly the story's audience (media cannot know audiences itself).
  registerMediaReader("story", canViewStoryMedia);
  // Rooms attach and detach message media through media (which sits above them).
  registerMediaPort({
    attachOwned: (d1, input, check) => attachOwnedMedia(createDb(d1), input, check),
    attach: (d1, chatId, messages) => referenceMedia(createDb(d1), chatId, messages),
    release: (d1, input) => releaseMedia(createDb(d1), input),
    detach: async (env, chatId, messageIds) => {
      await detachMessageMedia(createDb(env.DB), env, chatId, messageIds);
    },
  });

  app.use(requestId({ headerName: "X-Request-Id", limitLength: 128 }));
  app.use(async (c, next) => {
    const started = Date.now();
    await next();
    // One structured line per request. Never tokens, passwords, codes or message text.
    console.log(
      JSON.stringify({
        level: c.res.status >= 500 ? "error" : "info",
        method: c.req.method,
        route: c.req.routePath,
        path: c.req.path,
        status: c.res.status,
        ms: Date.now() - started,
        requestId: c.var.requestId,
        userId: c.var.auth?.userId ?? null,
      }),
    );
  });
  const defaultSecureHeaders = secureHeaders();
  const mediaContentSecureHeaders = secureHeaders({ crossOriginResourcePolicy: "cross-origin" });
  app.use((c, next) => (isMediaContentRoute(c.req.path) ? mediaContentSecureHeaders : defaultSecureHeaders)(c, next));
  app.use(async (c, next) => {
    if (isWebSocketRoute(c.req.path) || isTusDiscovery(c.req.raw)) return next();
    const origins = corsOrigins(c.env);
    return cors({
      origin: origins.includes("*") ? "*" : origins,
      allowHeaders: ["Authorization", "Content-Type", "X-Request-Id", "X-File-Name", ...TUS_REQUEST_HEADERS],
      allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: ["X-Request-Id", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", ...TUS_RESPONSE_HEADERS],
      maxAge: 600,
    })(c, next);
  });
  app.use(`${API_PREFIX}/*`, async (c, next) =>
    isUploadRoute(c.req.method, c.req.path)
      ? next()
      : limitBody(isMessageSend(c.req.method, c.req.path) ? Math.max(SEND_MAX_BODY_BYTES, maxBodyBytes(c.env)) : maxBodyBytes(c.env))(
          c,
          next,
        ),
  );
  app.use(async (c, next) => {
    c.set("db", createDb(c.env.DB));
    await next();
  });

  app.route("/", healthRoutes);
  app.route(`${API_PREFIX}/auth`, authRoutes);
  app.route(`${API_PREFIX}/auth`, otpRoutes);
  app.route(`${API_PREFIX}/auth`, guestRoutes);
  app.route(`${API_PREFIX}/auth`, twoFactorRoutes);
  app.route(`${API_PREFIX}/auth`, securityRoutes);
  app.route(`${API_PREFIX}/dev`, devRoutes);
  // Order matters under /users: static paths (search, me/…) must be registered before /users/{id}.
  app.route(`${API_PREFIX}/users`, searchRoutes);
  app.route(`${API_PREFIX}/users`, socialRoutes);
  app.route(`${API_PREFIX}/users`, preferenceRoutes);
  app.route(`${API_PREFIX}/users`, userRoutes);
  app.route(`${API_PREFIX}/bots`, botRoutes);
  app.route(`${API_PREFIX}/reports`, reportRoutes);
  app.route(`${API_PREFIX}/admin`, adminRoutes);
  app.route(`${API_PREFIX}/admin`, apiKeyRoutes);
  // Chats first: its static paths (/unread) come before /{chatId}; messages live under /{chatId}/….
  app.route(API_PREFIX, realtimeRoutes);
  app.route(`${API_PREFIX}/push`, pushRoutes);
  app.route(`${API_PREFIX}/calls`, callRoutes);
  app.route(`${API_PREFIX}/calls`, callSfuRoutes);
  app.route(`${API_PREFIX}/chats`, chatRoutes);
  app.route(`${API_PREFIX}/chats`, messageRoutes);
  app.route(`${API_PREFIX}/chats`, envelopeRoutes);
  app.route(`${API_PREFIX}/chats`, pinDraftRoutes);
  app.route(`${API_PREFIX}/chats`, pollRoutes);
  app.route(`${API_PREFIX}/chats`, forwardRoutes);
  app.route(`${API_PREFIX}/chats`, reactionRoutes);
  app.route(`${API_PREFIX}/chats`, chatSearchRoutes);
  app.route(`${API_PREFIX}/chats`, scheduledRoutes);
  app.route(`${API_PREFIX}/search`, globalSearchRoutes);
  app.route(`${API_PREFIX}/keys`, keyRoutes);
  // tus first: /media/uploads must not be taken for a media id.
  app.route(`${API_PREFIX}/media/uploads`, tusRoutes);
  app.route(`${API_PREFIX}/media`, mediaRoutes(requireAuth()));
  app.route(`${API_PREFIX}/stories`, storyRoutes);
  app.route(`${API_PREFIX}/platform`, platformRoutes);
  app.route(`${API_PREFIX}/webhooks`, webhookRoutes);
  app.route(`${API_PREFIX}/platform`, platformBotRoutes);
  app.route(API_PREFIX, ownerBotWebhookRoutes);
  app.route(`${API_PREFIX}/platform`, platformBotWebhookRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "Access token from /auth/login, /auth/register or /auth/refresh (15 minutes)",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "botAuth", {
    type: "apiKey",
    in: "header",
    name: "Authorization",
    description:
      "`Authorization: Bot <bot id>:<secret>`, a bot's token (POST /bots, shown once). Works wherever a user's bearer " +
      "token does, sockets included (header only, never `?access_token=`), except operations that list only " +
      "`bearerAuth`: those answer `403 bot_not_allowed`.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKeyAuth", {
    type: "apiKey",
    in: "header",
    name: "Authorization",
    description:
      "`Authorization: ApiKey emk_…`, a key an admin created (POST /admin/api-keys) for the app's backend. On message and " +
      "chat routes it acts as the user named by `X-On-Behalf-Of: <user id>` and needs `messages:write` or `chats:write`.",
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    tags: ["Service"],
    summary: "This OpenAPI document",
    security: publicSecurity,
    responses: { 200: { description: "OpenAPI 3.1 document" } },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/docs",
    operationId: "getApiDocsPage",
    tags: ["Service"],
    summary: "Interactive API documentation rendered from /openapi.json",
    description:
      "Swagger UI served from the Worker's own static assets (no third-party origin, so it works offline), under a " +
      "Content-Security-Policy without inline scripts. `503 docs_not_built` when the web build (npm run build:web) is missing.",
    security: publicSecurity,
    responses: {
      200: { description: "HTML page" },
      503: { description: "The page is not built (`docs_not_built`)" },
    },
  });
  const documentConfig = {
    openapi: "3.1.0",
    info: {
      title: "Edge Messenger API",
      version: "1.0.0",
      description:
        "Messenger backend on Cloudflare Workers. Errors are `{ error: { code, message, details?, requestId } }`. " +
        "Times are ISO 8601 UTC. Lists are `{ items, nextCursor }`.",
    },
    // Relative: the API is wherever this document was fetched from (wrangler dev, a workers.dev
    // name, a custom domain), so clients generated from it work against any deployment, and no
    // origin has to be configured per environment. Paths already carry the /api/v1 prefix.
    servers: [{ url: "/", description: "The deployment serving this document" }],
  };
  app.get("/openapi.json", (c) => c.json(documentOnBehalfOf(app.getOpenAPI31Document(documentConfig))));
  app.get("/docs", async (c) => {
    // The page (web/public/docs.html) and Swagger UI's files come from the Worker's own static
    // assets (swagger-ui-dist, copied by `npm run build:web`): no CDN, so it renders offline.
    const page = await c.env.ASSETS.fetch(new URL("/docs", c.req.url));
    if (!page.ok) throw new AppError(503, "docs_not_built", "The API reference page is not built (npm run build:web)");
    const res = new Response(page.body, { status: 200, headers: page.headers });
    res.headers.set("Content-Security-Policy", DOCS_CSP);
    res.headers.set("Cache-Control", "no-cache");
    return res;
  });

  app.notFound(() => {
    throw noSuchRoute();
  });
  app.onError(errorResponse);
  return app;
}

export const app = buildApp();
export type App = typeof app;
