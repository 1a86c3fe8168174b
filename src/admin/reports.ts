import { z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gt, lt } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ReportRow } from "../db/schema";
import { reports } from "../db/schema";
import type { Bindings, StaffContext } from "../env";
import { AppError } from "../lib/errors";
import { publishEvent } from "../lib/events";
import { decodeCursor, page } from "../lib/pagination";
import { iso, now } from "../lib/time";
import { auditStatement } from "./audit";
import { type AccountAction, accountActionStatements, endSessionsFor, loadModerationTarget, reportStillOpen } from "./moderation";

export const RESOLVE_ACTIONS = ["dismiss", "warn", "remove_content", "suspend_user", "ban_user"] as const;
export type ResolveAction = (typeof RESOLVE_ACTIONS)[number];
export type ReportStatus = ReportRow["status"];

/** A report as moderators see it. */
export const adminReportView = (r: ReportRow) => ({
  id: r.id,
  reporterId: r.reporterId,
  targetType: r.targetType,
  targetId: r.targetId,
  chatId: r.chatId,
  reason: r.reason,
  details: r.details,
  status: r.status,
  resolutionAction: r.resolutionAction,
  resolutionNote: r.resolutionNote,
  resolvedBy: r.resolvedBy,
  resolvedAt: iso(r.resolvedAt),
  createdAt: iso(r.createdAt),
});

const ReportCursor = z.object({ i: z.string().max(64) });

/**
 * The reports queue: open reports oldest first (work the queue in order), closed ones newest
 * first. Keyset on id inside the status (reports_status_idx on (status, id)): no sort, no scan.
 */
export async function listReports(db: Database, input: { status: ReportStatus; limit: number; cursor?: string }) {
  const after = decodeCursor(input.cursor, ReportCursor);
  const oldestFirst = input.status === "open";
  const conditions = [eq(reports.status, input.status)];
  if (after) conditions.push(oldestFirst ? gt(reports.id, after.i) : lt(reports.id, after.i));
  const rows = await db
    .select()
    .from(reports)
    .where(and(...conditions))
    .orderBy(oldestFirst ? asc(reports.id) : desc(reports.id))
    .limit(input.limit + 1);
  return page(rows, input.limit, adminReportView, (r) => ({ i: r.id }));
}

export interface ResolveInput {
  action: ResolveAction;
  note?: string;
  /** For suspend_user: when the suspension ends (ms); absent = indefinitely. */
  until?: number;
}

/** The account action a resolution applies to a reported user, if any. */
function accountActionFor(input: ResolveInput, report: ReportRow): AccountAction | null {
  const reason = input.note ?? `Report ${report.id}: ${report.reason}`;
  switch (input.action) {
    case "suspend_user":
      return { kind: "suspend", until: input.until ?? null, reason };
    case "ban_user":
      return { kind: "ban", reason };
    case "remove_content":
      return report.targetType === "user" ? { kind: "remove_content" } : null;
    default:
      return null;
  }
}

/**
 * Close an open report (`dismiss` → status dismissed; anything else → resolved) and apply its
 * action. `suspend_user` and `ban_user` apply to user reports only (`400 action_not_applicable`
 * otherwise) through the same rules as the admin routes (no staff targets, sessions end);
 * `ban_user` needs an admin (`403 insufficient_role` for moderators). `remove_content` clears a
 * reported user's profile content; for chats, messages and stories it is recorded and will act
 * once those features exist, as `warn` will once users can be notified. The account change, its
 * audit row, the report's audit row and the report update run in one transaction, each guarded by
 * "the report is still open", so of two concurrent resolutions only one does anything; the other
 * (and any later one) gets `409 report_closed`.
 */
export async function resolveReport(db: Database, env: Bindings, actor: StaffContext, reportId: string, input: ResolveInput) {
  const [report] = await db.select().from(reports).where(eq(reports.id, reportId));
  if (!report) throw new AppError(404, "not_found", "Report not found");
  if (report.status !== "open") throw new AppError(409, "report_closed", `This report was already ${report.status}`);
  if ((input.action === "suspend_user" || input.action === "ban_user") && report.targetType !== "user") {
    throw new AppError(400, "action_not_applicable", `${input.action} applies to reports about users only`);
  }
  if (input.action === "ban_user" && actor.role !== "admin") {
    throw new AppError(403, "insufficient_role", "Only admins can ban accounts");
  }
  const accountAction = accountActionFor(input, report);
  const guard = reportStillOpen(report.id);
  const target = accountAction ? await loadModerationTarget(db, actor, report.targetId) : null;
  const accountStatements =
    target && accountAction ? accountActionStatements(db, actor, target, accountAction, { guard, details: { reportId: report.id } }) : [];

  const at = now();
  const status = input.action === "dismiss" ? "dismissed" : "resolved";
  // Every guarded statement runs before the report update that makes the guard false.
  const results = await db.batch([
    auditStatement(
      db,
      {
        actorId: actor.userId,
        action: "resolve_report",
        targetType: "report",
        targetId: report.id,
        details: { action: input.action, note: input.note ?? null, status },
      },
      guard,
    ),
    ...accountStatements,
    db
      .update(reports)
      .set({ status, resolutionAction: input.action, resolutionNote: input.note ?? null, resolvedBy: actor.userId, resolvedAt: at })
      .where(and(eq(reports.id, report.id), eq(reports.status, "open")))
      .returning(),
  ]);
  const updated = results[results.length - 1] as ReportRow[];
  if (updated.length === 0) throw new AppError(409, "report_closed", "This report was closed in the meantime");
  if (target && accountAction) await endSessionsFor(db, env, target.id, accountAction);
  await publishEvent(env, "moderation.report_resolved", { reportId: report.id, action: input.action, actorId: actor.userId });
  return updated[0]!;
}
