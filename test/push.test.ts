import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDb } from "../src/db/client";
import { sessions } from "../src/db/schema";
import { hubFor } from "../src/hubs/client";
import type { PushJob } from "../src/hubs/notifications";
import worker from "../src/index";
import { createDirect, createGroup, flush, ok, runAlarmAt, sendRaw, shadowBannedGroup } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { openRealtime } from "./hub-helpers";
import { b64u, decryptPush, type SubscriptionKeys, verifyVapid } from "./push-crypto";
import { captureJobs, P, subscribe } from "./push-helpers";

/**
 * Push notifications: targets per device (REST), the hub's choice of whom to notify (no live
 * socket, silent, mute and mentions, settings), and the queue consumer's Web Push requests,
 * decrypted here with the subscription's private key (RFC 8291) and their VAPID header checked
 * (RFC 8292) by the WebCrypto code in push-crypto.ts. The queue is driven by hand: the hubs'
 * enqueued jobs are captured, then handed to the Worker's queue handler with fetch stubbed.
 */

/** The Worker's queue handler, called as the runtime would. */
const runQueue = (batch: MessageBatch<PushJob>, ctx: ExecutionContext) =>
  (worker.queue as unknown as (b: MessageBatch<PushJob>, e: typeof env, c: ExecutionContext) => Promise<void>)(batch, env, ctx);

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const say = async (u: TestUser, chatId: string, text: string, extra: Record<string, unknown> = {}) =>
  (await ok(await sendRaw(u, chatId, { clientMessageId: crypto.randomUUID(), text, ...extra }), 201)).message as { seq: number };

/** Run the consumer on these jobs with every push service answering `status`; answers the requests and the batch result. */
async function consume(jobs: PushJob[], status = 201) {
  const requests: { url: string; headers: Headers; body: Uint8Array }[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    requests.push({ url: request.url, headers: request.headers, body: new Uint8Array(await request.arrayBuffer()) });
    return new Response(null, { status });
  });
  const batch = createMessageBatch<PushJob>(
    "edge-messenger-push",
    jobs.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const retried = batch.messages.map((m) => vi.spyOn(m, "retry"));
  const ctx = createExecutionContext();
  await runQueue(batch, ctx);
  const result = await getQueueResult(batch, ctx);
  return { requests, result, retried };
}

async function decrypted(request: { body: Uint8Array }, keys: SubscriptionKeys) {
  return decryptPush(request.body, keys);
}

