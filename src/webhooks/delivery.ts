import { eq, sql } from "drizzle-orm";
import { createDb } from "../db/client";
import { type WebhookEndpointRow, webhookDeliveries, webhookEndpoints } from "../db/schema";
import type { Bindings } from "../env";
import { backoffSeconds } from "../lib/backoff";
import type { DomainEvent } from "../lib/events";
import { newId } from "../lib/ids";
import { sendInBatches } from "../lib/queue-batches";
import { now } from "../lib/time";
import { signedHeaders } from "../lib/webhook-signing";
import { botDeliveries } from "./bot-endpoints";
import { matches } from "./endpoints";

/**
 * The webhook queues' consumers. EVENTS_QUEUE: each domain event becomes one delivery job per
 * enabled endpoint that asks for its type (on WEBHOOK_QUEUE). WEBHOOK_QUEUE: a job is POSTed as
 * JSON, signed (signing.ts), 10 s at most, no redirects followed; a 2xx delivers it, anything else
 * is retried with exponential backoff (5, 10, 20, 40, 80 s), then its dead letter is recorded.
 * Every attempt is logged per endpoint; an endpoint that failed DISABLE_AFTER_FAILURES attempts in
 * a row is disabled until someone enables it again (PATCH …/webhooks/{id} {enabled: true}).
 */

export const EVENTS_QUEUE_NAME = "edge-messenger-events";
export const WEBHOOK_QUEUE_NAME = "edge-messenger-webhooks";
export const WEBHOOK_DLQ_NAME = "edge-messenger-webhooks-dlq";
/** Failed attempts in a row after which an endpoint is disabled (five events' worth of retries). */
export const DISABLE_AFTER_FAILURES = 30;
const SEND_TIMEOUT_MS = 10_000;

/** One event for one endpoint. */
export interface DeliveryJob {
  endpointId: string;
  event: DomainEvent;
}

/** EVENTS_QUEUE: fan each event out to the app's endpoints that take it and to bots' (bot-endpoints.ts). A failure retries the batch. */
export async function fanOut(batch: MessageBatch<DomainEvent>, env: Bindings): Promise<void> {
  const db = createDb(env.DB);
  const endpoints = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true));
  const events = batch.messages.map((m) => m.body);
  const jobs: DeliveryJob[] = [];
  for (const event of events) {
    for (const e of endpoints) {
      if (e.botId === null && matches(JSON.parse(e.events) as string[], event.type)) jobs.push({ endpointId: e.id, event });
    }
  }
  jobs.push(...(await botDeliveries(db, endpoints, events)));
  await sendInBatches(env.WEBHOOK_QUEUE, jobs);
  batch.ackAll();
}

/** WEBHOOK_QUEUE: deliver each job; each settles on its own. */
export async function deliverBatch(batch: MessageBatch<DeliveryJob>, env: Bindings): Promise<void> {
  await Promise.allSettled(
    batch.messages.map(async (m) => {
      // An attempt that could not even be made or logged (D1 down) is retried like a failed one.
      const delivered = await deliver(env, m.body, m.attempts).catch((err) => {
        console.error(JSON.stringify({ level: "error", msg: "webhook attempt failed", endpointId: m.body.endpointId, error: String(err) }));
        return false;
      });
      if (delivered) m.ack();
      else m.retry({ delaySeconds: backoffSeconds(m.attempts) });
    }),
  );
}

/** The dead-letter queue: record that these jobs were given up on. */
export async function recordDeadLetters(batch: MessageBatch<DeliveryJob>, env: Bindings): Promise<void> {
  const db = createDb(env.DB);
  for (const m of batch.messages) {
    await log(db, m.body, m.attempts, "dead", null, "retries exhausted", null).catch(() => undefined);
    m.ack();
  }
}

/** One attempt; answers whether the job is done (delivered, or nothing left to deliver to). */
export async function deliver(env: Bindings, job: DeliveryJob, attempt: number): Promise<boolean> {
  const db = createDb(env.DB);
  const [endpoint] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, job.endpointId));
  if (!endpoint) return true; // removed meanwhile
  if (!endpoint.enabled) {
    await log(db, job, attempt, "skipped", null, endpoint.disabledReason, null);
    return true;
  }
  const body = JSON.stringify(job.event);
  const started = Date.now();
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetch(endpoint.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "edge-messenger-webhooks",
        ...(await signedHeaders(endpoint.secret, job.event.id, body)),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    status = res.status;
    await res.body?.cancel();
  } catch (err) {
    error = String(err);
  }
  const ok = status !== null && status >= 200 && status < 300;
  const duration = Date.now() - started;
  await log(db, job, attempt, ok ? "delivered" : "failed", status, error ?? (ok ? null : `HTTP ${status}`), duration);
  await (ok ? succeeded(db, endpoint) : failed(db, endpoint));
  return ok;
}

type Db = ReturnType<typeof createDb>;

function log(
  db: Db,
  job: DeliveryJob,
  attempt: number,
  outcome: "delivered" | "failed" | "dead" | "skipped",
  status: number | null,
  error: string | null,
  durationMs: number | null,
) {
  return db.insert(webhookDeliveries).values({
    id: newId(),
    endpointId: job.endpointId,
    eventId: job.event.id,
    eventType: job.event.type,
    attempt,
    outcome,
    responseStatus: status,
    error: error?.slice(0, 500) ?? null,
    durationMs,
    createdAt: now(),
  });
}

async function succeeded(db: Db, endpoint: WebhookEndpointRow) {
  if (endpoint.consecutiveFailures > 0)
    await db.update(webhookEndpoints).set({ consecutiveFailures: 0 }).where(eq(webhookEndpoints.id, endpoint.id));
}

/** Count the failure; at the limit the endpoint is disabled in the same statement. */
async function failed(db: Db, endpoint: WebhookEndpointRow) {
  const next = sql`${webhookEndpoints.consecutiveFailures} + 1`;
  await db
    .update(webhookEndpoints)
    .set({
      consecutiveFailures: next,
      enabled: sql`CASE WHEN ${next} >= ${DISABLE_AFTER_FAILURES} THEN 0 ELSE ${webhookEndpoints.enabled} END`,
      disabledReason: sql`CASE WHEN ${next} >= ${DISABLE_AFTER_FAILURES} THEN 'failing: ${sql.raw(String(DISABLE_AFTER_FAILURES))} attempts in a row' ELSE ${webhookEndpoints.disabledReason} END`,
    })
    .where(eq(webhookEndpoints.id, endpoint.id));
}
