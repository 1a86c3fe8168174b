import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { hubFor } from "../src/hubs/client";
import type { PushJob } from "../src/hubs/notifications";
import { api, type TestUser } from "./helpers";
import { subscriptionKeys } from "./push-crypto";

export const P = "/api/v1/push";

/** Register a Web Push target for `u`'s session with fresh subscription keys. */
export async function subscribe(u: TestUser, endpoint = `https://push.example.net/send/${crypto.randomUUID()}`) {
  const keys = await subscriptionKeys();
  const res = await api("POST", `${P}/targets`, {
    token: u.accessToken,
    body: { kind: "webpush", subscription: { endpoint, expirationTime: null, keys: keys.json } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { keys, endpoint, target: res.body.target as { id: string } };
}

/** Every job these users' hubs enqueue from now on (the queue itself gets none). */
export async function captureJobs(...userIds: string[]): Promise<PushJob[]> {
  const jobs: PushJob[] = [];
  for (const userId of userIds) {
    await runInDurableObject(hubFor(env, userId), (hub) => {
      const queue = (hub as unknown as { env: { PUSH_QUEUE: Queue } }).env.PUSH_QUEUE;
      vi.spyOn(queue, "sendBatch").mockImplementation(async (messages) => {
        for (const m of messages) jobs.push(m.body as PushJob);
        return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as QueueSendBatchResponse;
      });
    });
  }
  return jobs;
}
