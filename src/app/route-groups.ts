import { getPath } from "hono/utils/url";
import type { Router } from "../lib/openapi";

export const API_PREFIX = "/api/v1";

/** Mounts one feature's router at `path` under /api/v1. */
export type Mount = (path: string, routes: Router) => void;

/**
 * The API's routers, grouped by the first path segment under /api/v1, each group imported on its
 * first request in an isolate (app.ts). The bundler turns these `import()`s into deferred module
 * initialisation, so an isolate only builds the schemas and routers of the groups it has served: one
 * that runs only Durable Objects, cron or queues builds none, and its heap (which every major GC
 * walks in one pause) stays that much smaller. Within a group, mounts run in the order written:
 * where a static path and a parameter share a prefix, the static one must be mounted first.
 */
export const ROUTE_GROUPS = {
  async auth(mount: Mount) {
    await mountAll(mount, "/auth", [
      import("../auth/routes"),
      import("../auth/otp/routes"),
      import("../auth/guest-routes"),
      import("../auth/two-factor/routes"),
      import("../auth/security/routes"),
    ]);
  },
  async dev(mount: Mount) {
    mount("/dev", (await import("../dev/routes")).default);
  },
  async users(mount: Mount) {
    // Static paths (search, me/…) before /users/{id}.
    await mountAll(mount, "/users", [
      import("../search/routes"),
      import("../social/routes"),
      import("../users/preference-routes"),
      import("../users/routes"),
    ]);
  },
  async bots(mount: Mount) {
    const [bots, webhooks] = await Promise.all([import("../users/bot-routes"), import("../webhooks/bot-routes")]);
    mount("/bots", bots.default);
    mount("", webhooks.ownerBotWebhookRoutes);
  },
  async reports(mount: Mount) {
    mount("/reports", (await import("../reports/routes")).default);
  },
  async admin(mount: Mount) {
    await mountAll(mount, "/admin", [import("../admin/routes"), import("../admin/api-key-routes")]);
  },
  async realtime(mount: Mount) {
    mount("", (await import("../realtime/routes")).default);
  },
  async push(mount: Mount) {
    mount("/push", (await import("../push/routes")).default);
  },
  async calls(mount: Mount) {
    await mountAll(mount, "/calls", [import("../calls/routes"), import("../calls/sfu-routes")]);
  },
  async chats(mount: Mount) {
    // Chats first: its static paths (/unread) come before /{chatId}; messages live under /{chatId}/….
    await mountAll(mount, "/chats", [
      import("../chats/routes"),
      import("../messages/routes"),
      import("../messages/envelope-routes"),
      import("../messages/pin-draft-routes"),
      import("../messages/poll-routes"),
      import("../messages/forward-routes"),
      import("../messages/reaction-routes"),
      import("../messages/search-routes"),
      import("../messages/scheduled-routes"),
    ]);
  },
  async search(mount: Mount) {
    mount("/search", (await import("../messages/global-search-routes")).default);
  },
  async keys(mount: Mount) {
    mount("/keys", (await import("../keys/routes")).default);
  },
  async media(mount: Mount) {
    const [tus, media, auth] = await Promise.all([import("../media/tus/routes"), import("../media/routes"), import("../auth/middleware")]);
    // tus first: /media/uploads must not be taken for a media id.
    mount("/media/uploads", tus.default);
    mount("/media", media.mediaRoutes(auth.requireAuth()));
  },
  async stories(mount: Mount) {
    mount("/stories", (await import("../stories/routes")).default);
  },
  async platform(mount: Mount) {
    const [platform, bots, webhooks] = await Promise.all([
      import("../platform/routes"),
      import("../platform/bot-routes"),
      import("../webhooks/bot-routes"),
    ]);
    mount("/platform", platform.default);
    mount("/platform", bots.default);
    mount("/platform", webhooks.platformBotWebhookRoutes);
  },
  async webhooks(mount: Mount) {
    mount("/webhooks", (await import("../webhooks/routes")).default);
  },
} satisfies Record<string, (mount: Mount) => Promise<void>>;

/** Mounts each module's router at `path`, in the order given (the imports run side by side). */
async function mountAll(mount: Mount, path: string, modules: Promise<{ default: Router }>[]): Promise<void> {
  for (const routes of await Promise.all(modules)) mount(path, routes.default);
}

export type RouteGroup = keyof typeof ROUTE_GROUPS;

/** Mounts `group`'s routers on `app`, under /api/v1 (its own router, or the documented one). */
export function mountRouteGroup(app: Router, group: RouteGroup): Promise<void> {
  return ROUTE_GROUPS[group]((path, routes) => app.route(`${API_PREFIX}${path}`, routes));
}

/** The group serving `request` (its first path segment under /api/v1), or null for any other path. */
export function routeGroupOf(request: Request): RouteGroup | null {
  const segment = /^\/api\/v1\/([^/]+)/.exec(getPath(request))?.[1];
  return segment !== undefined && Object.hasOwn(ROUTE_GROUPS, segment) ? (segment as RouteGroup) : null;
}
