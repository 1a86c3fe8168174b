import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { getSelf } from "../auth/service";
import { publishEvent } from "../lib/events";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, noContent, userSecurity } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import { requestInfo } from "../lib/request-info";
import { deactivateOwnAccount } from "./deactivation";
import { deleteAccount } from "./deletion";
import * as s from "./schemas";
import { changeUsername, clearStatus, getOwnProfile, getPublicProfile, setStatus, updatePrivacy, updateProfile } from "./service";
import { ownProfileView, privacyView } from "./views";
import { currentStatus } from "./visibility";

// Mounted last under /api/v1/users: the static paths of the search and social routers (and the
// /me… paths here, registered before /{id}) must never be shadowed by /{id}.
const tags = ["Users"];
const auth = requireAuth();
const app = newRouter();

const OwnProfileResponse = z.object({ user: s.OwnProfile });
const PublicProfileResponse = z.object({ user: s.PublicProfile });
const PrivacyResponse = z.object({ privacy: s.Privacy });
type PublicProfileBody = z.infer<typeof s.PublicProfile>;
const PUBLIC_PROFILE_TEXT =
  "Filtered by the owner's privacy settings and blocks. Unknown, deleted and banned accounts are `404 not_found`. " +
  "`metadata` is public data the app controls: shown to everyone who can see the profile.";

