import { z } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, users, type WebhookEndpointRow, webhookEndpoints } from "../db/schema";
import { AppError } from "../lib/errors";
import { type DomainEvent, webhooksChanged } from "../lib/events";
import { now } from "../lib/time";
import { type BotOwner, findOwnedBot } from "../users/bots";
import { EVENT_TYPES, endpointChanges, endpointView, matches, newEndpointRow } from "./endpoints";

/**
 * A bot's webhook: one endpoint per bot that receives the bot's updates, the way a bot platform
 * pushes them: the events of the chats the bot is a member of (messages, reactions, members, the
 * chat itself), signed and retried exactly like the app's webhooks (delivery.ts), minus what the
 * bot did itself. Set by the bot's owner (`/bots/{id}/webhook`) or, for the app's own bots, by its
 * backend with an API key (`/platform/bots/{id}/webhook`). Without one, a bot reads its updates
 * from its sockets like any user.
 */

/** The event families a bot's webhook may ask for: what happens in its chats. */
const BOT_FAMILIES = ["message", "reaction", "member", "chat"] as const;
const BOT_EVENT_TYPES = EVENT_TYPES.filter((t) => (BOT_FAMILIES as readonly string[]).includes(t.split(".")[0]!));
export const BotEventPattern = z.enum([...BOT_FAMILIES.map((f) => `${f}.*`), ...BOT_EVENT_TYPES] as [string, ...string[]]);
/** What a bot's webhook takes when the request names nothing. */
export const BOT_DEFAULT_EVENTS = BOT_FAMILIES.map((f) => `${f}.*`);

/** What setting a bot's webhook sends. */
export interface BotWebhookInput {
  url: string;
  events?: string[];
  rotateSecret?: boolean;
}

/** The bot's endpoint, or `404 not_found` when it has none (after the ownership check). */
export async function getBotWebhook(db: Database, owner: BotOwner, botId: string): Promise<WebhookEndpointRow> {
  await findOwnedBot(db, owner, botId);
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.botId, botId));
  if (!row) throw new AppError(404, "not_found", "This bot has no webhook");
  return row;
}

/**
 * Set the owner's bot's webhook: made with a new secret (answered this once) when it has none,
 * else changed in place: its URL and events, enabled again with its failure count cleared, and a
 * new secret with `rotateSecret`. `404 not_found` for someone else's bot.
 */
export async function setBotWebhook(db: Database, owner: BotOwner, botId: string, input: BotWebhookInput) {
  await findOwnedBot(db, owner, botId);
  const events = input.events ?? BOT_DEFAULT_EVENTS;
  const fresh = newEndpointRow({ url: input.url, events }, botId);
  // One endpoint per bot (unique bot_id): a concurrent set that made it first is changed instead.
  const [created] = await db.insert(webhookEndpoints).values(fresh).onConflictDoNothing().returning();
  webhooksChanged();
  if (created) return { endpoint: endpointView(created), secret: created.secret, created: true };
  const [current] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.botId, botId));
  if (!current) throw new AppError(409, "conflict", "The bot's webhook changed meanwhile; try again");
  const set = endpointChanges(current, { url: input.url, events, enabled: true, rotateSecret: input.rotateSecret });
  const [row] = await db.update(webhookEndpoints).set(set).where(eq(webhookEndpoints.id, current.id)).returning();
  if (!row) throw new AppError(409, "conflict", "The bot's webhook changed meanwhile; try again");
  return { endpoint: endpointView(row), ...(input.rotateSecret ? { secret: row.secret } : {}), created: false };
}

/** Remove the owner's bot's webhook (its delivery log goes with it); `404 not_found` when it has none. */
export async function deleteBotWebhook(db: Database, owner: BotOwner, botId: string): Promise<void> {
  await findOwnedBot(db, owner, botId);
  const removed = await db.delete(webhookEndpoints).where(eq(webhookEndpoints.botId, botId)).returning({ id: webhookEndpoints.id });
  if (removed.length === 0) throw new AppError(404, "not_found", "This bot has no webhook");
  webhooksChanged();
}

