import { and, eq, ne } from "drizzle-orm";
import type { Database } from "../db/client";
import { type ReportRow, reports, users } from "../db/schema";
import { isUniqueViolation } from "../lib/db-errors";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { iso, now } from "../lib/time";
import type { REPORT_REASONS, REPORT_TARGET_TYPES } from "./schemas";
import { reportTargetCheck } from "./target-checks";

export interface NewReport {
  targetType: (typeof REPORT_TARGET_TYPES)[number];
  targetId: string;
  chatId?: string;
  reason: (typeof REPORT_REASONS)[number];
  details?: string;
}

/**
 * Check that the reported thing exists. Users are looked up (deleted accounts are not found, and
 * nobody reports themselves). Other types use the check their module registered (target-checks.ts:
 * stories must be visible to the reporter), answering 404 otherwise; chats and messages have none
 * yet, so their ids are only checked to be UUIDs by the schema.
 */
async function assertReportable(db: Database, reporterId: string, input: NewReport): Promise<void> {
  if (input.targetType !== "user") {
    const check = reportTargetCheck(input.targetType);
    if (check && !(await check(db, reporterId, input.targetId))) throw new AppError(404, "not_found", "Report target not found");
    return;
  }
  if (input.targetId === reporterId) throw new AppError(400, "cannot_report_self", "You cannot report yourself");
  const [target] = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.id, input.targetId), ne(users.status, "deleted")));
  if (!target) throw new AppError(404, "not_found", "User not found");
}

/**
 * File a report. One open report per reporter and target: the partial unique index
 * `reports_open_uq` decides, so two concurrent duplicates cannot both get in (`409 report_exists`).
 * Once a moderator closes it, the same reporter may report the target again.
 */
export async function createReport(db: Database, reporterId: string, input: NewReport): Promise<ReportRow> {
  await assertReportable(db, reporterId, input);
  const row: ReportRow = {
    id: newId(),
    reporterId,
    targetType: input.targetType,
    targetId: input.targetId,
    chatId: input.chatId ?? null,
    reason: input.reason,
    details: input.details ?? null,
    status: "open",
    resolutionAction: null,
    resolutionNote: null,
    resolvedBy: null,
    resolvedAt: null,
    createdAt: now(),
  };
  try {
    await db.insert(reports).values(row);
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new AppError(409, "report_exists", "You already have an open report about this; a moderator will look at it");
    }
    throw err;
  }
  return row;
}

/** A report as its reporter sees it. */
export const reportView = (r: ReportRow) => ({
  id: r.id,
  targetType: r.targetType,
  targetId: r.targetId,
  chatId: r.chatId,
  reason: r.reason as (typeof REPORT_REASONS)[number],
  details: r.details,
  status: r.status,
  createdAt: iso(r.createdAt),
});
