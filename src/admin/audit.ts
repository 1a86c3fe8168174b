import { z } from "@hono/zod-openapi";
import { and, desc, eq, exists, lt, type SQL, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import { adminAudit } from "../db/schema";
import { newId } from "../lib/ids";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";

/** Every kind of admin action the log records. */
export const AUDIT_ACTIONS = [
  "bootstrap_admin",
  "set_role",
  "suspend_user",
  "ban_user",
  "restore_user",
  "deactivate_user",
  "reactivate_user",
  "remove_profile_content",
  "resolve_report",
  "create_api_key",
  "revoke_api_key",
  "set_attributes",
  "create_webhook",
  "update_webhook",
  "delete_webhook",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who did an audited thing: a staff account (its id) or the app's backend (the API key's id). */
export interface AuditActor {
  actorType: "user" | "api_key";
  actorId: string;
}

export interface AuditEntry {
  actorId: string;
  /** Default `user`: a staff account. */
  actorType?: AuditActor["actorType"];
  action: AuditAction;
  targetType: "user" | "report" | "api_key" | "webhook";
  targetId: string;
  details?: Record<string, unknown>;
}

/**
 * A condition for batch statements: "a row of `from` matches `where`" when the batch runs. Used
 * to make an audit row and the change it records happen together or not at all.
 */
export interface Guard {
  from: SQLiteTable;
  where: SQL | undefined;
}

/** The guard as an SQL condition (EXISTS) for an UPDATE's WHERE. */
export const guardHolds = (db: Database, guard: Guard) => exists(db.select({ one: sql`1` }).from(guard.from).where(guard.where));

/**
 * The INSERT of one audit row, to run in the same D1 batch (one transaction) as the change it
 * records. With a guard the row is an INSERT … SELECT from the guard's table, so it is written
 * only if the guard holds when the batch runs; a change guarded the same way (guardHolds) and its
 * audit row happen together or not at all. The table is append-only: triggers refuse UPDATE and
 * DELETE (migration 0003).
 */
export function auditStatement(db: Database, entry: AuditEntry, guard?: Guard) {
  const row = {
    id: newId(),
    actorId: entry.actorId,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    details: entry.details ? JSON.stringify(entry.details) : null,
    createdAt: now(),
    actorType: entry.actorType ?? "user",
  };
  if (!guard) return db.insert(adminAudit).values(row);
  // Same order as the table's columns: INSERT … SELECT maps them by position.
  const values = db
    .select({
      id: sql<string>`${row.id}`.as("id"),
      actorId: sql<string>`${row.actorId}`.as("actor_id"),
      action: sql<string>`${row.action}`.as("action"),
      targetType: sql<string>`${row.targetType}`.as("target_type"),
      targetId: sql<string>`${row.targetId}`.as("target_id"),
      details: sql<string | null>`${row.details}`.as("details"),
      createdAt: sql<number>`${row.createdAt}`.as("created_at"),
      actorType: sql<string>`${row.actorType}`.as("actor_type"),
    })
    .from(guard.from)
    .where(guard.where)
    .limit(1);
  return db.insert(adminAudit).select(values);
}

type AuditRow = typeof adminAudit.$inferSelect;

/** An audit entry as the API shows it (details parsed back from JSON). */
export const auditView = (r: AuditRow) => ({
  id: r.id,
  actorType: r.actorType,
  actorId: r.actorId,
  action: r.action,
  targetType: r.targetType,
  targetId: r.targetId,
  details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
  createdAt: iso(r.createdAt),
});

const AuditCursor = z.object({ i: z.string().max(64) });

/**
 * The audit log, newest first (ids are UUIDv7, so id order is time order), keyset-paginated on
 * id through the primary key; optionally only the entries about one target (admin_audit_target_idx).
 */
export async function listAudit(db: Database, input: { limit: number; cursor?: string; targetType?: string; targetId?: string }) {
  const after = decodeCursor(input.cursor, AuditCursor);
  const conditions = [];
  if (input.targetId) conditions.push(eq(adminAudit.targetId, input.targetId));
  if (input.targetType) conditions.push(eq(adminAudit.targetType, input.targetType));
  if (after) conditions.push(lt(adminAudit.id, after.i));
  const rows = await db
    .select()
    .from(adminAudit)
    .where(and(...conditions))
    .orderBy(desc(adminAudit.id))
    .limit(input.limit + 1);
  return page(rows, input.limit, auditView, (r) => ({ i: r.id }));
}
