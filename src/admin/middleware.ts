import { and, eq, ne, sql } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import { apiKeyFromHeader, requireApiKey } from "../auth/api-keys";
import { requireAuth } from "../auth/middleware";
import type { Database } from "../db/client";
import type { ApiKeyScope } from "../db/schema";
import { users } from "../db/schema";
import type { AppEnv, Bindings } from "../env";
import { AppError } from "../lib/errors";
import { type AuditActor, auditStatement } from "./audit";
import { ROLE_RANK } from "./moderation";

/** Exactly what an unknown route answers (app.ts notFound): staff routes do not reveal themselves. */
const noSuchRoute = () => new AppError(404, "not_found", "No such route");

/** The usernames in ADMIN_USERNAMES (comma-separated, case-insensitive). */
export function bootstrapUsernames(env: Pick<Bindings, "ADMIN_USERNAMES">): string[] {
  return (env.ADMIN_USERNAMES ?? "")
    .split(",")
    .map((s) => s.trim().replace(/^@/, "").toLowerCase())
    .filter(Boolean);
}

/** No active admin exists yet. (Raw SQL with an alias: the subquery reads the table the UPDATE writes.) */
const noActiveAdmin = sql`NOT EXISTS (SELECT 1 FROM users AS admins WHERE admins.role = 'admin' AND admins.status = 'active')`;

/**
 * Make the configured account the first admin: the only way to get the first one (never an API
 * call). Happens only while no active admin exists, so once there is one a username freed by a
 * rename, or an admin demoted later, cannot be promoted through the configuration. The role
 * change and its `bootstrap_admin` audit row (actor = the account itself) are one transaction,
 * both guarded by that condition, so concurrent requests promote and audit once. Returns whether
 * the account is an admin now.
 */
export async function bootstrapAdmin(db: Database, userId: string): Promise<boolean> {
  const notYet = and(eq(users.id, userId), ne(users.role, "admin"), eq(users.status, "active"), noActiveAdmin);
  const [, promoted] = await db.batch([
    auditStatement(
      db,
      { actorId: userId, action: "bootstrap_admin", targetType: "user", targetId: userId, details: { source: "ADMIN_USERNAMES" } },
      { from: users, where: notYet },
    ),
    db.update(users).set({ role: "admin" }).where(notYet).returning({ id: users.id }),
  ]);
  if (promoted.length > 0) return true;
  // A concurrent request of the same account may have promoted it a moment ago.
  const [current] = await db.select({ role: users.role }).from(users).where(eq(users.id, userId));
  return current?.role === "admin";
}

/**
 * Staff only: after requireAuth, load the caller and let through `moderator` routes for
 * moderators and admins, `admin` routes for admins. Anyone else gets `404 not_found`, exactly
 * like an unknown route. A caller listed in ADMIN_USERNAMES is bootstrapped first (see
 * bootstrapAdmin). Sets `c.var.staff`.
 */
export function requireRole(min: "moderator" | "admin"): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const db = c.var.db;
    const [me] = await db
      .select({ id: users.id, username: users.username, role: users.role, status: users.status })
      .from(users)
      .where(eq(users.id, c.var.auth.userId));
    if (me?.status !== "active") throw noSuchRoute();
    let role = me.role;
    if (role !== "admin" && bootstrapUsernames(c.env).includes(me.username) && (await bootstrapAdmin(db, me.id))) {
      role = "admin";
    }
    if (role === "user" || ROLE_RANK[role] < ROLE_RANK[min]) throw noSuchRoute();
    c.set("staff", { userId: me.id, role });
    await next();
  };
}

/**
 * An admin's bearer token (`requireRole("admin")`: anyone else gets `404`, a bot token `403
 * bot_not_allowed`), or the app's backend
 * with an API key that has `scope` (`requireApiKey`). Sets `c.var.staff` or `c.var.apiKey`; the
 * audit names whichever acted (auditActorOf).
 */
export function requireAdminOrApiKey(scope: ApiKeyScope): MiddlewareHandler<AppEnv> {
  const auth = requireAuth({ allowBots: false });
  const admin = requireRole("admin");
  const key = requireApiKey(scope);
  return async (c, next) => {
    if (apiKeyFromHeader(c.req.header("authorization"))) return key(c, next);
    await auth(c, async () => {
      await admin(c, next);
    });
  };
}

/** Who the audit records for a request that passed requireAdminOrApiKey (or requireRole). */
export function auditActorOf(c: Context<AppEnv>): AuditActor {
  const key = c.get("apiKey");
  return key ? { actorType: "api_key", actorId: key.id } : { actorType: "user", actorId: c.var.staff.userId };
}
