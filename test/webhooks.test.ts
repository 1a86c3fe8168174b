import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DomainEvent } from "../src/lib/events";
import { webhooksChanged } from "../src/lib/events";
import { assertOutboundUrl } from "../src/lib/outbound";
import type { DeliveryJob } from "../src/webhooks/delivery";
import { createGroup, ok, send } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { admin, capture, receiver, runQueue } from "./webhook-helpers";

/**
 * Events and webhooks: domain events queued after commit (only while an endpoint is enabled),
 * fanned out to the endpoints that ask for them, delivered signed (checked here with the Standard
 * Webhooks reference library), retried, dead-lettered, logged, and a failing endpoint disabled.
 * The queues are driven by hand: what producers send is captured, then handed to the consumers.
 */

const W = "/api/v1/webhooks";

beforeEach(() => webhooksChanged());
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

async function endpoint(owner: TestUser, events: string[], url = "https://hooks.example.test/in") {
  return ok(await api("POST", W, { token: owner.accessToken, body: { url, events } }), 201) as Promise<{
    endpoint: { id: string };
    secret: string;
  }>;
}

const deliveries = async (owner: TestUser, id: string) =>
  (await ok(await api("GET", `${W}/${id}/deliveries`, { token: owner.accessToken }))).items;

describe("managing endpoints", () => {
  it("admins and keys with webhooks:manage may; others get 404; bad URLs and patterns are refused", async () => {
    const boss = await admin();
    const created = await endpoint(boss, ["message.*", "user.created"]);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const keyRes = await ok(
      await api("POST", "/api/v1/admin/api-keys", { token: boss.accessToken, body: { name: "hooks", scopes: ["webhooks:manage"] } }),
      201,
    );
    const viaKey = await api("GET", W, { headers: { authorization: `ApiKey ${keyRes.key}` } });
    expect(viaKey.body.endpoints.map((e: { id: string }) => e.id)).toContain(created.endpoint.id);
    expect(JSON.stringify(viaKey.body)).not.toContain(created.secret);
    const someone = await signUp();
    expectError(await api("GET", W, { token: someone.accessToken }), 404, "not_found");
    expectError(
      await api("POST", W, { token: boss.accessToken, body: { url: "http://hooks.example.test/x", events: ["*"] } }),
      422,
      "invalid_url",
    );
    // Outside development: https to a host name only (here the rule itself, as production applies it).
    const production = { ENVIRONMENT: "production" };
    for (const bad of ["https://10.0.0.1/x", "https://[::1]/x", "http://127.0.0.1:8080/x"]) {
      expect(() => assertOutboundUrl(production, bad, "invalid_url", "url"), bad).toThrow(
        expect.objectContaining({ status: 422, code: "invalid_url" }),
      );
    }
    expect(() => assertOutboundUrl(production, "https://hooks.example.com/in", "invalid_url", "url")).not.toThrow();
    expectError(
      await api("POST", W, { token: boss.accessToken, body: { url: "https://hooks.example.test/x", events: ["nope.*"] } }),
      400,
      "validation_failed",
    );
    const rotated = await ok(await api("PATCH", `${W}/${created.endpoint.id}`, { token: boss.accessToken, body: { rotateSecret: true } }));
    expect(rotated.secret).not.toBe(created.secret);
    expect((await api("DELETE", `${W}/${created.endpoint.id}`, { token: boss.accessToken })).status).toBe(204);
    expectError(await api("GET", `${W}/${created.endpoint.id}`, { token: boss.accessToken }), 404, "not_found");
  });
});

describe("events", () => {
  it("queues nothing while no endpoint is enabled", async () => {
    await env.DB.prepare("UPDATE webhook_endpoints SET enabled = 0").run();
    const events = await capture<DomainEvent>("EVENTS_QUEUE");
    await signUp();
    expect(events).toEqual([]);
  });

  it("a sign-up and a message become events; they reach the endpoints that ask for them, signed", async () => {
    const boss = await admin();
    const users = await endpoint(boss, ["user.created"]);
    const messages = await endpoint(boss, ["message.*"]);
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(alice, [bob]);
    const events = await capture<DomainEvent>("EVENTS_QUEUE", chat.id);
    const carol = await signUp();
    const sent = await send(alice, chat.id, "hello hooks");
    const created = events.find((e) => e.type === "user.created" && e.data.userId === carol.id)!;
    const posted = events.find((e) => e.type === "message.new")!;
    expect(created).toMatchObject({ id: expect.any(String), createdAt: expect.any(String), data: { method: "password" } });
    expect(posted.data).toMatchObject({ chatId: chat.id, message: { id: sent.id, text: "hello hooks", senderId: alice.id } });

    const jobs = await capture<DeliveryJob>("WEBHOOK_QUEUE");
    await runQueue("edge-messenger-events", [created, posted]);
    expect(jobs.map((j) => [j.endpointId, j.event.type]).sort()).toEqual(
      [
        [users.endpoint.id, "user.created"],
        [messages.endpoint.id, "message.new"],
      ].sort(),
    );
    const received = receiver();
    const { result } = await runQueue("edge-messenger-webhooks", jobs);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1"]);
    const secrets = { [users.endpoint.id]: users.secret, [messages.endpoint.id]: messages.secret };
    for (const r of received) {
      const job = jobs.find((j) => j.event.id === r.headers["webhook-id"])!;
      const verified = new Webhook(secrets[job.endpointId]!).verify(r.body, r.headers) as DomainEvent;
      expect(verified).toEqual(job.event);
    }
    expect((await deliveries(boss, users.endpoint.id)).map((d: { outcome: string }) => d.outcome)).toEqual(["delivered"]);
  });
});

