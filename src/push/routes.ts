import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { hubFor } from "../hubs/client";
import type { PushTargetInput, PushTarget as StoredTarget } from "../hubs/push-targets";
import { AppError } from "../lib/errors";
import { errorResponses, json, jsonBody, newRouter, noContent, publicSecurity, userSecurity } from "../lib/openapi";
import { assertOutboundUrl } from "../lib/outbound";
import { fcmServiceAccount } from "./fcm";
import * as s from "./schemas";
import { vapidKeys } from "./vapid";

/**
 * Push notifications: the VAPID key browsers subscribe with and my devices' push targets (kept in my
 * hub, each bound to the session that registered it). What notifies is part of my preferences
 * (`notifications`, users/preference-routes.ts).
 */
const tags = ["Push"];
// Sessions, passwords, 2FA, devices, keys and push targets belong to people: bot tokens get `403 bot_not_allowed`.
const auth = requireAuth({ allowBots: false });
const app = newRouter();

const view = (t: StoredTarget, sessionId: string): z.infer<typeof s.PushTarget> => ({
  id: t.id,
  kind: t.kind,
  ...(t.kind === "webpush" ? { endpoint: t.endpoint } : { tokenSuffix: t.token.slice(-6) }),
  sessionId: t.sessionId,
  current: t.sessionId === sessionId,
  createdAt: new Date(t.createdAt).toISOString(),
});

app.openapi(
  createRoute({
    method: "get",
    path: "/vapid-key",
    operationId: "getVapidKey",
    tags,
    summary: "The VAPID public key browsers subscribe with",
    description:
      "Pass `publicKey` as `applicationServerKey` to `PushManager.subscribe()`, then register the subscription with " +
      "`POST /push/targets`. `503 push_not_configured` outside development without VAPID keys.",
    security: publicSecurity,
    responses: { 200: json(z.object({ publicKey: z.string().openapi({ description: "base64url, 65 bytes" }) })), ...errorResponses(503) },
  }),
  (c) => c.json({ publicKey: vapidKeys(c.env).publicKey }, 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/targets",
    operationId: "listPushTargets",
    tags,
    summary: "My devices' push targets",
    security: userSecurity,
    middleware: [auth] as const,
    responses: { 200: json(z.object({ targets: z.array(s.PushTarget) })), ...errorResponses(401, 403, 503) },
  }),
  async (c) => {
    const { userId, sessionId } = c.var.auth;
    const targets = await hubFor(c.env, userId).listPushTargets();
    return c.json({ targets: targets.map((t) => view(t, sessionId)) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/targets",
    operationId: "addPushTarget",
    tags,
    summary: "Notify this device",
    description:
      "Registers a Web Push subscription or an FCM token for the calling session: this device is notified of new messages " +
      "while it holds no realtime socket, until the session ends or the target is removed. The same endpoint or token " +
      "again answers 200 with the same target (moved to this session, keys replaced). At most 20 per user (the oldest " +
      "goes). `422 invalid_endpoint`: not an https push service (in development, http on 127.0.0.1/localhost is taken). " +
      "`503 push_not_configured`: this deployment has no VAPID keys (Web Push) or FCM service account (FCM).",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.PushTargetBody) },
    responses: {
      201: json(z.object({ target: s.PushTarget }), "Registered"),
      200: json(z.object({ target: s.PushTarget }), "Already registered; now this session's"),
      ...errorResponses(400, 401, 403, 413, 415, 422, 503),
    },
  }),
  async (c) => {
    const { userId, sessionId } = c.var.auth;
    const body = c.req.valid("json");
    let input: PushTargetInput;
    if (body.kind === "webpush") {
      vapidKeys(c.env); // refuses when Web Push cannot be sent from here
      assertOutboundUrl(c.env, body.subscription.endpoint, "invalid_endpoint", "subscription.endpoint");
      const { endpoint, keys } = body.subscription;
      input = { kind: "webpush", endpoint, p256dh: keys.p256dh, auth: keys.auth };
    } else {
      if (!fcmServiceAccount(c.env)) throw new AppError(503, "push_not_configured", "FCM is not configured (FCM_SERVICE_ACCOUNT)");
      input = { kind: "fcm", token: body.token };
    }
    const added = await hubFor(c.env, userId).addPushTarget(sessionId, input);
    if (!added) throw new AppError(401, "session_revoked", "This session has ended; sign in again");
    return c.json({ target: view(added.target, sessionId) }, added.created ? 201 : 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/targets/{id}",
    operationId: "removePushTarget",
    tags,
    summary: "Stop notifying a device",
    description: "Any of my targets (another device's too, e.g. a lost phone). Unknown ids: 404.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: s.TargetIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    if (!(await hubFor(c.env, c.var.auth.userId).removePushTarget(c.req.valid("param").id))) {
      throw new AppError(404, "not_found", "No such push target");
    }
    return c.body(null, 204);
  },
);

export default app;