app.openapi(
  createRoute({
    method: "get",
    path: "/me",
    operationId: "getMyProfile",
    tags,
    summary: "My full profile",
    description:
      "Account fields plus profile, status (null once expired), referral code, counts, privacy, `metadata` and `profileCompletion`.",
    security: bearerSecurity,
    middleware: [auth] as const,
    responses: { 200: json(OwnProfileResponse), ...errorResponses(401, 503) },
  }),
  async (c) => c.json({ user: ownProfileView(await getOwnProfile(c.var.db, c.var.auth.userId)) }, 200),
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/me",
    operationId: "updateMyProfile",
    tags,
    summary: "Change my profile",
    description:
      "Only the fields sent change; `null` clears `bio`, `avatarMediaId`, `links` or `birthday`. `avatarMediaId` must be an " +
      "image I uploaded with `POST /media?purpose=avatar` (else `422 invalid_avatar`); anyone signed in can read it " +
      "through `GET /media/{avatarMediaId}`, which returns a signed URL. `metadata` is the app's own JSON object about me " +
      "(≤ 4 KiB serialized, keys 1–64 characters, nested at most 4 levels), replaced as a whole and returned exactly as " +
      "stored; it is **public**: everyone who can see my profile sees it, so apps must not keep secrets or private data in it.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.UpdateProfileBody) },
    responses: { 200: json(OwnProfileResponse, "The updated profile"), ...errorResponses(400, 401, 413, 415, 422, 503) },
  }),
  async (c) => {
    const user = await updateProfile(c.var.db, c.var.auth.userId, c.req.valid("json"));
    await publishEvent(c.env, "user.updated", { userId: user.id, fields: Object.keys(c.req.valid("json")) });
    return c.json({ user: ownProfileView(user) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/me",
    operationId: "deleteMyAccount",
    tags,
    summary: "Delete my account",
    description:
      "Needs the password (wrong: `403 invalid_password`, counted toward the login lockout); an account without one (made " +
      "by a one-time code) needs a session signed in within 10 minutes instead (`403 reauthentication_required`). With 2FA " +
      "on, `code` or `recoveryCode` too. Erases the profile, contacts, " +
      "follows, blocks, close friends, devices, sessions and codes; frees the username, email and phone; every session " +
      'ends. In chats the account shows as "Deleted account". Cannot be undone.',
    security: userSecurity,
    // Bots have no password: their owner deletes them (DELETE /bots/{id}).
    middleware: [requireAuth({ allowBots: false })] as const,
    request: { body: jsonBody(s.DeleteAccountBody) },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "password:user", c.var.auth.userId);
    await deleteAccount(c.var.db, c.env, c.var.auth, c.req.valid("json"));
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/me/deactivate",
    operationId: "deactivateMyAccount",
    tags,
    summary: "Deactivate my account (kept, reversible)",
    description:
      "Needs the password (or, without one, a session signed in within 10 minutes) and, with 2FA on, `code` or " +
      "`recoveryCode`, exactly as deleting the account does (wrong " +
      "password: `403 invalid_password`, counted toward the login lockout; `400 two_factor_required`, `400 invalid_code`). " +
      "Nothing is erased: every session ends at once (live sockets close), sign-in answers `403 account_deactivated`, " +
      "the account leaves user search and contact sync, and others see it as they see a suspended account. A sign-in " +
      "(`POST /auth/login`, or a one-time code at `POST /auth/otp/verify`) with `reactivate: true` switches it on again, " +
      "or an admin does. `409 account_not_active` if the account was suspended or banned meanwhile; `409 " +
      "cannot_reactivate` for an account with neither a password nor a verified email or phone (it could never sign " +
      "in again). Bots: `403 bot_not_allowed`.",
    security: userSecurity,
    middleware: [requireAuth({ allowBots: false })] as const,
    request: { body: jsonBody(s.DeactivateAccountBody) },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "password:user", c.var.auth.userId);
    await deactivateOwnAccount(c.var.db, c.env, c.var.auth, c.req.valid("json"), requestInfo(c));
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "put",
    path: "/me/username",
    operationId: "changeUsername",
    tags,
    summary: "Change my username",
    description:
      "Same rules as registration (3–32 of a–z, 0–9, _; lower-cased). The old name is free at once. At most 5 changes an " +
      "hour (`429 rate_limited` with `Retry-After`).",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.ChangeUsernameBody) },
    responses: { 200: json(OwnProfileResponse, "The updated profile"), ...errorResponses(400, 401, 409, 413, 415, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "username:user", c.var.auth.userId);
    const user = await changeUsername(c.var.db, c.var.auth.userId, c.req.valid("json").username);
    await publishEvent(c.env, "user.updated", { userId: user.id, fields: ["username"] });
    return c.json({ user: ownProfileView(user) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/me/privacy",
    operationId: "getPrivacySettings",
    tags,
    summary: "My privacy settings",
    security: bearerSecurity,
    middleware: [auth] as const,
    responses: { 200: json(PrivacyResponse), ...errorResponses(401, 503) },
  }),
  async (c) => c.json({ privacy: privacyView(await getSelf(c.var.db, c.var.auth.userId)) }, 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/me/privacy",
    operationId: "updatePrivacySettings",
    tags,
    summary: "Change my privacy settings",
    description:
      "Partial: send any of the settings; the rest keep their values. Answers all settings. `everyone`, `contacts` (people I " +
      "added to my contacts) or `nobody` decide who sees my last seen and online state, profile photo, phone and email, " +
      "and who may add me to groups; `readReceipts` off stops sending read receipts.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.UpdatePrivacyBody) },
    responses: { 200: json(PrivacyResponse, "All settings after the change"), ...errorResponses(400, 401, 413, 415, 503) },
  }),
  async (c) => c.json({ privacy: privacyView(await updatePrivacy(c.var.db, c.env, c.var.auth.userId, c.req.valid("json"))) }, 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/me/status",
    operationId: "setStatus",
    tags,
    summary: "Set my status",
    description: "Replaces the status. `text` ≤ 140 characters, `emoji` one emoji, `expiresAt` a future time (then it disappears).",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.SetStatusBody) },
    responses: { 200: json(z.object({ status: s.Status }), "The status as set"), ...errorResponses(400, 401, 413, 415, 503) },
  }),
  async (c) => {
    const row = await setStatus(c.var.db, c.var.auth.userId, c.req.valid("json"));
    return c.json({ status: currentStatus(row)! }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/me/status",
    operationId: "clearStatus",
    tags,
    summary: "Clear my status",
    security: bearerSecurity,
    middleware: [auth] as const,
    responses: { ...noContent, ...errorResponses(401, 503) },
  }),
  async (c) => {
    await clearStatus(c.var.db, c.var.auth.userId);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/by-username/{username}",
    operationId: "getUserByUsername",
    tags,
    summary: "A user's public profile by username",
    description: PUBLIC_PROFILE_TEXT,
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.UsernameParam },
    responses: { 200: json(PublicProfileResponse), ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    const user = await getPublicProfile(c.var.db, c.var.auth.userId, { username: c.req.valid("param").username });
    return c.json({ user: user as PublicProfileBody }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getUser",
    tags,
    summary: "A user's public profile",
    description: PUBLIC_PROFILE_TEXT,
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.UserIdParam },
    responses: { 200: json(PublicProfileResponse), ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    const user = await getPublicProfile(c.var.db, c.var.auth.userId, { id: c.req.valid("param").id });
    return c.json({ user: user as PublicProfileBody }, 200);
  },
);

export default app;
