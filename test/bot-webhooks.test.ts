import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDb } from "../src/db/client";
import type { DomainEvent } from "../src/lib/events";
import { webhooksChanged } from "../src/lib/events";
import { botMembershipsQuery } from "../src/webhooks/bot-endpoints";
import type { DeliveryJob } from "../src/webhooks/delivery";
import { asBot, BOTS, createBot } from "./bot-helpers";
import { C, createGroup, ok, send } from "./chat-helpers";
import { api, expectError, signUp } from "./helpers";
import { admin, capture, receiver, runQueue } from "./webhook-helpers";

/**
 * Bots' webhooks: a bot's owner (or, for the app's bots, its backend with an API key) points the
 * bot's updates at a URL; the events of the chats the bot is in reach it signed like the app's
 * webhooks (checked with the Standard Webhooks reference library), and nothing else does.
 */

const URL = "https://bot.example.test/updates";
const webhookOf = (botId: string) => `${BOTS}/${botId}/webhook`;

beforeEach(() => webhooksChanged());
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("setting a bot's webhook", () => {
  it("the owner sets, reads, changes and removes it; anyone else gets 404, the bot itself 403", async () => {
    const bot = await createBot();
    const token = bot.owner.accessToken;
    const created = await ok(await api("PUT", webhookOf(bot.id), { token, body: { url: URL } }), 201);
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.endpoint).toMatchObject({ url: URL, events: ["message.*", "reaction.*", "member.*", "chat.*"], enabled: true });
    const read = await ok(await api("GET", webhookOf(bot.id), { token }));
    expect(read.endpoint.id).toBe(created.endpoint.id);
    expect(JSON.stringify(read)).not.toContain(created.secret);

    const changed = await ok(await api("PUT", webhookOf(bot.id), { token, body: { url: `${URL}/v2`, events: ["message.new"] } }));
    expect(changed).toEqual({ endpoint: expect.objectContaining({ id: created.endpoint.id, url: `${URL}/v2`, events: ["message.new"] }) });
    const rotated = await ok(await api("PUT", webhookOf(bot.id), { token, body: { url: URL, rotateSecret: true } }));
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);

    const stranger = await signUp();
    expectError(await api("GET", webhookOf(bot.id), { token: stranger.accessToken }), 404, "not_found");
    expectError(await api("PUT", webhookOf(bot.id), { token: stranger.accessToken, body: { url: URL } }), 404, "not_found");
    expectError(await asBot(bot.token, "PUT", webhookOf(bot.id), { body: { url: URL } }), 403, "bot_not_allowed");
    expectError(await api("PUT", webhookOf(bot.id), { token, body: { url: URL, events: ["user.*"] } }), 400, "validation_failed");
    expectError(await api("PUT", webhookOf(bot.id), { token, body: { url: "http://bot.example.test/x" } }), 422, "invalid_url");

    // Not one of the app's endpoints: the admin routes neither list nor show it.
    const boss = await admin();
    const listed = await ok(await api("GET", "/api/v1/webhooks", { token: boss.accessToken }));
    expect(listed.endpoints.map((e: { id: string }) => e.id)).not.toContain(created.endpoint.id);
    expectError(await api("GET", `/api/v1/webhooks/${created.endpoint.id}`, { token: boss.accessToken }), 404, "not_found");

    expect((await api("DELETE", webhookOf(bot.id), { token })).status).toBe(204);
    expectError(await api("GET", webhookOf(bot.id), { token }), 404, "not_found");
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM webhook_endpoints WHERE bot_id = ?").bind(bot.id).first<{ n: number }>();
    expect(rows!.n).toBe(0);
  });

  it("goes with the bot when the bot is deleted", async () => {
    const bot = await createBot();
    await ok(await api("PUT", webhookOf(bot.id), { token: bot.owner.accessToken, body: { url: URL } }), 201);
    expect((await api("DELETE", `${BOTS}/${bot.id}`, { token: bot.owner.accessToken })).status).toBe(204);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM webhook_endpoints WHERE bot_id = ?").bind(bot.id).first<{ n: number }>();
    expect(rows!.n).toBe(0);
  });

  it("the app's backend manages its own bots' webhooks with users:write, not people's bots", async () => {
    const boss = await admin();
    const { key } = await ok(
      await api("POST", "/api/v1/admin/api-keys", { token: boss.accessToken, body: { name: "bots", scopes: ["users:write"] } }),
      201,
    );
    const headers = { authorization: `ApiKey ${key}` };
    const made = await ok(
      await api("POST", "/api/v1/platform/bots", { headers, body: { username: `app${Date.now()}_bot`, displayName: "App" } }),
      201,
    );
    const set = await ok(await api("PUT", `/api/v1/platform/bots/${made.bot.id}/webhook`, { headers, body: { url: URL } }), 201);
    expect(set.secret).toMatch(/^whsec_/);
    const persons = await createBot();
    expectError(await api("PUT", `/api/v1/platform/bots/${persons.id}/webhook`, { headers, body: { url: URL } }), 404, "not_found");
  });
});

