import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { assertNotStaff, requireApiKey } from "../auth/api-keys";
import { AccountKind, Session, Tokens, Username } from "../auth/schemas";
import { revokeOwnSession, sessionView } from "../auth/sessions";
import { assertCanSignIn, completeSignIn } from "../auth/sign-in";
import { chats } from "../db/schema";
import { AppError } from "../lib/errors";
import { publishEvent } from "../lib/events";
import { apiKeySecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { requestInfo } from "../lib/request-info";
import { CONTROL_RE } from "../lib/validate";
import { Message } from "../messages/schemas";
import { chatRoom } from "../rooms/client";
import { Bio, DisplayName } from "../users/schemas";
import { externalUser, externalUserView, upsertExternalUser } from "./users";

/**
 * /api/v1/platform: for the app's own backend only, with an API key (`Authorization: ApiKey …`):
 * its users by their own ids, access tokens for them (bring your own auth), and system notices.
 * The same key also reaches the message and chat routes acting as a user (see auth/api-keys.ts).
 */
const tags = ["Platform"];
const app = newRouter();

const ExternalIdParam = z.object({
  externalId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\w.:@-]+$/, "letters, digits and . _ : @ -")
    .openapi({ param: { name: "externalId", in: "path" }, example: "app-user-42" }),
});
const UpsertBody = z
  .strictObject({
    username: Username.optional(),
    displayName: DisplayName.optional(),
    bio: Bio.nullable().optional(),
    kind: z.literal("guest").optional().openapi({
      description: "Create the user as a guest (see POST /auth/guest). On an existing user that is not a guest: `400 not_a_guest`",
    }),
  })
  .openapi("UpsertExternalUserRequest");
