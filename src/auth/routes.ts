import { createRoute, z } from "@hono/zod-openapi";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, noContent, publicSecurity, userSecurity } from "../lib/openapi";
import { enforceRateLimit, rateLimitByIp } from "../lib/rate-limit";
import { requestInfo } from "../lib/request-info";
import { deviceView, listDevices } from "./devices";
import { classifyIdentifier } from "./identifiers";
import { requireAuth } from "./middleware";
import * as s from "./schemas";
import { changePassword, getSelf, login, register, setFirstPassword } from "./service";
import { listSessions, refreshSession, revokeOwnSession, revokeSession, revokeUserSessions, sessionView } from "./sessions";
import { firstFactorView, signedInView } from "./sign-in";
import { selfView } from "./views";

const tags = ["Auth"];
// Sessions, passwords, 2FA, devices, keys and push targets belong to people: bot tokens get `403 bot_not_allowed`.
const auth = requireAuth({ allowBots: false });
const app = newRouter();

app.openapi(
  createRoute({
    method: "post",
    path: "/register",
    operationId: "register",
    tags,
    summary: "Create an account and sign in",
    security: publicSecurity,
    middleware: [rateLimitByIp("register:ip")] as const,
    request: { body: jsonBody(s.RegisterBody) },
    responses: {
      201: json(s.AuthResult, "Account created and signed in"),
      ...errorResponses(400, 409, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    const result = await register(c.var.db, c.env, c.req.valid("json"), requestInfo(c));
    return c.json(signedInView(result), 201);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/login",
    operationId: "login",
    tags,
    summary: "Sign in with username, email or phone and password",
    description:
      "Unknown accounts and wrong passwords answer the same `401 invalid_credentials`. After 5 failed attempts " +
      "on one account within 15 minutes, attempts answer `429 too_many_attempts` until the window passes. After the " +
      "right password: `403 account_suspended`, `account_banned`, or `account_deactivated` unless `reactivate: true`, " +
      "which reactivates the account and signs in (with 2FA on, once the second factor is right).",
    security: publicSecurity,
    middleware: [rateLimitByIp("login:ip")] as const,
    request: { body: jsonBody(s.LoginBody) },
    responses: {
      200: json(s.LoginResult, "Signed in, or (with 2FA on) `{mfaRequired: true, mfaToken}` for POST /auth/2fa/verify"),
      ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    await enforceRateLimit(c, "login:identifier", classifyIdentifier(body.identifier).value);
    const result = await login(c.var.db, c.env, body, requestInfo(c));
    return c.json(firstFactorView(result), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/refresh",
    operationId: "refreshTokens",
    tags,
    summary: "Exchange a refresh token for new tokens (rotates it)",
    description:
      "Each refresh token works once. Presenting one that was already rotated ends the whole session " +
      "(`401 refresh_token_reused`). A deactivated account's token answers `403 account_deactivated`.",
    security: publicSecurity,
    middleware: [rateLimitByIp("refresh:ip")] as const,
    request: { body: jsonBody(s.RefreshBody) },
    responses: { 200: json(z.object({ tokens: s.Tokens }), "New tokens"), ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
  }),
  async (c) => {
    const tokens = await refreshSession(c.var.db, c.env, c.req.valid("json").refreshToken, requestInfo(c));
    return c.json({ tokens }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/logout",
    operationId: "logout",
    tags,
    summary: "End the current session",
    security: userSecurity,
    middleware: [auth] as const,
    responses: { ...noContent, ...errorResponses(401, 403, 503) },
  }),
  async (c) => {
    await revokeSession(c.var.db, c.env, c.var.auth.userId, c.var.auth.sessionId, "logout");
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/me",
    operationId: "getCurrentUser",
    tags,
    summary: "The signed-in account",
    security: bearerSecurity,
    middleware: [requireAuth()] as const,
    responses: { 200: json(z.object({ user: s.User })), ...errorResponses(401, 403, 503) },
  }),
  async (c) => c.json({ user: selfView(await getSelf(c.var.db, c.var.auth.userId)) }, 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/sessions",
    operationId: "listSessions",
    tags,
    summary: "My live sessions, most recently used first",
    security: userSecurity,
    middleware: [auth] as const,
    responses: { 200: json(z.object({ items: z.array(s.Session) })), ...errorResponses(401, 403, 503) },
  }),
  async (c) => {
    const rows = await listSessions(c.var.db, c.var.auth.userId);
    return c.json({ items: rows.map((r) => sessionView(r, c.var.auth.sessionId)) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/sessions/{id}",
    operationId: "revokeSession",
    tags,
    summary: "End one of my sessions",
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: s.SessionIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    await revokeOwnSession(c.var.db, c.env, c.var.auth.userId, c.req.valid("param").id);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/sessions/revoke-all",
    operationId: "revokeOtherSessions",
    tags,
    summary: "End every session except the current one",
    security: userSecurity,
    middleware: [auth] as const,
    responses: { ...noContent, ...errorResponses(401, 403, 503) },
  }),
  async (c) => {
    const { userId, sessionId } = c.var.auth;
    await revokeUserSessions(c.var.db, c.env, userId, "ended_by_user", sessionId);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/set-password",
    operationId: "setPassword",
    tags,
    summary: "Give my passwordless account a password",
    description:
      "For accounts made by a one-time code (sign-up), an API key or as a guest, which have no password: after this, " +
      "password sign-in works too. Only from a session signed in within 10 minutes (`403 reauthentication_required`: sign in " +
      "again with a code; guests, who have nothing else, any time). `409 password_already_set` when there is one (use " +
      "change-password). Weak: `400 weak_password`.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.SetPasswordBody) },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "password:user", c.var.auth.userId);
    await setFirstPassword(c.var.db, c.env, c.var.auth, c.req.valid("json").newPassword, requestInfo(c));
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/change-password",
    operationId: "changePassword",
    tags,
    summary: "Change my password; every other session ends",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.ChangePasswordBody) },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "password:user", c.var.auth.userId);
    await changePassword(c.var.db, c.env, c.var.auth, c.req.valid("json"), requestInfo(c));
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/devices",
    operationId: "listDevices",
    tags,
    summary: "Devices that signed in to my account",
    security: userSecurity,
    middleware: [auth] as const,
    responses: { 200: json(z.object({ items: z.array(s.Device) })), ...errorResponses(401, 403, 503) },
  }),
  async (c) => c.json({ items: (await listDevices(c.var.db, c.var.auth.userId)).map(deviceView) }, 200),
);

export default app;
