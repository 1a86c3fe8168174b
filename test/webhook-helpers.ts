import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import worker from "../src/index";
import { roomFor } from "../src/rooms/client";
import { signUp, type TestUser } from "./helpers";

/** Driving the webhook queues by hand in tests: capture what producers send, hand it to the consumers, stand in for receivers. */

/** A new account made admin. */
export async function admin(): Promise<TestUser> {
  const u = await signUp();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(u.id).run();
  return u;
}

/** Call a queue consumer as the runtime would. */
export async function runQueue<T>(queue: string, bodies: T[], attempts = 1) {
  const batch = createMessageBatch<T>(
    queue,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body })),
  );
  const retried = batch.messages.map((m) => vi.spyOn(m, "retry"));
  const ctx = createExecutionContext();
  await (worker.queue as unknown as (b: MessageBatch<T>, e: typeof env, c: ExecutionContext) => Promise<void>)(batch, env, ctx);
  return { result: await getQueueResult(batch, ctx), retried };
}

/** Capture what is sent to a queue binding (of the Worker and of a room, in case they differ). */
export async function capture<T>(binding: "EVENTS_QUEUE" | "WEBHOOK_QUEUE", chatId?: string): Promise<T[]> {
  const sent: T[] = [];
  const spy = (queue: Queue) =>
    vi.spyOn(queue, "sendBatch").mockImplementation(async (messages) => {
      for (const m of messages) sent.push(m.body as T);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as QueueSendBatchResponse;
    });
  spy(env[binding]);
  if (chatId) await runInDurableObject(roomFor(env, chatId), (room) => spy((room as unknown as { env: typeof env }).env[binding]));
  return sent;
}

/** A receiver standing in for the app's backend: answers `statuses` in turn (then 200), keeps what came. */
export function receiver(statuses: number[] = []) {
  const received: { url: string; headers: Record<string, string>; body: string }[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    received.push({
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body: new TextDecoder().decode(await request.arrayBuffer()),
    });
    return new Response(null, { status: statuses.shift() ?? 200 });
  });
  return received;
}