describe("push targets", () => {
  it("registers a subscription per session, lists it, answers 200 for the same endpoint and removes it", async () => {
    const u = await signUp();
    const vapid = await ok(await api("GET", `${P}/vapid-key`));
    expect(vapid.publicKey).toMatch(/^B[\w-]{86}$/);
    const { target, endpoint, keys } = await subscribe(u);
    const again = await api("POST", `${P}/targets`, {
      token: u.accessToken,
      body: { kind: "webpush", subscription: { endpoint, keys: keys.json } },
    });
    expect(again.status).toBe(200);
    expect(again.body.target.id).toBe(target.id);
    const list = await ok(await api("GET", `${P}/targets`, { token: u.accessToken }));
    expect(list.targets).toEqual([expect.objectContaining({ id: target.id, kind: "webpush", endpoint, current: true })]);
    expect((await api("DELETE", `${P}/targets/${target.id}`, { token: u.accessToken })).status).toBe(204);
    expectError(await api("DELETE", `${P}/targets/${target.id}`, { token: u.accessToken }), 404, "not_found");
    expect((await ok(await api("GET", `${P}/targets`, { token: u.accessToken }))).targets).toEqual([]);
  });

  it("refuses bad subscriptions with 400/422 and stores nothing; another user's target is 404", async () => {
    const [u, other] = await Promise.all([signUp(), signUp()]);
    const { keys } = await subscribe(other);
    const post = (body: unknown) => api("POST", `${P}/targets`, { token: u.accessToken, body });
    const sub = (patch: Record<string, unknown>) => ({
      kind: "webpush",
      subscription: { endpoint: "https://push.example.net/x", keys: keys.json, ...patch },
    });
    expectError(await post(sub({ keys: { ...keys.json, p256dh: "not-a-key" } })), 400, "validation_failed");
    // A point off the curve: the same x with y's lowest bit flipped (y and p - y differ in parity).
    const offCurve = Uint8Array.from(keys.publicRaw);
    offCurve[64]! ^= 1;
    expectError(await post(sub({ keys: { ...keys.json, p256dh: b64u(offCurve) } })), 400, "validation_failed");
    expectError(await post(sub({ keys: { ...keys.json, auth: "c2hvcnQ" } })), 400, "validation_failed");
    expectError(await post(sub({ endpoint: "ftp://push.example.net/x" })), 400, "validation_failed");
    expectError(await post(sub({ endpoint: "http://push.example.net/x" })), 422, "invalid_endpoint");
    expectError(await post({ kind: "fcm", token: "f".repeat(40) }), 503, "push_not_configured");
    expectError(await post({ kind: "apns", token: "x" }), 400, "validation_failed");
    expect((await ok(await api("GET", `${P}/targets`, { token: u.accessToken }))).targets).toEqual([]);
    const theirs = (await ok(await api("GET", `${P}/targets`, { token: other.accessToken }))).targets[0];
    expectError(await api("DELETE", `${P}/targets/${theirs.id}`, { token: u.accessToken }), 404, "not_found");
  });

  it("accepts http endpoints on 127.0.0.1 in development, for a local test receiver", async () => {
    const u = await signUp();
    const { target } = await subscribe(u, "http://127.0.0.1:9/push/receiver");
    expect(target.id).toBeTruthy();
  });

  it("a session that ends takes its targets with it", async () => {
    const u = await signUp();
    await subscribe(u);
    expect((await api("POST", "/api/v1/auth/logout", { token: u.accessToken })).status).toBe(204);
    const targets = await runInDurableObject(hubFor(env, u.id), (hub) =>
      (hub as unknown as { listPushTargets(): Promise<unknown[]> }).listPushTargets(),
    );
    expect(targets).toEqual([]);
  });

  it("settings are the preferences' notifications: defaults, a partial change, the hub's copy, bad input; /push/settings is gone", async () => {
    const u = await signUp();
    const prefs = "/api/v1/users/me/preferences";
    expect((await ok(await api("GET", prefs, { token: u.accessToken }))).notifications).toEqual({
      previews: true,
      direct: true,
      groups: true,
    });
    const changed = await ok(await api("PATCH", prefs, { token: u.accessToken, body: { version: 0, notifications: { previews: false } } }));
    expect(changed.notifications).toEqual({ previews: false, direct: true, groups: true });
    const hubSettings = await runInDurableObject(hubFor(env, u.id), (hub) =>
      (hub as unknown as { pushSettings(): Promise<unknown> }).pushSettings(),
    );
    expect(hubSettings).toEqual({ previews: false, direct: true, groups: true });
    expectError(await api("PATCH", prefs, { token: u.accessToken, body: { version: 1, notifications: {} } }), 400, "validation_failed");
    expectError(
      await api("PATCH", prefs, { token: u.accessToken, body: { version: 1, notifications: { loud: true } } }),
      400,
      "validation_failed",
    );
    expectError(await api("GET", `${P}/settings`, { token: u.accessToken }), 404, "not_found");
    expectError(await api("PATCH", `${P}/settings`, { token: u.accessToken, body: { previews: true } }), 404, "not_found");
  });
});