const ExternalUser = z
  .object({
    id: z.uuid(),
    externalId: z.string(),
    username: z.string(),
    displayName: z.string(),
    kind: AccountKind,
    bio: z.string().nullable(),
    status: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("ExternalUser");
const MintBody = z
  .strictObject({
    deviceId: z.string().trim().min(1).max(128).optional().openapi({ description: "The app's id for the device (default: one per key)" }),
    deviceName: z.string().trim().min(1).max(100).optional(),
  })
  .openapi("MintTokensRequest");
const NoticeBody = z
  .strictObject({
    text: z
      .string()
      .trim()
      .min(1)
      .max(1000)
      .refine((t) => !CONTROL_RE.test(t), "no control characters"),
  })
  .openapi("NoticeRequest");
const ChatIdParam = z.object({ chatId: z.uuid().openapi({ param: { name: "chatId", in: "path" } }) });
const SessionIdParams = ExternalIdParam.extend({ sessionId: z.uuid().openapi({ param: { name: "sessionId", in: "path" } }) });

app.openapi(
  createRoute({
    method: "put",
    path: "/users/{externalId}",
    operationId: "upsertExternalUser",
    tags,
    summary: "Create or update the user the app knows by its own id",
    description:
      "Scope `users:write`. Idempotent: the first call creates a passwordless account (username generated unless given; " +
      "201), later ones update the fields given (200); simultaneous first calls make one account. `409 username_taken`. " +
      '`kind: "guest"` creates a guest (no password; it becomes regular with a password or a verified address, and is ' +
      "erased after 30 days unseen); sent again for a user that is not or no longer a guest it answers `400 not_a_guest`.",
    security: apiKeySecurity("users:write"),
    middleware: [requireApiKey("users:write")] as const,
    request: { params: ExternalIdParam, body: jsonBody(UpsertBody) },
    responses: {
      201: json(z.object({ user: ExternalUser, created: z.literal(true) }), "Created"),
      200: json(z.object({ user: ExternalUser, created: z.literal(false) }), "Updated (or unchanged)"),
      ...errorResponses(400, 401, 403, 409, 413, 415, 503),
    },
  }),
  async (c) => {
    const { user, created, changed } = await upsertExternalUser(c.var.db, c.req.valid("param").externalId, c.req.valid("json"));
    if (created || changed) {
      const type = created ? "user.created" : "user.updated";
      await publishEvent(c.env, type, { userId: user.id, username: user.username, externalId: user.externalId, by: "api_key" });
    }
    return created
      ? c.json({ user: externalUserView(user), created: true as const }, 201)
      : c.json({ user: externalUserView(user), created: false as const }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/users/{externalId}",
    operationId: "getExternalUser",
    tags,
    summary: "The user the app knows by its own id",
    description: "Scope `users:write`. `404 not_found` when there is none.",
    security: apiKeySecurity("users:write"),
    middleware: [requireApiKey("users:write")] as const,
    request: { params: ExternalIdParam },
    responses: { 200: json(z.object({ user: ExternalUser })), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json({ user: externalUserView(await externalUser(c.var.db, c.req.valid("param").externalId)) }, 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/users/{externalId}/tokens",
    operationId: "mintTokens",
    tags,
    summary: "Sign the user in: a new session with its access and refresh tokens",
    description:
      "Scope `tokens:mint`. Bring your own auth: the app signed its user in, this backend trusts it. Each call is a new " +
      "session, listed and ended like any other (by the user, or `DELETE …/sessions/{sessionId}`), and a sign-in like " +
      "any other (a blocked device is refused, a new one recorded and alerted). Suspended, banned or deactivated accounts " +
      "are refused as a sign-in would be (403); moderators and admins `403 staff_account`; an erased account has no " +
      "externalId any more (404).",
    security: apiKeySecurity("tokens:mint"),
    middleware: [requireApiKey("tokens:mint")] as const,
    request: { params: ExternalIdParam, body: jsonBody(MintBody) },
    responses: {
      201: json(z.object({ tokens: Tokens, session: Session }), "Signed in"),
      ...errorResponses(400, 401, 403, 404, 413, 415, 503),
    },
  }),
  async (c) => {
    const user = await externalUser(c.var.db, c.req.valid("param").externalId);
    assertCanSignIn(user);
    assertNotStaff(user);
    const body = c.req.valid("json");
    // A sign-in like any other: blocked devices refused, the device recorded, a security event, a new-device alert.
    const device = { deviceId: body.deviceId ?? `api-key:${c.var.apiKey!.id}`, deviceName: body.deviceName };
    const { session, tokens } = await completeSignIn(c.var.db, c.env, user, device, requestInfo(c), "api_key");
    return c.json({ tokens, session: sessionView(session, session.id) }, 201);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/users/{externalId}/sessions/{sessionId}",
    operationId: "endExternalUserSession",
    tags,
    summary: "End one of the user's sessions",
    description: "Scope `tokens:mint`. Its tokens stop working and its sockets close at once. Another user's or an ended session: 404.",
    security: apiKeySecurity("tokens:mint"),
    middleware: [requireApiKey("tokens:mint")] as const,
    request: { params: SessionIdParams },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { externalId, sessionId } = c.req.valid("param");
    const user = await externalUser(c.var.db, externalId);
    await revokeOwnSession(c.var.db, c.env, user.id, sessionId);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/chats/{chatId}/notices",
    operationId: "postNotice",
    tags,
    summary: "Post a system notice into a chat",
    description:
      'Scope `messages:write`. A system message from no one (`system: {event: "app_notice", text}`), seen by every ' +
      "member, in order with the rest of the chat. Unknown or deleted chats: 404.",
    security: apiKeySecurity("messages:write"),
    middleware: [requireApiKey("messages:write")] as const,
    request: { params: ChatIdParam, body: jsonBody(NoticeBody) },
    responses: { 201: json(z.object({ message: Message }), "Posted"), ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
  }),
  async (c) => {
    const { chatId } = c.req.valid("param");
    const [chat] = await c.var.db.select({ id: chats.id }).from(chats).where(eq(chats.id, chatId));
    if (!chat) throw new AppError(404, "not_found", "No such chat");
    const message = await chatRoom(c.env, chatId).notice({ event: "app_notice", actorId: null, text: c.req.valid("json").text });
    return c.json({ message }, 201);
  },
);

export default app;
