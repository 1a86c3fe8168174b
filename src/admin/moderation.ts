import { and, eq, inArray } from "drizzle-orm";
import { recordEvent } from "../auth/security-events";
import { revokeUserSessions } from "../auth/sessions";
import { accountNotActive } from "../auth/standing";
import type { Database } from "../db/client";
import type { UserRow } from "../db/schema";
import { reports, users } from "../db/schema";
import type { Bindings, StaffContext } from "../env";
import { AppError } from "../lib/errors";
import { publishEvent } from "../lib/events";
import { parseJsonObject } from "../lib/json-object";
import { iso, now } from "../lib/time";
import { attributesView } from "../users/attributes";
import { auditStatement, type Guard, guardHolds } from "./audit";

export type Role = UserRow["role"];

/** Higher outranks lower: staff act only on accounts of a lower role. */
export const ROLE_RANK: Record<Role, number> = { user: 0, moderator: 1, admin: 2 };

/** What can be done to an account. `until` null means an indefinite suspension. */
export type AccountAction =
  | { kind: "suspend"; until: number | null; reason: string }
  | { kind: "ban"; reason: string }
  | { kind: "restore" }
  | { kind: "deactivate" }
  | { kind: "reactivate" }
  | { kind: "remove_content" };

const AUDIT_ACTION = {
  suspend: "suspend_user",
  ban: "ban_user",
  restore: "restore_user",
  deactivate: "deactivate_user",
  reactivate: "reactivate_user",
  remove_content: "remove_profile_content",
} as const;

/**
 * The statuses an action applies to, and the error when the account is in another one. The
 * action's batch is guarded by it, so a concurrent change of status wins and this error answers.
 */
const REQUIRED_STATUS: Partial<Record<AccountAction["kind"], { from: UserRow["status"][]; error: () => AppError }>> = {
  restore: {
    from: ["suspended", "banned"],
    error: () => new AppError(409, "account_not_restricted", "This account is not suspended or banned"),
  },
  deactivate: { from: ["active"], error: accountNotActive },
  reactivate: { from: ["deactivated"], error: () => new AppError(409, "account_not_deactivated", "This account is not deactivated") },
};

/**
 * The account a staff member wants to act on: `404 not_found` when it does not exist or was
 * deleted, `400 cannot_target_self` for their own, `403 insufficient_role` unless the actor's role
 * outranks the target's (admins act on moderators and users, moderators on users only).
 */
export async function loadModerationTarget(db: Database, actor: StaffContext, userId: string): Promise<UserRow> {
  const [target] = await db.select().from(users).where(eq(users.id, userId));
  if (!target || target.status === "deleted") throw new AppError(404, "not_found", "User not found");
  if (target.id === actor.userId) throw new AppError(400, "cannot_target_self", "You cannot do this to your own account");
  if (ROLE_RANK[actor.role] <= ROLE_RANK[target.role]) {
    throw new AppError(403, "insufficient_role", `A ${actor.role} cannot act on an account with the role ${target.role}`);
  }
  return target;
}

/** The column changes an action makes. */
function changesFor(action: AccountAction, target: UserRow, at: number): Partial<UserRow> {
  switch (action.kind) {
    case "suspend":
      return { status: "suspended", suspendedUntil: action.until, moderationReason: action.reason, updatedAt: at };
    case "ban":
      return { status: "banned", suspendedUntil: null, moderationReason: action.reason, updatedAt: at };
    case "restore":
    case "reactivate":
      return { status: "active", suspendedUntil: null, moderationReason: null, updatedAt: at };
    case "deactivate":
      return { status: "deactivated", updatedAt: at };
    case "remove_content":
      // The free-form profile content; the display name falls back to the username.
      return {
        displayName: target.username,
        bio: null,
        links: null,
        avatarMediaId: null,
        statusText: null,
        statusEmoji: null,
        statusExpiresAt: null,
        // The user may write their metadata themselves, so it is profile content too.
        metadata: null,
        updatedAt: at,
      };
  }
}

/**
 * The batch statements of an account action: its audit row, then the UPDATE (returning the new
 * row). With `guard` both only happen if the guard holds when the batch runs (see auditStatement).
 */
