import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { adminOrApiKeySecurity, bearerSecurity, errorResponses, json, jsonBody, newRouter } from "../lib/openapi";
import { setAttributes } from "./attributes";
import { listAudit } from "./audit";
import { requireAdminOrApiKey, requireRole } from "./middleware";
import { adminUserView, applyAccountAction, setRole } from "./moderation";
import { adminReportView, listReports, resolveReport } from "./reports";
import * as s from "./schemas";
import { getStats, searchAdminUsers } from "./service";

// Every route: a bearer token (401 without), then the role check (404 `not_found` for anyone
// without the role, exactly like an unknown route). Moderators get the reports queue only.
const tags = ["Admin"];
const auth = requireAuth();
const admin = [auth, requireRole("admin")];
const staff = [auth, requireRole("moderator")];
const ADMIN_ONLY = "Role `admin`; anyone else gets `404 not_found`. ";
const STAFF = "Role `moderator` or `admin`; anyone else gets `404 not_found`. ";

const app = newRouter();

app.openapi(
  createRoute({
    method: "get",
    path: "/stats",
    operationId: "adminGetStats",
    tags,
    summary: "Totals: users (total, new, active), chats, messages, stories, open reports",
    description: `${ADMIN_ONLY}From exact counters and index range counts, never table scans.`,
    security: bearerSecurity,
    middleware: admin,
    responses: { 200: json(s.Stats), ...errorResponses(401, 404, 503) },
  }),
  async (c) => c.json(await getStats(c.var.db), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/users",
    operationId: "adminListUsers",
    tags,
    summary: "Find accounts by id, email, phone or username prefix, and by status and attributes",
    description:
      `${ADMIN_ONLY}Includes deleted, suspended, banned and deactivated accounts, email and phone. Filters (status, ` +
      "verified, creator, kycStatus, tier, lifecycle) combine; each has its own index.",
    security: bearerSecurity,
    middleware: admin,
    request: { query: s.AdminUserQuery },
    responses: { 200: json(s.AdminUserPage), ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => c.json(await searchAdminUsers(c.var.db, c.req.valid("query")), 200),
);

const accountErrors = errorResponses(400, 401, 403, 404, 413, 415, 503);
const accountRules =
  "Not for your own account (`400 cannot_target_self`) nor another admin's (`403 insufficient_role`); " +
  "an unknown or deleted account is `404 not_found`. Audited. ";

app.openapi(
  createRoute({
    method: "post",
    path: "/users/{id}/suspend",
    operationId: "adminSuspendUser",
    tags,
    summary: "Suspend an account until a time (or indefinitely), ending its sessions",
    description:
      ADMIN_ONLY +
      accountRules +
      "Every session ends at once (access tokens answer `401 session_revoked`, refresh tokens stop working); " +
      "sign-in answers `403 account_suspended` with `details: {until, reason}` until the time passes.",
    security: bearerSecurity,
    middleware: admin,
    request: { params: s.UserIdParam, body: jsonBody(s.SuspendBody) },
    responses: { 200: json(z.object({ user: s.AdminUser })), ...accountErrors },
  }),
  async (c) => {
    const { until, reason } = c.req.valid("json");
    const user = await applyAccountAction(c.var.db, c.env, c.var.staff, c.req.valid("param").id, {
      kind: "suspend",
      until: until ?? null,
      reason,
    });
    return c.json({ user: adminUserView(user) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/users/{id}/ban",
    operationId: "adminBanUser",
    tags,
    summary: "Ban an account, ending its sessions",
    description: `${ADMIN_ONLY + accountRules}Every session ends at once; sign-in answers \`403 account_banned\` with \`details: {reason}\`.`,
    security: bearerSecurity,
    middleware: admin,
    request: { params: s.UserIdParam, body: jsonBody(s.BanBody) },
    responses: { 200: json(z.object({ user: s.AdminUser })), ...accountErrors },
  }),
  async (c) => {
    const user = await applyAccountAction(c.var.db, c.env, c.var.staff, c.req.valid("param").id, {
      kind: "ban",
      reason: c.req.valid("json").reason,
    });
    return c.json({ user: adminUserView(user) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/users/{id}/restore",
    operationId: "adminRestoreUser",
    tags,
    summary: "Lift a suspension or ban",
    description:
      ADMIN_ONLY +
      accountRules +
      "An account that is neither suspended nor banned is `409 account_not_restricted` (a deactivated one is reactivated " +
      "with POST /admin/users/{id}/reactivate). The owner signs in again.",
    security: bearerSecurity,
    middleware: admin,
    request: { params: s.UserIdParam },
    responses: { 200: json(z.object({ user: s.AdminUser })), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const user = await applyAccountAction(c.var.db, c.env, c.var.staff, c.req.valid("param").id, { kind: "restore" });
    return c.json({ user: adminUserView(user) }, 200);
  },
);

/** Switching an account off and on again (the owner can too: POST /users/me/deactivate, login with `reactivate`). */
const ACTIVATION_ROUTES = [
  {
    kind: "deactivate",
    operationId: "adminDeactivateUser",
    summary: "Deactivate an account (kept, reversible), ending its sessions",
    text:
      "Only an active account (else `409 account_not_active`). As when the owner deactivates it: every session ends at " +
      "once, sign-in answers `403 account_deactivated` (a password sign-in with `reactivate: true` switches it on " +
      "again), it leaves user search and contact sync, and others see it as they see a suspended account.",
  },
  {
    kind: "reactivate",
    operationId: "adminReactivateUser",
    summary: "Reactivate a deactivated account",
    text: "Only a deactivated account (else `409 account_not_deactivated`). The owner signs in again.",
  },
] as const;

for (const route of ACTIVATION_ROUTES) {
  app.openapi(
    createRoute({
      method: "post",
      path: `/users/{id}/${route.kind}`,
      operationId: route.operationId,
      tags,
      summary: route.summary,
      description: ADMIN_ONLY + accountRules + route.text,
      security: bearerSecurity,
      middleware: admin,
      request: { params: s.UserIdParam },
      responses: { 200: json(z.object({ user: s.AdminUser })), ...errorResponses(400, 401, 403, 404, 409, 503) },
    }),
    async (c) => {
      const user = await applyAccountAction(c.var.db, c.env, c.var.staff, c.req.valid("param").id, { kind: route.kind });
      return c.json({ user: adminUserView(user) }, 200);
    },
  );
}

app.openapi(
  createRoute({
    method: "post",
    path: "/users/{id}/role",
    operationId: "adminSetUserRole",
    tags,
    summary: "Make an account a user, moderator or admin",
    description: `${ADMIN_ONLY + accountRules}How admins after the first (from ADMIN_USERNAMES) are made.`,
    security: bearerSecurity,
    middleware: admin,
    request: { params: s.UserIdParam, body: jsonBody(s.SetRoleBody) },
    responses: { 200: json(z.object({ user: s.AdminUser })), ...accountErrors },
  }),
  async (c) => {
    const user = await setRole(c.var.db, c.var.staff, c.req.valid("param").id, c.req.valid("json").role);
    return c.json({ user: adminUserView(user) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "patch",
    path: "/users/{id}/attributes",
    operationId: "adminSetUserAttributes",
    tags,
    summary: "Set an account's verified badge, creator flag, KYC status, tier, lifecycle state or metadata",
    description:
      "Role `admin` (anyone else gets `404 not_found`), or the app's backend with an API key of scope `users:write` " +
      "(ordinary accounts only: staff answer `403 staff_account`; audited with `actorType: api_key`). " +
      accountRules +
      "Partial: attributes left out keep their values. No user route can set these. Public profiles show `verified` and " +
      "`creator`; the user's own profile and admin views show all five; `metadata` is the user's public metadata (as " +
      "PATCH /users/me sets it). The audit entry (`set_attributes`) holds `{before, after}` of what changed; a change " +
      "that lost a race with another is `409 conflict` and writes nothing.",
    security: adminOrApiKeySecurity("users:write"),
    middleware: [requireAdminOrApiKey("users:write")] as const,
    request: { params: s.UserIdParam, body: jsonBody(s.AttributesBody) },
    responses: { 200: json(z.object({ user: s.AdminUser })), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
  }),
  async (c) => {
    const key = c.get("apiKey");
    const actor = key ? { apiKeyId: key.id } : { staff: c.var.staff };
    const user = await setAttributes(c.var.db, actor, c.req.valid("param").id, c.req.valid("json"));
    return c.json({ user: adminUserView(user) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/reports",
    operationId: "adminListReports",
    tags,
    summary: "The reports queue",
    description: `${STAFF}\`status=open\` (default) lists oldest first; resolved and dismissed ones newest first.`,
    security: bearerSecurity,
    middleware: staff,
    request: { query: s.ReportQuery },
    responses: { 200: json(s.AdminReportPage), ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => c.json(await listReports(c.var.db, c.req.valid("query")), 200),
);

app.openapi(
  createRoute({
    method: "post",
    path: "/reports/{id}/resolve",
    operationId: "adminResolveReport",
    tags,
    summary: "Close a report with an action",
    description:
      STAFF +
      "`dismiss`, `warn`, `remove_content` (clears a reported user's profile content; recorded for other targets), " +
      "`suspend_user` (optional `until`), `ban_user` (admins only, else `403 insufficient_role`). Suspend and ban apply " +
      "to user reports only (`400 action_not_applicable`) with the same rules and effects as the account routes. " +
      "A report already closed is `409 report_closed`. Audited.",
    security: bearerSecurity,
    middleware: staff,
    request: { params: s.ReportIdParam, body: jsonBody(s.ResolveBody) },
    responses: { 200: json(z.object({ report: s.AdminReport })), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
  }),
  async (c) => {
    const report = await resolveReport(c.var.db, c.env, c.var.staff, c.req.valid("param").id, c.req.valid("json"));
    return c.json({ report: adminReportView(report) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/audit-log",
    operationId: "adminListAuditLog",
    tags,
    summary: "Every admin action, newest first",
    description: `${ADMIN_ONLY}Append-only: the database refuses to change or delete entries.`,
    security: bearerSecurity,
    middleware: admin,
    request: { query: s.AuditQuery },
    responses: { 200: json(s.AuditPage), ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => c.json(await listAudit(c.var.db, c.req.valid("query")), 200),
);

export default app;
