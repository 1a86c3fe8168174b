import type { Bindings } from "../env";
import type { PushJob } from "../hubs/notifications";
import type { DomainEvent } from "../lib/events";
import { handlePushBatch, PUSH_DLQ, PUSH_QUEUE_NAME } from "../push/consumer";
import {
  type DeliveryJob,
  deliverBatch,
  EVENTS_QUEUE_NAME,
  fanOut,
  recordDeadLetters,
  WEBHOOK_DLQ_NAME,
  WEBHOOK_QUEUE_NAME,
} from "../webhooks/delivery";

/** Each queue's consumer (wrangler.toml): push notifications, domain events, webhook deliveries. */
export async function consumeBatch(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  if (batch.queue === EVENTS_QUEUE_NAME) return fanOut(batch as MessageBatch<DomainEvent>, env);
  if (batch.queue === WEBHOOK_QUEUE_NAME) return deliverBatch(batch as MessageBatch<DeliveryJob>, env);
  if (batch.queue === WEBHOOK_DLQ_NAME) return recordDeadLetters(batch as MessageBatch<DeliveryJob>, env);
  if (batch.queue === PUSH_QUEUE_NAME || batch.queue === PUSH_DLQ) return handlePushBatch(batch as MessageBatch<PushJob>, env);
  // A queue this Worker was not written for (a renamed one in wrangler.toml): retried, never misread.
  console.error(JSON.stringify({ level: "error", msg: "message from an unknown queue", queue: batch.queue }));
  batch.retryAll();
}
