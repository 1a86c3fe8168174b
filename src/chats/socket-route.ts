import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { bearerSecurity, ErrorSchema, errorResponses, newRouter } from "../lib/openapi";
import { acceptedSocket, notRecentlyRefused, refusalKey, webSocketOnly } from "../lib/socket-upgrade";
import { chatRoom } from "../rooms/client";
import { chatMember, readerKeyDevice } from "./access";
import { ChatIdParam } from "./schemas";

/** GET /api/v1/chats/{chatId}/ws: the Worker authenticates and checks membership, then hands the upgrade to the chat's room. */
const app = newRouter();

/** The room a socket goes to, which refusals of its upgrades are remembered by (lib/socket-upgrade.ts). */
const roomScope = (chatId: string) => `chat:${chatId}`;

app.openapi(
  createRoute({
    method: "get",
    path: "/{chatId}/ws",
    operationId: "openChatSocket",
    tags: ["Chats"],
    summary: "Open the chat's WebSocket",
    description:
      "A WebSocket upgrade. The access token comes in `Authorization: Bearer …` or, for browsers that cannot set " +
      "headers on a WebSocket, in `?access_token=`. Members only (`404 not_found` otherwise; `403 member_removed` or " +
      "`member_banned` when the chat's room already knows of a removal or ban); `429 rate_limited` with `Retry-After` " +
      "after a flood, or past 12 opens at once (then one every 5 s) by one user; a plain HTTP request gets " +
      "`426 upgrade_required`. The protocol (JSON frames `{type, …}`: message.send, typing.start/stop, read, delivered, " +
      "sync, ping; server frames hello, ack, error, events) is described in the project docs.",
    security: bearerSecurity,
    middleware: [
      notRecentlyRefused((req) => roomScope(req.param("chatId") ?? "")),
      requireAuth({ allowQueryToken: true }),
      webSocketOnly,
      chatMember,
    ] as const,
    request: {
      params: ChatIdParam,
      query: z.object({
        access_token: z.string().optional().openapi({ description: "Access token, when no Authorization header can be sent" }),
      }),
    },
    responses: {
      101: { description: "Switching Protocols: the socket is open and the room sends a `hello` frame" },
      426: { description: "Not a WebSocket upgrade (`upgrade_required`)", content: { "application/json": { schema: ErrorSchema } } },
      ...errorResponses(400, 401, 403, 404, 429, 503),
    },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    const { userId, sessionId } = c.var.auth;
    // The room trusts these headers: only the Worker can reach it, and only after the checks above.
    const headers = new Headers(c.req.raw.headers);
    headers.delete("authorization");
    headers.set("x-user-id", userId);
    headers.set("x-session-id", sessionId);
    headers.set("x-request-id", c.var.requestId);
    // An encrypted chat's socket receives its device's envelopes (never a device the client names).
    headers.delete("x-key-device-id");
    headers.delete("x-key-registration-id");
    const keyDevice = await readerKeyDevice(c.var.db, c.var.auth, c.var.chatAccess.chat);
    if (keyDevice) {
      headers.set("x-key-device-id", String(keyDevice.deviceId));
      headers.set("x-key-registration-id", String(keyDevice.registrationId));
    }
    const url = new URL(c.req.url);
    url.searchParams.delete("access_token");
    const answer = await chatRoom(c.env, chatId).upgrade(new Request(url, { method: "GET", headers }));
    return acceptedSocket(answer, refusalKey(roomScope(chatId), c.req));
  },
);

export default app;
