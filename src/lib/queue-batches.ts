/** Cloudflare Queues' limits for one sendBatch: 100 messages and 256 KB in all. */
const MAX_MESSAGES = 100;
const MAX_BYTES = 200_000; // under 256 KB, with room for per-message overhead

/** Send `bodies` (JSON) in as many batches as the limits need, in order. */
export async function sendInBatches(queue: Queue, bodies: readonly unknown[]): Promise<void> {
  let batch: MessageSendRequest[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = JSON.stringify(body).length;
    if (batch.length > 0 && (batch.length === MAX_MESSAGES || bytes + size > MAX_BYTES)) {
      await queue.sendBatch(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ body, contentType: "json" });
    bytes += size;
  }
  if (batch.length > 0) await queue.sendBatch(batch);
}
