import { z } from "@hono/zod-openapi";
import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { type AuditActor, auditStatement } from "../admin/audit";
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

/** An endpoint that is the app's own (not a bot's). */
const appEndpoint = (id: string) => and(eq(webhookEndpoints.id, id), isNull(webhookEndpoints.botId));

/** The fields an endpoint is made with. */
export interface EndpointInput {
  url: string;
  events: string[];
  description?: string;
}

/** A new endpoint's row (the app's, or the bot's with `botId`). */
export function newEndpointRow(input: EndpointInput, botId: string | null): WebhookEndpointRow {
  const at = now();
  return {
    id: newId(),
    url: input.url,
    description: input.description ?? null,
    events: JSON.stringify([...new Set(input.events)]),
    secret: newWebhookSecret(),
    botId,
    enabled: true,
    disabledReason: null,
    consecutiveFailures: 0,
    createdAt: at,
    updatedAt: at,
  };
}

/** Create an app endpoint, audited (`create_webhook`) in the same transaction; answers it and its secret (shown this once). */
export async function createEndpoint(db: Database, actor: AuditActor, input: EndpointInput) {
  const row = newEndpointRow(input, null);
  const details = { url: row.url, events: JSON.parse(row.events) };
  await db.batch([
    db.insert(webhookEndpoints).values(row),
    auditStatement(db, { ...actor, action: "create_webhook", targetType: "webhook", targetId: row.id, details }),
  ]);
  webhooksChanged();
  return { endpoint: endpointView(row), secret: row.secret };
}

/** An app endpoint, or `404 not_found` (bots' endpoints are their owners' business). */
export async function getEndpoint(db: Database, id: string): Promise<WebhookEndpointRow> {
  const [row] = await db.select().from(webhookEndpoints).where(appEndpoint(id));
  if (!row) throw new AppError(404, "not_found", "No such webhook endpoint");
  return row;
}

/** The app's endpoints, newest first. */
export async function listEndpoints(db: Database) {
  return (await db.select().from(webhookEndpoints).where(isNull(webhookEndpoints.botId)).orderBy(desc(webhookEndpoints.id))).map(
    endpointView,
  );
}

/** What may change on an endpoint. */
export interface EndpointPatch {
  url?: string;
  events?: string[];
  description?: string | null;
  enabled?: boolean;
  rotateSecret?: boolean;
}

/** The columns a patch of `current` sets; enabling it again clears its failure count, `rotateSecret` makes a new secret. */
export function endpointChanges(current: WebhookEndpointRow, patch: EndpointPatch): Partial<WebhookEndpointRow> {
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
  return set;
}

/**
 * Change an app endpoint, audited (`update_webhook`: the fields changed, never the secret) in the
 * same transaction. A new secret with `rotateSecret`, answered this once.
 */
export async function updateEndpoint(db: Database, actor: AuditActor, id: string, patch: EndpointPatch) {
  const current = await getEndpoint(db, id);
  const set = endpointChanges(current, patch);
  const { rotateSecret, ...fields } = patch;
  const details = { ...fields, ...(rotateSecret ? { secretRotated: true } : {}) };
  const [[row]] = await db.batch([
    db.update(webhookEndpoints).set(set).where(appEndpoint(id)).returning(),
    auditStatement(
      db,
      { ...actor, action: "update_webhook", targetType: "webhook", targetId: id, details },
      {
        from: webhookEndpoints,
        where: appEndpoint(id),
      },
    ),
  ]);
  if (!row) throw new AppError(404, "not_found", "No such webhook endpoint");
  webhooksChanged();
  return { endpoint: endpointView(row), ...(rotateSecret ? { secret: row.secret } : {}) };
}

/** Remove an app endpoint (its delivery log goes with it), audited (`delete_webhook`) in the same transaction. */
export async function deleteEndpoint(db: Database, actor: AuditActor, id: string): Promise<void> {
  const [, removed] = await db.batch([
    auditStatement(
      db,
      { ...actor, action: "delete_webhook", targetType: "webhook", targetId: id },
      {
        from: webhookEndpoints,
        where: appEndpoint(id),
      },
    ),
    db.delete(webhookEndpoints).where(appEndpoint(id)).returning({ id: webhookEndpoints.id }),
  ]);
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

/** An endpoint's delivery attempts, newest first (the caller checked it may see them). */
export async function listDeliveries(db: Database, endpointId: string, limit: number, cursor?: string) {
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
