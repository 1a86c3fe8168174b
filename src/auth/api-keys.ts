import { and, eq, isNull, lt, or } from "drizzle-orm";
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

/**
 * Authenticate `key` for a route that takes keys with `scope` (null: a route that takes none).
 * Answers the live key; refuses an unknown one with `401 invalid_api_key`, and a known one that is
 * revoked or expired (401), lacks the scope (`403 scope_required`) or came to a route without keys
 * (`403 api_key_not_allowed`) after recording the refusal against it: a leaked key probing leaves a trace.
 */
export async function authenticateApiKey(c: Context<AppEnv>, key: string, scope: ApiKeyScope | null, at = now()): Promise<ApiKeyContext> {
  const [row] = await c.var.db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, sha256Hex(key)));
  if (!row) throw new AppError(401, "invalid_api_key", "Unknown, revoked or expired API key");
  const found: ApiKeyContext = { id: row.id, scopes: scopesOf(row) };
  let refusal: AppError | null = null;
  if (row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= at)) {
    refusal = new AppError(401, "invalid_api_key", "Unknown, revoked or expired API key");
  } else if (scope === null) refusal = new AppError(403, "api_key_not_allowed", "This route does not take API keys");
  else if (!found.scopes.includes(scope))
    refusal = new AppError(403, "scope_required", `This API key lacks the ${scope} scope`, { required: scope });
  if (refusal) {
    await auditApiKeyUse(c, found, null, refusal.status);
    throw refusal;
  }
  return found;
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

/** The scopes stored on a key's row. */
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
  assertNotStaff(user);
  return user;
}

/** Keys act as and sign in ordinary accounts only: a moderator's or admin's powers are not the app backend's. */
export function assertNotStaff(user: Pick<UserRow, "role">): void {
  if (user.role !== "user") throw new AppError(403, "staff_account", "API keys cannot act as or sign in moderators and admins");
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
    const found = await authenticateApiKey(c, key, scope);
    await auditedUse(c, found, async () => null, next);
  };
}
