import { and, eq, gt, isNull, lt, or } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import type { Database } from "../db/client";
import { type ApiKeyRow, type ApiKeyScope, apiKeys, apiKeyUses, type UserRow, users } from "../db/schema";
import type { AppEnv } from "../env";
import { randomToken, sha256Hex } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { requestInfo } from "../lib/request-info";
import { MINUTE, now } from "../lib/time";
import { assertCanSignIn } from "./sign-in";

/**
 * API keys: how the app's own backend calls this one. A key is `emk_` and 43 base64url characters
 * (32 random bytes), sent as `Authorization: ApiKey emk_…`; only its SHA-256 is stored. Each key has
 * scopes; a route names the scope it needs. Acting as a user (`X-On-Behalf-Of: <user id>`), a key
 * goes through the same routes as that user's token, with the same rules. Every request made with
 * a key is recorded in `api_key_uses` (with the answer's status).
 */

export const API_KEY_PREFIX = "emk_";
/** The header naming the user a key acts as. */
export const ON_BEHALF_OF = "x-on-behalf-of";
/** `last_used_at` is written at most this often per key. */
const LAST_USED_INTERVAL_MS = MINUTE;

/** What a verified key lets a request do. */
export interface ApiKeyContext {
  id: string;
  scopes: ApiKeyScope[];
}

/** A new key: the secret (shown once), the prefix shown afterwards, and the hash stored. */
export function newApiKey(): { key: string; prefix: string; hash: string } {
  const key = `${API_KEY_PREFIX}${randomToken(32)}`;
  return { key, prefix: key.slice(0, 12), hash: sha256Hex(key) };
}

/** The key in an `Authorization: ApiKey …` header, or null when the header is another scheme. */
export function apiKeyFromHeader(header: string | undefined): string | null {
  const match = /^ApiKey\s+(\S+)$/i.exec(header?.trim() ?? "");
  return match ? match[1]! : null;
}

/** The live key (not revoked, not expired) that `key` is: `401 invalid_api_key` otherwise (one answer for all three). */
export async function findApiKey(db: Database, key: string, at = now()): Promise<ApiKeyContext> {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, sha256Hex(key)), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, at))));
  if (!row) throw new AppError(401, "invalid_api_key", "Unknown, revoked or expired API key");
  return { id: row.id, scopes: scopesOf(row) };
}

/** `403 scope_required` unless the key has `scope`. */
export function assertScope(key: ApiKeyContext, scope: ApiKeyScope): void {
  if (!key.scopes.includes(scope)) throw new AppError(403, "scope_required", `This API key lacks the ${scope} scope`, { required: scope });
}

/**
 * Run the rest of a request made with `key` and record it, refusals included (the status of the
 * error they throw). `act` checks what the route needs first and answers the user acted as.
 */
export async function auditedUse(c: Context<AppEnv>, key: ApiKeyContext, act: () => Promise<string | null>, next: () => Promise<void>) {
  let actingUserId: string | null = null;
  try {
    actingUserId = await act();
    c.set("apiKey", key);
    await next();
  } catch (err) {
    await auditApiKeyUse(c, key, actingUserId, err instanceof AppError ? err.status : 500);
    throw err;
  }
  await auditApiKeyUse(c, key, actingUserId);
}

export const scopesOf = (row: Pick<ApiKeyRow, "scopes">) => JSON.parse(row.scopes) as ApiKeyScope[];

/**
 * The user a key acts as (`X-On-Behalf-Of`): an account that may sign in (`403` like a sign-in
 * would otherwise; `404` for no such user, `400` without the header).
 */
export async function actingUser(db: Database, userId: string | undefined): Promise<UserRow> {
  if (!userId) throw new AppError(400, "on_behalf_of_required", "An API key acts as a user here: send X-On-Behalf-Of: <user id>");
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user || user.status === "deleted") throw new AppError(404, "not_found", "No such user", { header: ON_BEHALF_OF });
  assertCanSignIn(user);
  return user;
}

/**
 * Record the request made with a key (append-only) and its last use (at most once a minute).
 * Awaited before the answer leaves, so no use goes unrecorded; a failure to record is logged.
 */
export async function auditApiKeyUse(
  c: Context<AppEnv>,
  key: ApiKeyContext,
  actingUserId: string | null,
  status = c.res.status,
): Promise<void> {
  const at = now();
  const db = c.var.db;
  try {
    await db.batch([
      db.insert(apiKeyUses).values({
        id: newId(),
        keyId: key.id,
        actingUserId,
        method: c.req.method,
        path: new URL(c.req.url).pathname,
        status,
        ip: requestInfo(c).ip,
        createdAt: at,
      }),
      db
        .update(apiKeys)
        .set({ lastUsedAt: at })
        .where(and(eq(apiKeys.id, key.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, at - LAST_USED_INTERVAL_MS)))),
    ]);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "api key audit failed", keyId: key.id, error: String(err) }));
  }
}

/**
 * Routes for the app's backend only (`/platform/…`): an API key with `scope`, acting as nobody.
 * Sets `c.var.apiKey`; every use is recorded, refused ones too once the key is known.
 */
export function requireApiKey(scope: ApiKeyScope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = apiKeyFromHeader(c.req.header("authorization"));
    if (!key) throw new AppError(401, "unauthorized", "Authorization header must be 'ApiKey <key>'");
    const found = await findApiKey(c.var.db, key);
    await auditedUse(
      c,
      found,
      async () => {
        assertScope(found, scope);
        return null;
      },
      next,
    );
  };
}
