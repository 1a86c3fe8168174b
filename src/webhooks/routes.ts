import { createRoute, z } from "@hono/zod-openapi";
import { auditActorOf, requireAdminOrApiKey } from "../admin/middleware";
import type { DomainEvent } from "../lib/events";
import { newId } from "../lib/ids";
import { adminOrApiKeySecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { assertOutboundUrl } from "../lib/outbound";
import { PageQuery } from "../lib/pagination";
import { createEndpoint, deleteEndpoint, endpointView, getEndpoint, listDeliveries, listEndpoints, updateEndpoint } from "./endpoints";
import { CreateBody, DeliveryPage, Endpoint, IdParam, PatchBody, Secret } from "./schemas";

/**
 * /api/v1/webhooks: where the app's backend receives domain events, managed by admins (bearer
 * token) or the backend itself (an API key with `webhooks:manage`). Others: 404, as for admin routes.
 */
const tags = ["Webhooks"];
const security = adminOrApiKeySecurity("webhooks:manage");
const app = newRouter();

/** An API key with webhooks:manage, else an admin's bearer token (anyone else: 404). */
const manage = requireAdminOrApiKey("webhooks:manage");

const errors = (...s: Parameters<typeof errorResponses>) => errorResponses(401, 403, 404, 503, ...s);

app.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createWebhook",
    tags,
    summary: "Receive events at a URL",
    description:
      "`events`: types (`message.new`), families (`message.*`) or `*`. The answer holds the signing `secret` once. " +
      "`422 invalid_url` unless https to a host name (development also takes http on 127.0.0.1/localhost).",
    security,
    middleware: [manage] as const,
    request: { body: jsonBody(CreateBody) },
    responses: { 201: json(z.object({ endpoint: Endpoint, secret: Secret }), "Created"), ...errors(400, 413, 415, 422) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    assertOutboundUrl(c.env, body.url, "invalid_url", "url");
    return c.json(await createEndpoint(c.var.db, auditActorOf(c), body), 201);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listWebhooks",
    tags,
    summary: "Every webhook endpoint",
    security,
    middleware: [manage] as const,
    responses: { 200: json(z.object({ endpoints: z.array(Endpoint) })), ...errors() },
  }),
  async (c) => c.json({ endpoints: await listEndpoints(c.var.db) }, 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getWebhook",
    tags,
    summary: "One webhook endpoint",
    security,
    middleware: [manage] as const,
    request: { params: IdParam },
    responses: { 200: json(z.object({ endpoint: Endpoint })), ...errors(400) },
  }),
  async (c) => c.json({ endpoint: endpointView(await getEndpoint(c.var.db, c.req.valid("param").id)) }, 200),
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    operationId: "updateWebhook",
    tags,
    summary: "Change, enable, disable or rotate the secret of an endpoint",
    description:
      "Enabling an endpoint that was disabled for failing clears its failure count. `rotateSecret: true` answers the new secret.",
    security,
    middleware: [manage] as const,
    request: { params: IdParam, body: jsonBody(PatchBody) },
    responses: { 200: json(z.object({ endpoint: Endpoint, secret: Secret.optional() })), ...errors(400, 413, 415, 422) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    if (body.url) assertOutboundUrl(c.env, body.url, "invalid_url", "url");
    return c.json(await updateEndpoint(c.var.db, auditActorOf(c), c.req.valid("param").id, body), 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    operationId: "deleteWebhook",
    tags,
    summary: "Stop sending events to an endpoint",
    description: "Its delivery log goes with it.",
    security,
    middleware: [manage] as const,
    request: { params: IdParam },
    responses: { ...noContent, ...errors(400) },
  }),
  async (c) => {
    await deleteEndpoint(c.var.db, auditActorOf(c), c.req.valid("param").id);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{id}/deliveries",
    operationId: "listWebhookDeliveries",
    tags,
    summary: "An endpoint's delivery attempts, newest first",
    description: "Kept 7 days. `outcome`: delivered, failed (retried later), dead (retries exhausted), skipped (endpoint disabled).",
    security,
    middleware: [manage] as const,
    request: { params: IdParam, query: PageQuery },
    responses: { 200: json(DeliveryPage), ...errors(400) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const endpoint = await getEndpoint(c.var.db, c.req.valid("param").id);
    return c.json(await listDeliveries(c.var.db, endpoint.id, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{id}/test",
    operationId: "testWebhook",
    tags,
    summary: "Send the endpoint a `webhook.test` event",
    description: "Queued like any delivery (signed, retried, logged); answers its event id.",
    security,
    middleware: [manage] as const,
    request: { params: IdParam },
    responses: { 202: json(z.object({ eventId: z.string() }), "Queued"), ...errors(400) },
  }),
  async (c) => {
    const endpoint = await getEndpoint(c.var.db, c.req.valid("param").id);
    const event: DomainEvent = {
      id: newId(),
      type: "webhook.test",
      createdAt: new Date().toISOString(),
      data: { endpointId: endpoint.id },
    };
    await c.env.WEBHOOK_QUEUE.send({ endpointId: endpoint.id, event }, { contentType: "json" });
    return c.json({ eventId: event.id }, 202);
  },
);

export default app;
