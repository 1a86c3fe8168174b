import { and, asc, count, eq, isNull, ne } from "drizzle-orm";
import { createPasswordlessAccount } from "../auth/accounts";
import { botSessionId, newBotToken } from "../auth/bot-tokens";
import { getSelf } from "../auth/service";
import { revokeSession } from "../auth/sessions";
import type { Database } from "../db/client";
import { type BotRow, bots, type UserRow, users } from "../db/schema";
import type { Bindings } from "../env";
import { AppError, notFound } from "../lib/errors";
import { iso, now } from "../lib/time";
import { eraseAccount } from "./deletion";

/**
 * Bots: accounts of kind `bot` that a program drives with a bot token (auth/bot-tokens.ts). A
 * regular user owns at most MAX_BOTS_PER_OWNER; the app's backend makes ownerless ones (owner null).
 * A bot is a member, sender and reader like anyone (it can be added to groups under the usual
 * groupInvites rules) but has no password, sessions or devices, and cannot start a direct chat
 * (chats/account-kinds.ts). Erasing one goes through eraseAccount, like any account.
 */

export const MAX_BOTS_PER_OWNER = 20;

/** Who manages a bot: a user's id, or null for the app's backend (its ownerless bots). */
export type BotOwner = string | null;

/** A bot as its owner sees it. */
export const botView = (user: UserRow, bot: BotRow) => ({
  id: user.id,
  username: user.username,
  displayName: user.displayName,
  ownerId: bot.ownerId,
  createdAt: iso(bot.createdAt)!,
  tokenCreatedAt: iso(bot.tokenCreatedAt)!,
});
export type BotView = ReturnType<typeof botView>;

const tooMany = () => new AppError(409, "too_many_bots", `A user may own at most ${MAX_BOTS_PER_OWNER} bots`, { max: MAX_BOTS_PER_OWNER });

/** The caller when it may own bots: `403 guest_not_allowed` for a guest (bots never get here: their routes refuse them). */
export async function requireBotOwner(db: Database, userId: string): Promise<string> {
  const user = await getSelf(db, userId);
  if (user.kind === "guest") throw new AppError(403, "guest_not_allowed", "Guests cannot create bots; set a password first");
  if (user.kind === "bot") throw new AppError(403, "bot_not_allowed", "Bots cannot create bots");
  return user.id;
}

/**
 * Create a bot and its token (answered once; only its hash is kept). `409 username_taken`;
 * `409 too_many_bots` past MAX_BOTS_PER_OWNER, exactly, even under concurrent calls: the bots row
 * is inserted only while the owner has fewer, in the one statement that counts them, and a bot
 * account that lost that race is removed again before anything could use it.
 */
export async function createBot(db: Database, owner: BotOwner, input: { username: string; displayName: string }) {
  if (owner && (await ownedCount(db, owner)) >= MAX_BOTS_PER_OWNER) throw tooMany();
  const user = await createPasswordlessAccount(db, { kind: "bot", username: input.username, displayName: input.displayName });
  const { token, tokenId, hash } = newBotToken(user.id);
  const at = now();
  const inserted = await db.$client
    .prepare(
      `INSERT INTO bots (user_id, owner_id, token_id, token_hash, token_created_at, created_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?5 WHERE ?2 IS NULL OR (SELECT count(*) FROM bots WHERE owner_id = ?2) < ?6`,
    )
    .bind(user.id, owner, tokenId, hash, at, MAX_BOTS_PER_OWNER)
    .run();
  if (inserted.meta.changes === 0) {
    await db.delete(users).where(eq(users.id, user.id));
    throw tooMany();
  }
  const bot: BotRow = { userId: user.id, ownerId: owner, tokenId, tokenHash: hash, tokenCreatedAt: at, createdAt: at };
  return { bot: botView(user, bot), token };
}

async function ownedCount(db: Database, owner: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(bots).where(eq(bots.ownerId, owner));
  return row?.n ?? 0;
}

const ownedBy = (owner: BotOwner) => (owner ? eq(bots.ownerId, owner) : isNull(bots.ownerId));

/** The owner's bots (not erased), oldest first. */
export async function listBots(db: Database, owner: BotOwner): Promise<BotView[]> {
  const rows = await db
    .select({ user: users, bot: bots })
    .from(bots)
    .innerJoin(users, eq(users.id, bots.userId))
    .where(and(ownedBy(owner), ne(users.status, "deleted")))
    .orderBy(asc(bots.createdAt), asc(bots.userId));
  return rows.map((r) => botView(r.user, r.bot));
}

/** The owner's bot `botId`; `404 not_found` for anyone else's, an erased one or no bot at all. */
export async function findOwnedBot(db: Database, owner: BotOwner, botId: string): Promise<{ user: UserRow; bot: BotRow }> {
  const [row] = await db
    .select({ user: users, bot: bots })
    .from(bots)
    .innerJoin(users, eq(users.id, bots.userId))
    .where(and(eq(bots.userId, botId), ownedBy(owner), ne(users.status, "deleted")));
  if (!row) throw notFound("Bot");
  return row;
}

/**
 * Replace the bot's token: the new one is answered once, the old one stops at once (REST checks the
 * stored hash on every request; the old token's sockets are closed first, through the bot's hub,
 * which also refuses new ones for that token while a check made just before could still be in
 * flight). Two replacements at once: one wins, the other is `409 conflict`.
 */
export async function rotateBotToken(db: Database, env: Bindings, owner: BotOwner, botId: string) {
  const { user, bot } = await findOwnedBot(db, owner, botId);
  await revokeSession(db, env, botId, botSessionId(bot.tokenId), "ended_by_user");
  const { token, tokenId, hash } = newBotToken(botId);
  const at = now();
  const [updated] = await db
    .update(bots)
    .set({ tokenId, tokenHash: hash, tokenCreatedAt: at })
    .where(and(eq(bots.userId, botId), eq(bots.tokenId, bot.tokenId)))
    .returning();
  if (!updated) throw new AppError(409, "conflict", "The bot's token changed concurrently; try again");
  return { bot: botView(user, updated), token };
}

/** Erase the owner's bot through the account erasure path (its token stops with it). */
export async function deleteBot(db: Database, env: Bindings, owner: BotOwner, botId: string): Promise<void> {
  const { user } = await findOwnedBot(db, owner, botId);
  await eraseAccount(db, env, user);
}

/**
 * The account-deletion hook of bots (registered in src/app/wiring.ts): an erased bot loses its token row;
 * an erased user's bots are erased with it (nobody could manage them any more). Idempotent.
 */
export async function removeAccountBots(env: Bindings, db: Database, userId: string): Promise<void> {
  await db.delete(bots).where(eq(bots.userId, userId));
  const owned = await db.select({ user: users }).from(bots).innerJoin(users, eq(users.id, bots.userId)).where(eq(bots.ownerId, userId));
  for (const { user } of owned) await eraseAccount(db, env, user);
}