export function accountActionStatements(
  db: Database,
  actor: StaffContext,
  target: UserRow,
  action: AccountAction,
  extra: { guard?: Guard; details?: Record<string, unknown> } = {},
) {
  const details: Record<string, unknown> = { previousStatus: target.status, ...extra.details };
  if (action.kind === "suspend") Object.assign(details, { until: iso(action.until), reason: action.reason });
  if (action.kind === "ban") details.reason = action.reason;
  const where = extra.guard ? and(eq(users.id, target.id), guardHolds(db, extra.guard)) : eq(users.id, target.id);
  return [
    auditStatement(
      db,
      { actorId: actor.userId, action: AUDIT_ACTION[action.kind], targetType: "user", targetId: target.id, details },
      extra.guard,
    ),
    db
      .update(users)
      .set(changesFor(action, target, now()))
      .where(where)
      .returning(),
  ] as const;
}

/** After a suspension, ban or deactivation: end every session at once (live sockets, D1 and the KV deny-list). */
export async function endSessionsFor(db: Database, env: Bindings, userId: string, action: AccountAction): Promise<void> {
  if (action.kind === "suspend") await revokeUserSessions(db, env, userId, "account_suspended");
  if (action.kind === "ban") await revokeUserSessions(db, env, userId, "account_banned");
  if (action.kind === "deactivate") await revokeUserSessions(db, env, userId, "account_deactivated");
}

/**
 * Suspend, ban, restore, deactivate or reactivate an account and record it in the audit log in the
 * same transaction. Suspensions, bans and deactivations end all the account's sessions at once
 * (its access tokens answer `401 session_revoked`, its refresh tokens stop working) and sign-in
 * answers `403 account_suspended` / `account_banned` / `account_deactivated`. Restoring an account
 * that is not suspended or banned is `409 account_not_restricted`; deactivating one that is not
 * active `409 account_not_active`; reactivating one that is not deactivated `409
 * account_not_deactivated` (also when a concurrent change of status won). The owner is told of a
 * deactivation or reactivation in their security events.
 */
export async function applyAccountAction(
  db: Database,
  env: Bindings,
  actor: StaffContext,
  userId: string,
  action: AccountAction,
): Promise<UserRow> {
  const target = await loadModerationTarget(db, actor, userId);
  const required = REQUIRED_STATUS[action.kind];
  if (required && !required.from.includes(target.status)) throw required.error();
  const guard = required ? { from: users, where: and(eq(users.id, target.id), inArray(users.status, required.from)) } : undefined;
  const [, updated] = await db.batch(accountActionStatements(db, actor, target, action, { guard }));
  if (!updated[0]) throw required ? required.error() : new AppError(404, "not_found", "User not found");
  await endSessionsFor(db, env, userId, action);
  if (action.kind === "deactivate" || action.kind === "reactivate") {
    await recordEvent(
      db,
      userId,
      action.kind === "deactivate" ? "account_deactivated" : "account_reactivated",
      {},
      { details: { by: "admin" } },
    );
  }
  await publishEvent(env, `moderation.${action.kind}`, { userId, actorId: actor.userId });
  return updated[0];
}

/**
 * Give an account another role (admin only; audited as `set_role`). Admins' own roles and other
 * admins' roles are not changed here (`400 cannot_target_self`, `403 insufficient_role`).
 * Setting the role it already has changes nothing and writes no audit row.
 */
export async function setRole(db: Database, actor: StaffContext, userId: string, role: Role): Promise<UserRow> {
  const target = await loadModerationTarget(db, actor, userId);
  if (target.role === role) return target;
  const [, updated] = await db.batch([
    auditStatement(db, {
      actorId: actor.userId,
      action: "set_role",
      targetType: "user",
      targetId: target.id,
      details: { from: target.role, to: role },
    }),
    db.update(users).set({ role, updatedAt: now() }).where(eq(users.id, target.id)).returning(),
  ]);
  return updated[0]!;
}

/** An account as admins see it (email and phone included, whatever the privacy settings). */
export const adminUserView = (u: UserRow) => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  kind: u.kind,
  email: u.email,
  emailVerified: u.emailVerifiedAt != null,
  phone: u.phone,
  phoneVerified: u.phoneVerifiedAt != null,
  role: u.role,
  status: u.status,
  suspendedUntil: iso(u.suspendedUntil),
  moderationReason: u.moderationReason,
  ...attributesView(u),
  metadata: parseJsonObject(u.metadata),
  createdAt: iso(u.createdAt),
  lastSeenAt: iso(u.lastSeenAt),
  deletedAt: iso(u.deletedAt),
});

/** "The report is still open", as a guard for batch statements (see auditStatement). */
export const reportStillOpen = (reportId: string): Guard => ({
  from: reports,
  where: and(eq(reports.id, reportId), eq(reports.status, "open")),
});