describe("delivery", () => {
  it("retries a receiver that fails twice, then delivers; a signature outside the 5-minute window does not verify", async () => {
    const boss = await admin();
    const { endpoint: e, secret } = await endpoint(boss, ["*"]);
    const event: DomainEvent = { id: crypto.randomUUID(), type: "webhook.test", createdAt: new Date().toISOString(), data: {} };
    const received = receiver([503, 500]);
    const first = await runQueue("edge-messenger-webhooks", [{ endpointId: e.id, event }], 1);
    expect(first.retried[0]).toHaveBeenCalledWith({ delaySeconds: expect.any(Number) });
    const second = await runQueue("edge-messenger-webhooks", [{ endpointId: e.id, event }], 2);
    expect(second.retried[0]!.mock.calls[0]![0]!.delaySeconds).toBeGreaterThan(first.retried[0]!.mock.calls[0]![0]!.delaySeconds! - 3);
    const third = await runQueue("edge-messenger-webhooks", [{ endpointId: e.id, event }], 3);
    expect(third.result.explicitAcks).toEqual(["m0"]);
    expect(new Set(received.map((r) => r.headers["webhook-id"]))).toEqual(new Set([event.id]));
    const log = await deliveries(boss, e.id);
    expect(log.map((d: { outcome: string; attempt: number; responseStatus: number }) => [d.outcome, d.attempt, d.responseStatus])).toEqual([
      ["delivered", 3, 200],
      ["failed", 2, 500],
      ["failed", 1, 503],
    ]);
    // Replayed ten minutes later, the same request no longer verifies.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 10 * 60_000);
    expect(() => new Webhook(secret).verify(received[2]!.body, received[2]!.headers)).toThrow();
  });

  it("records dead letters, and disables an endpoint that keeps failing until enabled by hand", async () => {
    const boss = await admin();
    const { endpoint: e } = await endpoint(boss, ["*"]);
    const event: DomainEvent = { id: crypto.randomUUID(), type: "webhook.test", createdAt: new Date().toISOString(), data: {} };
    await runQueue("edge-messenger-webhooks-dlq", [{ endpointId: e.id, event }], 6);
    expect((await deliveries(boss, e.id))[0]).toMatchObject({ outcome: "dead", attempt: 6 });

    await env.DB.prepare("UPDATE webhook_endpoints SET consecutive_failures = 29 WHERE id = ?").bind(e.id).run();
    receiver([502]);
    await runQueue("edge-messenger-webhooks", [{ endpointId: e.id, event }]);
    const disabled = (await ok(await api("GET", `${W}/${e.id}`, { token: boss.accessToken }))).endpoint;
    expect(disabled).toMatchObject({ enabled: false, consecutiveFailures: 30, disabledReason: expect.stringContaining("failing") });
    const skipped = await runQueue("edge-messenger-webhooks", [{ endpointId: e.id, event }]);
    expect(skipped.result.explicitAcks).toEqual(["m0"]);
    expect((await deliveries(boss, e.id))[0]).toMatchObject({ outcome: "skipped" });
    const again = await ok(await api("PATCH", `${W}/${e.id}`, { token: boss.accessToken, body: { enabled: true } }));
    expect(again.endpoint).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledReason: null });
  });

  it("a test event is queued for one endpoint", async () => {
    const boss = await admin();
    const { endpoint: e } = await endpoint(boss, ["message.new"]);
    const jobs = await capture<DeliveryJob>("WEBHOOK_QUEUE");
    const sendSpy = vi.spyOn(env.WEBHOOK_QUEUE, "send").mockImplementation(async (body) => {
      jobs.push(body as DeliveryJob);
      return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as QueueSendResponse;
    });
    const res = await ok(await api("POST", `${W}/${e.id}/test`, { token: boss.accessToken }), 202);
    expect(sendSpy).toHaveBeenCalledOnce();
    expect(jobs[0]).toMatchObject({ endpointId: e.id, event: { id: res.eventId, type: "webhook.test" } });
  });
});
