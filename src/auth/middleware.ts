import type { MiddlewareHandler } from "hono";
import type { ApiKeyScope } from "../db/schema";
import type { AppEnv } from "../env";
import { AppError } from "../lib/errors";
import { actingUser, apiKeyFromHeader, auditedUse, authenticateApiKey, ON_BEHALF_OF } from "./api-keys";
import { authenticateBot, botSessionId, botTokenFromHeader } from "./bot-tokens";
import { sessionDenial } from "./deny-list";
import { touchLastSeen } from "./last-seen";
import { touchSession } from "./sessions";
import { verifyAccessToken } from "./tokens";

/** The bearer token from `Authorization`, or from `?access_token=` when `allowQuery` (WebSocket upgrades). */
function readToken(header: string | undefined, query: string | undefined, allowQuery: boolean): string | null {
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw new AppError(401, "unauthorized", "Authorization header must be 'Bearer <token>' (or 'Bot <token>' for bots)");
    return match[1]!;
  }
  return allowQuery && query ? query : null;
}

export interface AuthOptions {
  /** WebSocket upgrades: an access token may come in `?access_token=` (bot tokens never do). */
  allowQueryToken?: boolean;
  /** An API key with this scope may call the route, acting as a user. */
  apiKeyScope?: ApiKeyScope;
  /** False for routes that make no sense for bots (sessions, passwords, 2FA, codes, devices, keys, push): `403 bot_not_allowed`. */
  allowBots?: boolean;
}

/**
 * Require a valid access token of a live session. Sets `c.var.auth`. Ended sessions are refused
 * through the KV deny-list (`401 session_revoked`), expired tokens with `401 token_expired`.
 * With `apiKeyScope`, an API key with that scope may call the route instead, acting as the user
 * its `X-On-Behalf-Of` header names (auth's session and token ids are then `apikey:<key id>`).
 * A bot token (`Authorization: Bot …`, header only) authenticates as the bot on every route unless
 * `allowBots` is false (session and token ids `bot:<token id>`; bot-tokens.ts).
 */
export function requireAuth(options: AuthOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const botToken = botTokenFromHeader(c.req.header("authorization"));
    if (botToken) {
      if (options.allowBots === false) throw new AppError(403, "bot_not_allowed", "Bots cannot use this route");
      const { user, bot } = await authenticateBot(c.var.db, botToken);
      c.set("auth", { userId: user.id, sessionId: botSessionId(bot.tokenId), tokenId: botSessionId(bot.tokenId) });
      c.executionCtx.waitUntil(touchLastSeen(c.var.db, user.id).catch(() => false));
      await next();
      return;
    }
    const apiKey = apiKeyFromHeader(c.req.header("authorization"));
    if (apiKey) {
      const key = await authenticateApiKey(c, apiKey, options.apiKeyScope ?? null);
      await auditedUse(
        c,
        key,
        async () => {
          const user = await actingUser(c.var.db, c.req.header(ON_BEHALF_OF));
          c.set("auth", { userId: user.id, sessionId: `apikey:${key.id}`, tokenId: `apikey:${key.id}` });
          return user.id;
        },
        next,
      );
      return;
    }
    const token = readToken(c.req.header("authorization"), c.req.query("access_token"), !!options.allowQueryToken);
    if (!token) throw new AppError(401, "unauthorized", "Authentication required");
    const claims = await verifyAccessToken(c.env, token);
    if (await sessionDenial(c.env.KV, claims.sid)) {
      throw new AppError(401, "session_revoked", "This session has ended; sign in again");
    }
    c.set("auth", { userId: claims.sub, sessionId: claims.sid, tokenId: claims.jti });
    c.executionCtx.waitUntil(touchSession(c.var.db, claims.sid).catch(() => undefined));
    // "Last seen" = last authenticated activity; throttled to one D1 write a minute per user.
    c.executionCtx.waitUntil(touchLastSeen(c.var.db, claims.sub).catch(() => false));
    await next();
  };
}