describe("who is notified", () => {
  it("a device without a live socket gets one encrypted Web Push per flush, with sender and preview", async () => {
    const [alice, bob] = await Promise.all([signUp({ displayName: "Alice A" }), signUp()]);
    const chat = await createDirect(alice, bob);
    const { keys, endpoint } = await subscribe(bob);
    const jobs = await captureJobs(bob.id);
    const message = await say(alice, chat.id, "are you there?");
    await flush(chat.id);
    expect(jobs).toHaveLength(1);
    const { requests, result } = await consume(jobs);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.url).toBe(endpoint);
    expect(Object.fromEntries(request!.headers)).toMatchObject({
      "content-encoding": "aes128gcm",
      "content-type": "application/octet-stream",
      ttl: "86400",
      urgency: "high",
      topic: chat.id.replace(/-/g, ""),
    });
    const vapid = (await ok(await api("GET", `${P}/vapid-key`))).publicKey;
    const claims = await verifyVapid(request!.headers.get("authorization")!, vapid, "https://push.example.net");
    expect(claims.sub).toBe(env.VAPID_SUBJECT);
    expect(await decrypted(request!, keys)).toEqual({
      type: "message",
      chatId: chat.id,
      seq: message.seq,
      count: 1,
      mention: false,
      chatType: "direct",
      chatName: null,
      sender: { id: alice.id, name: "Alice A" },
      text: "are you there?",
    });
  });

  it("no push for my own messages, silent ones, or a session holding a realtime socket", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    await subscribe(bob);
    await subscribe(alice);
    const jobs = await captureJobs(bob.id, alice.id);
    await say(alice, chat.id, "quietly", { silent: true });
    await say(bob, chat.id, "my own");
    await flush(chat.id);
    expect(jobs.filter((j) => j.userId === bob.id)).toEqual([]);
    // alice's one job is for bob's message; then alice opens the app: no more.
    expect(jobs.filter((j) => j.userId === alice.id)).toHaveLength(1);
    const { socket } = await openRealtime(alice.accessToken);
    await say(bob, chat.id, "you're online");
    await flush(chat.id);
    expect(jobs.filter((j) => j.userId === alice.id)).toHaveLength(1);
    socket.close();
  });

  it("a muted chat notifies only a mention; previews off and encrypted chats carry no content", async () => {
    const [owner, bob] = await Promise.all([signUp(), signUp()]);
    const group = await createGroup(owner, [bob]);
    const { keys } = await subscribe(bob);
    const jobs = await captureJobs(bob.id);
    await ok(
      await api("PUT", `/api/v1/chats/${group.id}/settings`, { token: bob.accessToken, body: { mutedUntil: "2999-01-01T00:00:00Z" } }),
    );
    await say(owner, group.id, "muted chatter");
    await flush(group.id);
    expect(jobs).toHaveLength(1);
    const muted = await consume(jobs.splice(0));
    expect(muted.requests).toEqual([]); // the consumer checks mute in D1
    expect(muted.result.explicitAcks).toEqual(["m0"]);

    await ok(
      await api("PATCH", "/api/v1/users/me/preferences", {
        token: bob.accessToken,
        body: { version: 0, notifications: { previews: false } },
      }),
    );
    const mention = await say(owner, group.id, "look", { mentions: [bob.id] });
    await flush(group.id);
    const { requests } = await consume(jobs.splice(0));
    expect(await decrypted(requests[0]!, keys)).toEqual({
      type: "message",
      chatId: group.id,
      seq: mention.seq,
      count: 1,
      mention: true,
      chatType: "group",
      chatName: group.name,
    });
  });

  it("an encrypted chat's notification is the chat id and a counter only", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const res = await api("POST", "/api/v1/chats", {
      token: alice.accessToken,
      body: { type: "direct", memberIds: [bob.id], encrypted: true },
    });
    const chat = (await ok(res, 201)).chat as { id: string };
    const { keys } = await subscribe(bob);
    const jobs = await captureJobs(bob.id);
    const sent = await say(alice, chat.id, "", { type: "encrypted", ciphertext: btoa("opaque bytes"), text: undefined });
    await flush(chat.id);
    const { requests } = await consume(jobs);
    expect(await decrypted(requests[0]!, keys)).toEqual({ type: "message", chatId: chat.id, seq: sent.seq, count: 1, mention: false });
  });
});

