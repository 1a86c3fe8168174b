import type { Context } from "hono";
import type { AppEnv } from "../env";
import healthRoutes from "../health/routes";
import { AppError } from "../lib/errors";
import { documentOnBehalfOf, newRouter, publicSecurity, type Router } from "../lib/openapi";
import { mountRouteGroup, ROUTE_GROUPS, type RouteGroup } from "./route-groups";

/**
 * The /docs page's policy: everything from this origin, no inline scripts. Swagger UI renders some
 * styles as attributes, hence 'unsafe-inline' for styles only; its icons are data: URIs.
 */
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const DOCUMENT_CONFIG = {
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

let documented: Promise<Router> | undefined;

/**
 * Every route of the API on one router, with the security schemes and the service paths: what the
 * OpenAPI document is made from. Built on the first request for /openapi.json (it imports every
 * route group) and kept for the isolate's life; requests are served by the groups' own routers.
 */
export function documentedRouter(): Promise<Router> {
  documented ??= buildDocumentedRouter().catch((error: unknown) => {
    documented = undefined;
    throw error;
  });
  return documented;
}

async function buildDocumentedRouter(): Promise<Router> {
  const app = newRouter();
  app.route("/", healthRoutes);
  for (const group of Object.keys(ROUTE_GROUPS) as RouteGroup[]) await mountRouteGroup(app, group);
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
  return app;
}

/** Mounts the service routes: /health, /health/ready, /openapi.json and /docs. */
export function mountServiceRoutes(app: Router): void {
  app.route("/", healthRoutes);
  app.get("/openapi.json", async (c) => c.json(documentOnBehalfOf((await documentedRouter()).getOpenAPI31Document(DOCUMENT_CONFIG))));
  app.get("/docs", docsPage);
}

/**
 * The page (web/public/docs.html) and Swagger UI's files come from the Worker's own static
 * assets (swagger-ui-dist, copied by `npm run build:web`): no CDN, so it renders offline.
 */
async function docsPage(c: Context<AppEnv>): Promise<Response> {
  const page = await c.env.ASSETS.fetch(new URL("/docs", c.req.url));
  if (!page.ok) throw new AppError(503, "docs_not_built", "The API reference page is not built (npm run build:web)");
  const res = new Response(page.body, { status: 200, headers: page.headers });
  res.headers.set("Content-Security-Policy", DOCS_CSP);
  res.headers.set("Cache-Control", "no-cache");
  return res;
}
