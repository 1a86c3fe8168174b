import { z } from "@hono/zod-openapi";
import { EventPattern } from "./endpoints";

/** The shapes of webhook endpoints and their deliveries, as the app's (/webhooks) and bots' webhook routes show them. */

export const Url = z.url({ protocol: /^https?$/ }).max(2048);
export const Events = z.array(EventPattern).min(1).max(50);
export const Endpoint = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z.string().nullable(),
    consecutiveFailures: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("WebhookEndpoint");
export const Secret = z
  .string()
  .openapi({ description: "`whsec_…`: verify signatures with it (Standard Webhooks). Shown on create and rotate only." });
export const CreateBody = z
  .strictObject({ url: Url, events: Events, description: z.string().trim().max(200).optional() })
  .openapi("CreateWebhookRequest");
export const PatchBody = z
  .strictObject({
    url: Url.optional(),
    events: Events.optional(),
    description: z.string().trim().max(200).nullable().optional(),
    enabled: z.boolean().optional(),
    rotateSecret: z.literal(true).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, "give at least one field")
  .openapi("UpdateWebhookRequest");
export const IdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
export const Delivery = z
  .object({
    id: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    attempt: z.number().int(),
    outcome: z.enum(["delivered", "failed", "dead", "skipped"]),
    responseStatus: z.number().int().nullable(),
    error: z.string().nullable(),
    durationMs: z.number().int().nullable(),
    createdAt: z.string(),
  })
  .openapi("WebhookDelivery");
export const DeliveryPage = z.object({ items: z.array(Delivery), nextCursor: z.string().nullable() }).openapi("WebhookDeliveryPage");