describe("what is weighed", () => {
  it("a shadow-banned member is notified of the others' messages like anyone", async () => {
    const { owner, b, chat } = await shadowBannedGroup();
    await subscribe(b);
    const jobs = await captureJobs(b.id);
    const sent = await say(owner, chat.id, "to everyone");
    await flush(chat.id);
    expect(jobs).toEqual([expect.objectContaining({ userId: b.id, seq: sent.seq, count: 1 })]);
  });

  it("only recent messages notify: one left unannounced for minutes does not", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    await subscribe(bob);
    const jobs = await captureJobs(bob.id);
    await say(alice, chat.id, "long ago");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 6 * 60_000);
    const recent = await say(alice, chat.id, "just now");
    await runAlarmAt(chat.id, Date.now());
    expect(jobs).toEqual([expect.objectContaining({ seq: recent.seq, count: 1 })]);
  });
});

/** Alice messages Bob, whose one device has no live socket: the job his hub queued for it. */
async function queuedPush() {
  const [alice, bob] = await Promise.all([signUp(), signUp()]);
  const chat = await createDirect(alice, bob);
  const { target } = await subscribe(bob);
  const jobs = await captureJobs(bob.id);
  const message = await say(alice, chat.id, "one");
  await flush(chat.id);
  expect(jobs).toHaveLength(1);
  return { alice, bob, chat, target, jobs, message };
}

/** Bob's push target ids, as he lists them. */
const targetIds = async (u: TestUser) =>
  (await ok(await api("GET", `${P}/targets`, { token: u.accessToken }))).targets.map((t: { id: string }) => t.id);

describe("delivery", () => {
  it("a push service that says gone (410) prunes the target; one that is down (503) is retried with backoff", async () => {
    const { bob, target, jobs } = await queuedPush();
    const down = await consume(jobs, 503);
    expect(down.result.explicitAcks).toEqual([]);
    expect(down.retried[0]).toHaveBeenCalledWith({ delaySeconds: expect.any(Number) });
    expect(down.retried[0]!.mock.calls[0]![0]!.delaySeconds).toBeGreaterThanOrEqual(4);

    const gone = await consume(jobs, 410);
    expect(gone.result.explicitAcks).toEqual(["m0"]);
    expect(await targetIds(bob)).not.toContain(target.id);
  });

  it("a target whose session expired is pruned; a read chat, a redirect and a 403 are not sent again", async () => {
    const { bob, chat, target, jobs, message } = await queuedPush();

    const redirected = await consume(jobs, 307);
    expect(redirected.result.explicitAcks).toEqual(["m0"]);
    expect(redirected.requests).toHaveLength(1); // not followed

    await ok(await api("POST", `/api/v1/chats/${chat.id}/read`, { token: bob.accessToken, body: { seq: message.seq } }));
    await flush(chat.id);
    expect((await consume(jobs)).requests).toEqual([]);

    await createDb(env.DB)
      .update(sessions)
      .set({ expiresAt: Date.now() - 1 })
      .where(eq(sessions.userId, bob.id));
    const expired = await consume(jobs);
    expect(expired.requests).toEqual([]);
    expect(expired.result.explicitAcks).toEqual(["m0"]);
    expect(await targetIds(bob)).not.toContain(target.id);
  });

  it("a push service that refuses the VAPID key (403) gets the target pruned: it must subscribe again", async () => {
    const { bob, target, jobs } = await queuedPush();
    await consume(jobs, 403);
    expect(await targetIds(bob)).not.toContain(target.id);
  });

  it("the dead-letter queue logs and acknowledges what could not be delivered", async () => {
    const { bob, chat, jobs } = await queuedPush();
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const fetched = vi.spyOn(globalThis, "fetch");
    const batch = createMessageBatch<PushJob>("edge-messenger-push-dlq", [
      { id: "d0", timestamp: new Date(), attempts: 6, body: jobs[0]! },
    ]);
    const ctx = createExecutionContext();
    await runQueue(batch, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["d0"]);
    expect(fetched).not.toHaveBeenCalled();
    expect(JSON.parse(logged.mock.calls[0]![0] as string)).toMatchObject({ msg: "push gave up", userId: bob.id, chatId: chat.id });
  });
});
