import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { mountServiceRoutes } from "./app/api-document";
import { API_PREFIX, mountRouteGroup, type RouteGroup, routeGroupOf } from "./app/route-groups";
import { wireFeatures } from "./app/wiring";
import { createDb } from "./db/client";
import type { Bindings } from "./env";
import { corsOrigins, maxBodyBytes, SEND_MAX_BODY_BYTES } from "./lib/config";
import { AppError, errorResponse, noSuchRoute } from "./lib/errors";
import { newRouter, type Router } from "./lib/openapi";
import { TUS_REQUEST_HEADERS, TUS_RESPONSE_HEADERS } from "./media/tus/protocol";

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

/** Routes that upgrade to WebSockets: CORS headers mean nothing there and must not be added. */
const isWebSocketRoute = (path: string) => /\/ws$/.test(path) || path === `${API_PREFIX}/realtime`;
/** An OPTIONS request that is not a CORS preflight: tus discovery, answered by its route. */
const isTusDiscovery = (req: Request) => req.method === "OPTIONS" && !req.headers.has("access-control-request-method");

/** The middleware every request passes, in order: request id, log line, headers, CORS, body cap, db. */
function useMiddleware(app: Router): void {
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
}

/**
 * One router: the middleware, then the routes `mountRoutes` adds, then the 404 and error answers,
 * so each group's router answers exactly as one router holding every route would.
 */
async function buildRouter(mountRoutes: (app: Router) => Promise<void> | void): Promise<Router> {
  const app = newRouter();
  useMiddleware(app);
  await mountRoutes(app);
  app.notFound(() => {
    throw noSuchRoute();
  });
  app.onError(errorResponse);
  return app;
}

const routers = new Map<RouteGroup | "service", Promise<Router>>();

/**
 * The router for `group` ("service": /health, /openapi.json, /docs, CORS preflights and every path
 * no group owns), built on its first request in this isolate and kept. A failed build is not kept,
 * though a bundled module that threw while loading throws the same again (esbuild remembers it).
 */
export function routerFor(group: RouteGroup | "service"): Promise<Router> {
  let router = routers.get(group);
  if (!router) {
    router = buildRouter(group === "service" ? mountServiceRoutes : (app) => mountRouteGroup(app, group));
    router.catch(() => routers.delete(group));
    routers.set(group, router);
  }
  return router;
}

/**
 * Which router serves `request`. A CORS preflight is answered by the CORS middleware before any
 * route runs, so the small service router answers it and no group is built for it (tus discovery, an
 * OPTIONS without a preflight header, goes to the media group).
 */
const ownerOf = (request: Request): RouteGroup | "service" =>
  request.method === "OPTIONS" && request.headers.has("access-control-request-method") ? "service" : (routeGroupOf(request) ?? "service");

/** A router that answers every request with `error`, through the usual middleware and error answer. */
const failing = (error: unknown) =>
  buildRouter((app) => {
    app.all("*", () => {
      throw error;
    });
  });

wireFeatures();

/**
 * The Worker's HTTP handler: each request goes to its route group's router (route-groups.ts), so an
 * isolate imports only the features it serves. Answers, headers and errors are those of one router;
 * a group whose modules failed to load answers `500 internal` in the usual shape, with CORS and a request id.
 */
export const app = {
  async fetch(request: Request, env: Bindings, ctx?: ExecutionContext): Promise<Response> {
    const router = await routerFor(ownerOf(request)).catch(failing);
    return router.fetch(request, env, ctx);
  },
};
