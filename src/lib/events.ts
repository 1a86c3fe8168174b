import { eq } from "drizzle-orm";
import { createDb } from "../db/client";
import { webhookEndpoints } from "../db/schema";
import type { Bindings } from "../env";
import { newId } from "./ids";
import { sendInBatches } from "./queue-batches";

/**
 * Domain events: what happened, for the app's backend (webhooks, src/webhooks/). Producers (the
 * Worker's services and the rooms) publish after their change committed; events go to
 * EVENTS_QUEUE, whose consumer fans them out to the matching endpoints. Nothing is queued while no
 * endpoint is enabled (checked in D1 at most every 30 s per isolate), so a deployment without
 * webhooks pays nothing. Publishing never fails the caller: a lost event is logged.
 */

/** An event as endpoints receive it. */
export interface DomainEvent {
  /** UUIDv7; the `webhook-id` of every delivery of it, so receivers can drop repeats. */
  id: string;
  type: string;
  createdAt: string;
  data: Record<string, unknown>;
}

export type EventsEnv = Pick<Bindings, "EVENTS_QUEUE" | "DB">;

/** How long an isolate trusts its answer to "is any endpoint enabled?". */
const ACTIVE_CACHE_MS = 30_000;
let active: { value: boolean; until: number } | null = null;

/** Forget the cached answer (an endpoint was created, enabled or removed here). */
export function webhooksChanged(): void {
  active = null;
}

async function anyEndpointEnabled(env: EventsEnv): Promise<boolean> {
  const at = Date.now();
  if (active && active.until > at) return active.value;
  const rows = await createDb(env.DB)
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.enabled, true))
    .limit(1);
  active = { value: rows.length > 0, until: at + ACTIVE_CACHE_MS };
  return active.value;
}

/** Publish events (type and data; id and time are added). Never throws. */
export async function publishEvents(env: EventsEnv, events: readonly { type: string; data: Record<string, unknown> }[]): Promise<void> {
  if (events.length === 0) return;
  try {
    if (!(await anyEndpointEnabled(env))) return;
    const createdAt = new Date().toISOString();
    // Within the queue's batch limits: a write with a hundred members' events loses none.
    await sendInBatches(
      env.EVENTS_QUEUE,
      events.map((e) => ({ id: newId(), createdAt, ...e }) satisfies DomainEvent),
    );
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "event publish failed", types: events.map((e) => e.type), error: String(err) }));
  }
}

/** Publish one event. Never throws. */
export const publishEvent = (env: EventsEnv, type: string, data: Record<string, unknown>) => publishEvents(env, [{ type, data }]);
