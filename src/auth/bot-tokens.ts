import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type BotRow, bots, type UserRow, users } from "../db/schema";
import { randomToken, sha256Hex, timingSafeEqual } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { assertCanSignIn } from "./sign-in";

/**
 * Bot tokens: how a bot account authenticates, `Authorization: Bot <bot user id>:<secret>` with a
 * secret of 43 base64url characters (32 random bytes). Only the SHA-256 of the whole token is kept
 * (bots table); the bot's id in front lets the check be one primary-key read. A bot has one live
 * token: replacing it makes the old one fail at once. A bot's requests run as session
 * `bot:<token id>` (so sockets opened with a replaced token can be ended by the session machinery).
 */

const BOT_HEADER_RE = /^Bot\s+(\S+)$/i;
const BOT_TOKEN_RE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([A-Za-z0-9_-]{43})$/;

/** The session (and token) id a bot's requests carry. */
export const botSessionId = (tokenId: string) => `bot:${tokenId}`;

/** A new token for the bot `botId`: the token (shown once), its id and the hash to store. */
export function newBotToken(botId: string): { token: string; tokenId: string; hash: string } {
  const token = `${botId}:${randomToken(32)}`;
  return { token, tokenId: newId(), hash: sha256Hex(token) };
}

/** The token in an `Authorization: Bot …` header, or null when the header is another scheme. */
export function botTokenFromHeader(header: string | undefined): string | null {
  const match = BOT_HEADER_RE.exec(header?.trim() ?? "");
  return match ? match[1]! : null;
}

const invalidBotToken = () => new AppError(401, "unauthorized", "Unknown or replaced bot token");

/**
 * The bot a token authenticates, with the token's id: `401 unauthorized` for a malformed, unknown
 * or replaced token or an erased bot (one answer for all), `403 account_suspended` /
 * `account_banned` for a bot moderators stopped.
 */
export async function authenticateBot(db: Database, token: string): Promise<{ user: UserRow; bot: BotRow }> {
  const match = BOT_TOKEN_RE.exec(token);
  if (!match) throw invalidBotToken();
  const [row] = await db
    .select({ user: users, bot: bots })
    .from(bots)
    .innerJoin(users, eq(users.id, bots.userId))
    .where(eq(bots.userId, match[1]!));
  if (!row || !timingSafeEqual(row.bot.tokenHash, sha256Hex(token)) || row.user.status === "deleted" || row.user.kind !== "bot") {
    throw invalidBotToken();
  }
  assertCanSignIn(row.user);
  return row;
}
