import type { Database } from "../db/client";

/** Whether `reporterId` may report the target: it exists and they can see it. */
export type ReportTargetCheck = (db: Database, reporterId: string, targetId: string) => Promise<boolean>;

const checks = new Map<string, ReportTargetCheck>();

/**
 * Register the lookup for a report target type owned by a module above `reports` (stories today),
 * where the app is assembled (src/app/wiring.ts), so `reports` never imports it. A target the check
 * refuses answers `404 not_found`, like an unknown one.
 */
export function onReportTarget(targetType: "chat" | "message" | "story", check: ReportTargetCheck): void {
  checks.set(targetType, check);
}

/** The registered check of a target type, if any. */
export const reportTargetCheck = (targetType: string): ReportTargetCheck | undefined => checks.get(targetType);
