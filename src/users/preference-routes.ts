import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter } from "../lib/openapi";
import { Preferences, PreferencesPatch } from "./preference-schemas";
import { getPreferences, updatePreferences } from "./preferences";

/** GET/PATCH /users/me/preferences: my preferences, one versioned document shared by my devices. */
const tags = ["Users"];
const auth = requireAuth();
const app = newRouter();

app.openapi(
  createRoute({
    method: "get",
    path: "/me/preferences",
    operationId: "getMyPreferences",
    tags,
    summary: "My preferences, the same on all my devices",
    description:
      "`{version, language, timeZone, theme, notifications, client, updatedAt}`. Before the first change: language and " +
      "timeZone null, theme `system`, every notification on, client `{}`, version 0, updatedAt null.",
    security: bearerSecurity,
    middleware: [auth] as const,
    responses: { 200: json(Preferences), ...errorResponses(401, 503) },
  }),
  async (c) => c.json(await getPreferences(c.var.db, c.env, c.var.auth.userId), 200),
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/me/preferences",
    operationId: "updateMyPreferences",
    tags,
    summary: "Change my preferences (versioned)",
    description:
      "Send `version` (the one you read) and the preferences to change. `notifications` is partial (the settings left out " +
      "keep their values); `client` replaces the client's settings as a whole; `language` and `timeZone` take null to " +
      "clear them. If the preferences changed since that version (another device), the answer is `409 version_conflict` " +
      "with `details.current`, the whole current document, and nothing changes: apply your change to it and send it " +
      "again. Success adds 1 to the version and answers the new document; my other devices hear `preferences.updated " +
      "{version}` on their realtime sockets, and push notifications follow `notifications` from then on.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(PreferencesPatch) },
    responses: { 200: json(Preferences, "The preferences after the change"), ...errorResponses(400, 401, 409, 413, 415, 503) },
  }),
  async (c) => c.json(await updatePreferences(c.var.db, c.env, c.var.auth.userId, c.req.valid("json")), 200),
);

export default app;