/** Who did what an event records, when a bot might have: a message's sender, a reaction's user, a pin's pinner. */
function actorOf(event: DomainEvent): string | null {
  const data = event.data as { message?: { senderId?: unknown }; userId?: unknown; pinnedBy?: unknown };
  const actor = event.type.startsWith("reaction.")
    ? data.userId
    : event.type === "message.pinned" || event.type === "message.unpinned"
      ? data.pinnedBy
      : data.message?.senderId;
  return typeof actor === "string" ? actor : null;
}

/** D1 binds at most 100 parameters a query. */
const CHATS_PER_QUERY = 90;

/**
 * Which bots with an enabled webhook are members of these chats (at most CHATS_PER_QUERY) now,
 * among bots that may act (active, or suspended until a time that has passed: what sign-in
 * allows). Driven from the few bots' endpoints (CROSS JOIN keeps that order) into chat_members by
 * both key columns, so a large chat costs one probe per bot, never a read of its member list.
 */
export const botMembershipsQuery = (chatIds: readonly string[], at: number) => sql`
  SELECT ${chatMembers.chatId} AS chatId, ${chatMembers.userId} AS botId
  FROM ${webhookEndpoints} CROSS JOIN ${chatMembers} ON ${chatMembers.userId} = ${webhookEndpoints.botId}
  CROSS JOIN ${users} ON ${users.id} = ${webhookEndpoints.botId}
  WHERE ${webhookEndpoints.enabled} = 1 AND ${webhookEndpoints.botId} IS NOT NULL
    AND ${chatMembers.chatId} IN (${sql.join(
      chatIds.map((id) => sql`${id}`),
      sql`, `,
    )})
    AND (${users.status} = 'active' OR (${users.status} = 'suspended' AND ${users.suspendedUntil} <= ${at}))`;

/** botMembershipsQuery over any number of chats, as `chatId:botId` keys. */
async function botMemberships(db: Database, chatIds: string[], at: number): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < chatIds.length; i += CHATS_PER_QUERY) {
    const rows = await db.all<{ chatId: string; botId: string }>(botMembershipsQuery(chatIds.slice(i, i + CHATS_PER_QUERY), at));
    for (const r of rows) found.add(`${r.chatId}:${r.botId}`);
  }
  return found;
}

/**
 * The deliveries of `events` to bots' endpoints: each event of a chat goes to the endpoints of
 * the bots that are members of it when it is fanned out (or that the event is about: a bot removed
 * from the chat hears of it), whose filter takes it, unless the bot did it itself. A bot that may
 * not act (suspended, banned, deactivated) gets nothing, as its token gets nothing.
 */
export async function botDeliveries(db: Database, endpoints: readonly WebhookEndpointRow[], events: readonly DomainEvent[], at = now()) {
  const byBot = new Map(endpoints.filter((e) => e.botId !== null).map((e) => [e.botId!, e]));
  const chatIds = [...new Set(events.map((e) => e.data.chatId).filter((id): id is string => typeof id === "string"))];
  if (byBot.size === 0 || chatIds.length === 0) return [];
  const members = await botMemberships(db, chatIds, at);
  const mayAct = new Set([...members].map((key) => key.split(":")[1]!));
  const jobs: { endpointId: string; event: DomainEvent }[] = [];
  for (const event of events) {
    const chatId = event.data.chatId;
    if (typeof chatId !== "string") continue;
    for (const [botId, endpoint] of byBot) {
      const concerned = members.has(`${chatId}:${botId}`) || (event.data.userId === botId && (await botMayAct(db, botId, at, mayAct)));
      if (!concerned || actorOf(event) === botId) continue;
      if (matches(JSON.parse(endpoint.events) as string[], event.type)) jobs.push({ endpointId: endpoint.id, event });
    }
  }
  return jobs;
}

/** Whether a bot that is no longer in the chat may still be told of it (its account may act). */
async function botMayAct(db: Database, botId: string, at: number, known: Set<string>): Promise<boolean> {
  if (known.has(botId)) return true;
  const [row] = await db.select({ status: users.status, until: users.suspendedUntil }).from(users).where(eq(users.id, botId));
  return row?.status === "active" || (row?.status === "suspended" && row.until !== null && row.until <= at);
}
