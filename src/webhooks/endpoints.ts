import { z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import type { Database } from "../db/client";
import { type WebhookEndpointRow, webhookDeliveries, webhookEndpoints } from "../db/schema";
import { AppError } from "../lib/errors";
import { webhooksChanged } from "../lib/events";
import { newId } from "../lib/ids";
import { newestFirst } from "../lib/pagination";
import { DAY, iso, now } from "../lib/time";
import { newWebhookSecret } from "../lib/webhook-signing";

/** Webhook endpoints in D1: create, list, change, remove, and their delivery log. */

/** Event types an endpoint may ask for (a `prefix.*` pattern or `*` takes a family or all). */
export const EVENT_TYPES = [
  "user.created",
  "user.updated",
  "user.deleted",
  "session.created",
  "session.ended",
  "message.new",
  "message.updated",
  "message.deleted",
  "message.pinned",
  "message.unpinned",
  "reaction.added",
  "reaction.removed",
  "chat.created",
  "chat.updated",
  "chat.deleted",
  "chat.truncated",
  "member.joined",
  "member.updated",
  "member.left",
  "member.removed",
  "report.created",
  "moderation.suspend",
  "moderation.ban",
  "moderation.restore",
  "moderation.remove_content",
  "moderation.deactivate",
  "moderation.reactivate",
  "moderation.report_resolved",
  "webhook.test",
] as const;

const FAMILIES = [...new Set(EVENT_TYPES.map((t) => `${t.split(".")[0]}.*`))];
export const EventPattern = z.enum(["*", ...FAMILIES, ...EVENT_TYPES] as [string, ...string[]]);

/** Whether an endpoint asking for `patterns` takes events of `type`. */
export function matches(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === "*" || p === type || (p.endsWith(".*") && type.startsWith(p.slice(0, -1))));
}

export const endpointView = (r: WebhookEndpointRow) => ({
  id: r.id,
  url: r.url,
  description: r.description,
  events: JSON.parse(r.events) as string[],
  enabled: r.enabled,
  disabledReason: r.disabledReason,
  consecutiveFailures: r.consecutiveFailures,
  createdAt: iso(r.createdAt)!,
  updatedAt: iso(r.updatedAt)!,
});

/** Create an endpoint; answers it and its secret (shown this once; rotate to get a new one). */
export async function createEndpoint(db: Database, input: { url: string; events: string[]; description?: string }) {
  const at = now();
  const row: WebhookEndpointRow = {
    id: newId(),
    url: input.url,
    description: input.description ?? null,
    events: JSON.stringify([...new Set(input.events)]),
    secret: newWebhookSecret(),
    enabled: true,
    disabledReason: null,
    consecutiveFailures: 0,
    createdAt: at,
    updatedAt: at,
  };
  await db.insert(webhookEndpoints).values(row);
  webhooksChanged();
  return { endpoint: endpointView(row), secret: row.secret };
}

/** An endpoint, or `404 not_found`. */
export async function getEndpoint(db: Database, id: string): Promise<WebhookEndpointRow> {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  if (!row) throw new AppError(404, "not_found", "No such webhook endpoint");
  return row;
}

export async function listEndpoints(db: Database) {
  return (await db.select().from(webhookEndpoints).orderBy(desc(webhookEndpoints.id))).map(endpointView);
}

/** Change an endpoint; enabling it again clears its failure count. A new secret with `rotateSecret`. */
export async function updateEndpoint(
  db: Database,
  id: string,
  patch: { url?: string; events?: string[]; description?: string | null; enabled?: boolean; rotateSecret?: boolean },
) {
  const current = await getEndpoint(db, id);
  const set: Partial<WebhookEndpointRow> = { updatedAt: now() };
  if (patch.url !== undefined) set.url = patch.url;
  if (patch.events !== undefined) set.events = JSON.stringify([...new Set(patch.events)]);
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.enabled !== undefined) {
    set.enabled = patch.enabled;
    if (patch.enabled && !current.enabled) Object.assign(set, { disabledReason: null, consecutiveFailures: 0 });
    if (!patch.enabled) set.disabledReason = "disabled by hand";
  }
  if (patch.rotateSecret) set.secret = newWebhookSecret();
  const [row] = await db.update(webhookEndpoints).set(set).where(eq(webhookEndpoints.id, id)).returning();
  webhooksChanged();
  return { endpoint: endpointView(row!), ...(patch.rotateSecret ? { secret: row!.secret } : {}) };
}

export async function deleteEndpoint(db: Database, id: string): Promise<void> {
  const removed = await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id });
  if (removed.length === 0) throw new AppError(404, "not_found", "No such webhook endpoint");
  webhooksChanged();
}

/** Delivery attempts are kept this long. */
export const DELIVERY_RETENTION_MS = 7 * DAY;

/** Drop delivery attempts older than the retention (hourly cron; on the created_at index). */
export async function pruneDeliveries(db: Database, at: number): Promise<{ deliveries: number }> {
  const gone = await db
    .delete(webhookDeliveries)
    .where(lt(webhookDeliveries.createdAt, at - DELIVERY_RETENTION_MS))
    .returning({ id: webhookDeliveries.id });
  return { deliveries: gone.length };
}

/** An endpoint's delivery attempts, newest first. */
export async function listDeliveries(db: Database, endpointId: string, limit: number, cursor?: string) {
  await getEndpoint(db, endpointId);
  return newestFirst(
    cursor,
    limit,
    (beforeId, take) =>
      db
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.endpointId, endpointId), beforeId ? lt(webhookDeliveries.id, beforeId) : undefined))
        .orderBy(desc(webhookDeliveries.id))
        .limit(take),
    (r) => ({
      id: r.id,
      eventId: r.eventId,
      eventType: r.eventType,
      attempt: r.attempt,
      outcome: r.outcome,
      responseStatus: r.responseStatus,
      error: r.error,
      durationMs: r.durationMs,
      createdAt: iso(r.createdAt)!,
    }),
  );
}