describe("a bot's updates", () => {
  it("are the events of its chats, signed, without what it did itself or what happened elsewhere", async () => {
    const bot = await createBot();
    const { secret, endpoint } = await ok(await api("PUT", webhookOf(bot.id), { token: bot.owner.accessToken, body: { url: URL } }), 201);
    const alice = await signUp();
    const chat = await createGroup(alice, [{ id: bot.id } as never]);
    const events = await capture<DomainEvent>("EVENTS_QUEUE", chat.id);
    const hello = await send(alice, chat.id, "hello bot");
    const reply = await asBot(bot.token, "POST", `${C}/${chat.id}/messages`, {
      body: { clientMessageId: crypto.randomUUID(), text: "hi" },
    });
    expect(reply.status, reply.text).toBe(201);
    const elsewhere: DomainEvent = {
      id: crypto.randomUUID(),
      type: "message.new",
      createdAt: new Date().toISOString(),
      data: { chatId: crypto.randomUUID(), message: { senderId: alice.id, text: "not for the bot" } },
    };
    const posted = events.filter((e) => e.type === "message.new");
    expect(posted).toHaveLength(2);

    const jobs = await capture<DeliveryJob>("WEBHOOK_QUEUE");
    await runQueue("edge-messenger-events", [...posted, elsewhere]);
    const mine = jobs.filter((j) => j.endpointId === endpoint.id);
    expect(mine.map((j) => (j.event.data.message as { id: string }).id)).toEqual([hello.id]);

    const received = receiver();
    await runQueue("edge-messenger-webhooks", mine);
    expect(received.map((r) => r.url)).toEqual([URL]);
    const verified = new Webhook(secret).verify(received[0]!.body, received[0]!.headers) as DomainEvent;
    expect(verified).toMatchObject({ type: "message.new", data: { chatId: chat.id, message: { text: "hello bot", senderId: alice.id } } });
  });

  it("tell a bot it was removed from a chat, though it is no longer a member", async () => {
    const bot = await createBot();
    const { endpoint } = await ok(await api("PUT", webhookOf(bot.id), { token: bot.owner.accessToken, body: { url: URL } }), 201);
    const alice = await signUp();
    const chat = await createGroup(alice, [{ id: bot.id } as never]);
    const events = await capture<DomainEvent>("EVENTS_QUEUE", chat.id);
    expect((await api("DELETE", `${C}/${chat.id}/members/${bot.id}`, { token: alice.accessToken })).status).toBe(204);
    const removed = events.filter((e) => e.type === "member.removed");
    expect(removed).toHaveLength(1);
    const jobs = await capture<DeliveryJob>("WEBHOOK_QUEUE");
    await runQueue("edge-messenger-events", removed);
    expect(jobs.filter((j) => j.endpointId === endpoint.id).map((j) => j.event.data.userId)).toEqual([bot.id]);
  });

  it("leave out the bot's own reactions and pins, and stop while the bot is banned", async () => {
    const bot = await createBot();
    const { endpoint } = await ok(await api("PUT", webhookOf(bot.id), { token: bot.owner.accessToken, body: { url: URL } }), 201);
    const alice = await signUp();
    const chat = await createGroup(alice, [{ id: bot.id } as never]);
    const events = await capture<DomainEvent>("EVENTS_QUEUE", chat.id);
    const hello = await send(alice, chat.id, "react to me");
    const reacted = await asBot(bot.token, "PUT", `${C}/${chat.id}/messages/${hello.id}/reactions/${encodeURIComponent("👍")}`);
    expect(reacted.status, reacted.text).toBe(200);
    const jobs = await capture<DeliveryJob>("WEBHOOK_QUEUE");
    await runQueue("edge-messenger-events", events);
    expect(events.map((e) => e.type)).toContain("reaction.added");
    expect(jobs.filter((j) => j.endpointId === endpoint.id).map((j) => j.event.type)).toEqual(["message.new"]);

    await env.DB.prepare("UPDATE users SET status = 'banned' WHERE id = ?").bind(bot.id).run();
    jobs.length = 0;
    await runQueue("edge-messenger-events", events);
    expect(jobs.filter((j) => j.endpointId === endpoint.id)).toEqual([]);
  });

  it("find the bots of a chat by probing each bot's membership, never reading the member list", async () => {
    const query = botMembershipsQuery([crypto.randomUUID(), crypto.randomUUID()], Date.now());
    const plan = await createDb(env.DB).all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${query}`);
    const steps = plan.map((r) => r.detail);
    expect(
      steps.find((d) => d.includes("chat_members")),
      steps.join("; "),
    ).toMatch(/SEARCH chat_members USING .*\((chat_id=\? AND user_id=\?|user_id=\? AND chat_id=\?)\)/);
    expect(steps.some((d) => /SCAN chat_members/.test(d))).toBe(false);
  });
});
