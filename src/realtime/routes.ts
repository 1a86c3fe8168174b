import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { hubFor } from "../hubs/client";
import { bearerSecurity, ErrorSchema, errorResponses, newRouter } from "../lib/openapi";
import { acceptedSocket, notRecentlyRefused, refusalKey, webSocketOnly } from "../lib/socket-upgrade";

/**
 * GET /api/v1/realtime: one socket per device to the user's hub, for everything that is not one
 * chat's live stream. The Worker authenticates; the hub checks that the session has not ended.
 */
const app = newRouter();

app.openapi(
  createRoute({
    method: "get",
    path: "/realtime",
    operationId: "openRealtimeSocket",
    tags: ["Realtime"],
    summary: "Open my realtime socket",
    description:
      "A WebSocket upgrade to the caller's hub (token in `Authorization: Bearer …` or `?access_token=`); a plain HTTP " +
      "request gets `426 upgrade_required`, an ended session `401 session_revoked`, a session opening more than 10 " +
      "sockets at once (then one every 2 s) `429 rate_limited` with `Retry-After`. The hub sends `hello {updateSeq}`, " +
      "then every update for the user's devices, each with the next `updateSeq`: `chat.activity`, `chat.read`, " +
      "`chat.added`, `chat.removed`, `chat.settings`, `chat.draft`, `security.event`, `session.ended`; and, live only (no `updateSeq`), " +
      "`presence {changes: [{userId, online, lastSeenAt?}]}` when a contact comes online or goes offline. Holding this " +
      "socket is what makes the user `online` on profiles. Client frames: " +
      "`sync {afterUpdateSeq}` (every later update in order, then an ack with `lastUpdateSeq`, `hasMore`, `tooFarBehind`), " +
      "`ping`, and call signaling (`call.accept`, `call.reject`, `call.busy`, `call.hangup`, `call.offer`, `call.answer`, " +
      "`call.ice`; the hub sends `call.*` frames live, see the Calls operations). Frames are at most 64 KiB. The protocol " +
      "is described in the project docs.",
    security: bearerSecurity,
    middleware: [notRecentlyRefused(() => "hub"), requireAuth({ allowQueryToken: true }), webSocketOnly] as const,
    request: {
      query: z.object({
        access_token: z.string().optional().openapi({ description: "Access token, when no Authorization header can be sent" }),
      }),
    },
    responses: {
      101: { description: "Switching Protocols: the socket is open and the hub sends a `hello` frame" },
      426: { description: "Not a WebSocket upgrade (`upgrade_required`)", content: { "application/json": { schema: ErrorSchema } } },
      ...errorResponses(400, 401, 429, 503),
    },
  }),
  async (c) => {
    const { userId, sessionId } = c.var.auth;
    // The hub trusts these headers: only the Worker can reach it, and only after authenticating.
    const headers = new Headers({ upgrade: "websocket", "x-user-id": userId, "x-session-id": sessionId, "x-request-id": c.var.requestId });
    return acceptedSocket(await hubFor(c.env, userId).fetch(new Request("https://hub/realtime", { headers })), refusalKey("hub", c.req));
  },
);

export default app;
