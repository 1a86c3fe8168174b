import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { API_KEY_SCOPES } from "../db/schema";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { PageQuery } from "../lib/pagination";
import { ApiKeySchema, createApiKey, listApiKeys, listApiKeyUses, revokeApiKey } from "./api-keys";
import { requireRole } from "./middleware";

/** /api/v1/admin/api-keys: the app backend's keys, for admins only (anyone else: 404). */
const tags = ["Admin"];
const admin = [requireAuth(), requireRole("admin")];
const app = newRouter();

const KeyIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
const CreateBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    scopes: z.array(z.enum(API_KEY_SCOPES)).min(1).max(API_KEY_SCOPES.length),
    expiresAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "Optional end of validity" }),
  })
  .openapi("CreateApiKeyRequest");
const ApiKeyUse = z
  .object({
    id: z.string(),
    actingUserId: z.string().nullable(),
    method: z.string(),
    path: z.string(),
    status: z.number().int(),
    ip: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("ApiKeyUse");

app.openapi(
  createRoute({
    method: "post",
    path: "/api-keys",
    operationId: "adminCreateApiKey",
    tags,
    summary: "Create an API key for the app's backend",
    description:
      "Role `admin`. Answers the key itself once (`key`, `emk_…`): store it, it cannot be shown again (only its hash is kept). " +
      "Scopes: `users:write` (upsert users by externalId), `tokens:mint` (access tokens for them), `messages:write` and " +
      "`chats:write` (the message and chat routes, acting as a user with `X-On-Behalf-Of`), `webhooks:manage`. Audited.",
    security: bearerSecurity,
    middleware: admin,
    request: { body: jsonBody(CreateBody) },
    responses: {
      201: json(z.object({ apiKey: ApiKeySchema, key: z.string() }), "Created: the key is shown this once"),
      ...errorResponses(400, 401, 404, 413, 415, 503),
    },
  }),
  async (c) => c.json(await createApiKey(c.var.db, c.var.staff.userId, c.req.valid("json")), 201),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/api-keys",
    operationId: "adminListApiKeys",
    tags,
    summary: "Every API key, revoked ones too (never the keys themselves)",
    description: "Role `admin`.",
    security: bearerSecurity,
    middleware: admin,
    responses: { 200: json(z.object({ apiKeys: z.array(ApiKeySchema) })), ...errorResponses(401, 404, 503) },
  }),
  async (c) => c.json({ apiKeys: await listApiKeys(c.var.db) }, 200),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/api-keys/{id}",
    operationId: "adminRevokeApiKey",
    tags,
    summary: "Revoke an API key",
    description: "Role `admin`. Takes effect on the next request made with it (`401 invalid_api_key`). Audited. Unknown or revoked: 404.",
    security: bearerSecurity,
    middleware: admin,
    request: { params: KeyIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    await revokeApiKey(c.var.db, c.var.staff.userId, c.req.valid("param").id);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/api-keys/{id}/uses",
    operationId: "adminListApiKeyUses",
    tags,
    summary: "Every request made with an API key, newest first",
    description: "Role `admin`. Method, path, the user it acted as, the answer's status, the client address.",
    security: bearerSecurity,
    middleware: admin,
    request: { params: KeyIdParam, query: PageQuery },
    responses: {
      200: json(z.object({ items: z.array(ApiKeyUse), nextCursor: z.string().nullable() })),
      ...errorResponses(400, 401, 404, 503),
    },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listApiKeyUses(c.var.db, c.req.valid("param").id, limit, cursor), 200);
  },
);

export default app;
