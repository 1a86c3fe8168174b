import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, isNull, lt } from "drizzle-orm";
import { newApiKey, scopesOf } from "../auth/api-keys";
import type { Database } from "../db/client";
import { API_KEY_SCOPES, type ApiKeyRow, type ApiKeyScope, apiKeys, apiKeyUses } from "../db/schema";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { newestFirst } from "../lib/pagination";
import { DAY, HOUR, iso, now } from "../lib/time";
import { auditStatement } from "./audit";

/** Admins create, list and revoke the app backend's API keys (auth/api-keys.ts checks them). */

export const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().openapi({ description: "The key's first 12 characters, to tell keys apart" }),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    lastUsedAt: z.string().nullable().openapi({ description: "Updated at most once a minute" }),
    revokedAt: z.string().nullable(),
  })
  .openapi("ApiKey");

export const apiKeyView = (r: ApiKeyRow): z.infer<typeof ApiKeySchema> => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  scopes: scopesOf(r),
  createdBy: r.createdBy,
  createdAt: iso(r.createdAt)!,
  expiresAt: iso(r.expiresAt),
  lastUsedAt: iso(r.lastUsedAt),
  revokedAt: iso(r.revokedAt),
});

/** Create a key (audited); answers its row and the key itself, which is never shown again. */
export async function createApiKey(db: Database, actorId: string, input: { name: string; scopes: ApiKeyScope[]; expiresAt?: string }) {
  const at = now();
  const expiresAt = input.expiresAt ? Date.parse(input.expiresAt) : null;
  if (expiresAt !== null && expiresAt <= at) throw new AppError(400, "validation_failed", "expiresAt must be in the future");
  const { key, prefix, hash } = newApiKey();
  const row: ApiKeyRow = {
    id: newId(),
    name: input.name,
    prefix,
    keyHash: hash,
    scopes: JSON.stringify([...new Set(input.scopes)].sort()),
    createdBy: actorId,
    createdAt: at,
    expiresAt,
    lastUsedAt: null,
    revokedAt: null,
  };
  await db.batch([
    db.insert(apiKeys).values(row),
    auditStatement(db, {
      actorId,
      action: "create_api_key",
      targetType: "api_key",
      targetId: row.id,
      details: { name: row.name, scopes: scopesOf(row) },
    }),
  ]);
  return { apiKey: apiKeyView(row), key };
}

/** Every key, newest first, revoked ones too. */
export async function listApiKeys(db: Database) {
  return (await db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt))).map(apiKeyView);
}

/** Revoke a key at once (audited); a revoked or unknown key is `404 not_found`. */
export async function revokeApiKey(db: Database, actorId: string, id: string): Promise<void> {
  const live = and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt));
  // The audit row first: its guard must see the key still live.
  const [, revoked] = await db.batch([
    auditStatement(db, { actorId, action: "revoke_api_key", targetType: "api_key", targetId: id }, { from: apiKeys, where: live }),
    db.update(apiKeys).set({ revokedAt: now() }).where(live).returning({ id: apiKeys.id }),
  ]);
  if (revoked.length === 0) throw new AppError(404, "not_found", "No such API key");
}

/** A key's uses, newest first (keyset on its index). */
export async function listApiKeyUses(db: Database, keyId: string, limit: number, cursor?: string) {
  const [key] = await db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, keyId));
  if (!key) throw new AppError(404, "not_found", "No such API key");
  return newestFirst(
    cursor,
    limit,
    (beforeId, take) =>
      db
        .select()
        .from(apiKeyUses)
        .where(and(eq(apiKeyUses.keyId, keyId), beforeId ? lt(apiKeyUses.id, beforeId) : undefined))
        .orderBy(desc(apiKeyUses.id))
        .limit(take),
    (r) => ({
      id: r.id,
      actingUserId: r.actingUserId,
      method: r.method,
      path: r.path,
      status: r.status,
      ip: r.ip,
      createdAt: iso(r.createdAt)!,
    }),
  );
}

/** Records of key uses are kept this long (the table's delete trigger refuses younger rows). */
export const API_KEY_USE_RETENTION_MS = 90 * DAY;
/** The sweep leaves an hour more than the trigger asks, so clock skew between the Worker and D1 never aborts it. */
const PRUNE_MARGIN_MS = HOUR;
/** Rows one statement deletes at most; a sweep repeats it while full, for up to PRUNE_BUDGET_MS. */
const PRUNE_BATCH = 5000;
const PRUNE_BUDGET_MS = 20_000;

/**
 * Drop records of key uses older than the retention (hourly cron; on api_key_uses_created_idx), in
 * batches until none is left or the time budget is spent, so a busy backend's uses never pile up.
 */
export async function pruneApiKeyUses(db: Database, at: number): Promise<{ apiKeyUses: number }> {
  const started = Date.now();
  let total = 0;
  for (;;) {
    const old = db
      .select({ id: apiKeyUses.id })
      .from(apiKeyUses)
      .where(lt(apiKeyUses.createdAt, at - API_KEY_USE_RETENTION_MS - PRUNE_MARGIN_MS))
      .limit(PRUNE_BATCH);
    const gone = await db.delete(apiKeyUses).where(inArray(apiKeyUses.id, old)).returning({ id: apiKeyUses.id });
    total += gone.length;
    if (gone.length < PRUNE_BATCH || Date.now() - started > PRUNE_BUDGET_MS) return { apiKeyUses: total };
  }
}
