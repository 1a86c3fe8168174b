import { z } from "@hono/zod-openapi";
import { and, eq, inArray, isNotNull } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers, type WebhookEndpointRow, webhookEndpoints } from "../db/schema";
import { AppError } from "../lib/errors";
import type { DomainEvent } from "../lib/events";
import { webhooksChanged } from "../lib/events";
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

/** Who did what an event records, when a bot might have: a message's sender, a reaction's user. */
function actorOf(event: DomainEvent): string | null {
  const data = event.data as { message?: { senderId?: unknown }; userId?: unknown };
  if (event.type.startsWith("message.")) return typeof data.message?.senderId === "string" ? data.message.senderId : null;
  if (event.type.startsWith("reaction.")) return typeof data.userId === "string" ? data.userId : null;
  return null;
}

/** D1 binds at most 100 parameters a query. */
const CHATS_PER_QUERY = 90;

/**
 * The deliveries of `events` to bots' endpoints: each event of a chat goes to the endpoints of
 * the bots that are members of it now (or that the event is about: a bot removed from the chat
 * hears of it), whose filter takes it, unless the bot did it itself.
 */
export async function botDeliveries(db: Database, endpoints: readonly WebhookEndpointRow[], events: readonly DomainEvent[]) {
  const byBot = new Map(endpoints.filter((e) => e.botId !== null).map((e) => [e.botId!, e]));
  const chatIds = [...new Set(events.map((e) => e.data.chatId).filter((id): id is string => typeof id === "string"))];
  if (byBot.size === 0 || chatIds.length === 0) return [];
  const members = new Set<string>();
  for (let i = 0; i < chatIds.length; i += CHATS_PER_QUERY) {
    const rows = await db
      .select({ chatId: chatMembers.chatId, userId: chatMembers.userId })
      .from(chatMembers)
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.botId, chatMembers.userId))
      .where(and(inArray(chatMembers.chatId, chatIds.slice(i, i + CHATS_PER_QUERY)), isNotNull(webhookEndpoints.botId)));
    for (const r of rows) members.add(`${r.chatId}:${r.userId}`);
  }
  const jobs: { endpointId: string; event: DomainEvent }[] = [];
  for (const event of events) {
    const chatId = event.data.chatId;
    if (typeof chatId !== "string") continue;
    for (const [botId, endpoint] of byBot) {
      const concerned = members.has(`${chatId}:${botId}`) || event.data.userId === botId;
      if (!concerned || actorOf(event) === botId) continue;
      if (matches(JSON.parse(endpoint.events) as string[], event.type)) jobs.push({ endpointId: endpoint.id, event });
    }
  }
  return jobs;
}
