import { and, eq, type SQL, sql } from "drizzle-orm";
import { assertNotStaff } from "../auth/api-keys";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { users } from "../db/schema";
import type { StaffContext } from "../env";
import { AppError } from "../lib/errors";
import { type JsonObject, parseJsonObject } from "../lib/json-object";
import { now } from "../lib/time";
import { type AuditActor, auditStatement, type Guard } from "./audit";
import { loadModerationTarget } from "./moderation";

/** What an admin may set on an account (PATCH /admin/users/{id}/attributes); every field optional. */
export interface AttributesPatch {
  verified?: boolean;
  creator?: boolean;
  kycStatus?: UserRow["kycStatus"];
  tier?: number;
  lifecycle?: UserRow["lifecycle"];
  metadata?: JsonObject | null;
}

type Field = keyof AttributesPatch;
const COLUMNS = {
  verified: users.verified,
  creator: users.creator,
  kycStatus: users.kycStatus,
  tier: users.tier,
  lifecycle: users.lifecycle,
  metadata: users.metadata,
} as const;

/** The value as stored in the row (metadata as its JSON text). */
const stored = (field: Field, value: AttributesPatch[Field]) =>
  field === "metadata" ? (value === null ? null : JSON.stringify(value)) : (value as UserRow[Exclude<Field, "metadata">]);

/** The row's value as the API and the audit log show it. */
const shown = (field: Field, row: UserRow) => (field === "metadata" ? parseJsonObject(row.metadata) : row[field]);

/** Who sets attributes: an admin (with moderation's rank checks) or the app's backend with an API key (`users:write`). */
export type AttributesActor = { staff: StaffContext } | { apiKeyId: string };

/** An account an API key may set attributes on: an ordinary one (`404` for none or deleted, `403 staff_account` for staff). */
async function loadKeyTarget(db: Database, userId: string): Promise<UserRow> {
  const [target] = await db.select().from(users).where(eq(users.id, userId));
  if (!target || target.status === "deleted") throw new AppError(404, "not_found", "User not found");
  assertNotStaff(target);
  return target;
}

/**
 * Set admin-managed attributes (and metadata) of an account: for an admin, the same targets as the
 * moderation routes (`404 not_found` for unknown or deleted accounts, `400 cannot_target_self`,
 * `403 insufficient_role` for staff of equal or higher role); for an API key, ordinary accounts. Fields sent with the value they already
 * have change nothing; with nothing to change, nothing is written, not even an audit row. The
 * change and its `set_attributes` audit row (`{before, after}` of the fields that change) are one
 * transaction, and both happen only while those fields still hold the values read, so the audit
 * never records a `before` that a concurrent change made wrong (then `409 conflict`: try again).
 */
export async function setAttributes(db: Database, actor: AttributesActor, userId: string, patch: AttributesPatch): Promise<UserRow> {
  const target = "staff" in actor ? await loadModerationTarget(db, actor.staff, userId) : await loadKeyTarget(db, userId);
  const auditActor: AuditActor =
    "staff" in actor ? { actorType: "user", actorId: actor.staff.userId } : { actorType: "api_key", actorId: actor.apiKeyId };
  const fields = (Object.keys(patch) as Field[]).filter((f) => patch[f] !== undefined && stored(f, patch[f]) !== target[f]);
  if (fields.length === 0) return target;

  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const changes: Partial<UserRow> = { updatedAt: now() };
  const unchanged: SQL[] = [eq(users.id, target.id)];
  for (const field of fields) {
    before[field] = shown(field, target);
    after[field] = patch[field];
    Object.assign(changes, { [field]: stored(field, patch[field]) });
    const current = target[field];
    unchanged.push(sql`${COLUMNS[field]} IS ${typeof current === "boolean" ? Number(current) : current}`);
  }
  const guard: Guard = { from: users, where: and(...unchanged) };
  const [, updated] = await db.batch([
    auditStatement(
      db,
      { ...auditActor, action: "set_attributes", targetType: "user", targetId: target.id, details: { before, after } },
      guard,
    ),
    db.update(users).set(changes).where(guard.where).returning(),
  ]);
  if (!updated[0]) throw new AppError(409, "conflict", "The account changed meanwhile; read it again and retry");
  return updated[0];
}
