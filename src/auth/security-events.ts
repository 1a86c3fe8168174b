import { z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import type { Database } from "../db/client";
import { securityEvents } from "../db/schema";
import { newId } from "../lib/ids";
import { decodeCursor, page } from "../lib/pagination";
import type { RequestInfo } from "../lib/request-info";
import { iso, now } from "../lib/time";

/** Every kind of security event, so clients can show each one properly. */
export const SECURITY_EVENT_TYPES = [
  "account_created",
  "login",
  "login_new_device",
  "login_new_country",
  "login_blocked_device",
  "password_changed",
  "password_set",
  "password_reset",
  "two_factor_enabled",
  "two_factor_disabled",
  "recovery_code_used",
  "device_trusted",
  "device_untrusted",
  "device_blocked",
  "device_unblocked",
  "email_verified",
  "phone_verified",
  "refresh_token_reused",
  "account_deactivated",
  "account_reactivated",
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

type EventRow = typeof securityEvents.$inferSelect;

/** Append one event to the user's security log. */
export async function recordEvent(
  db: Database,
  userId: string,
  type: SecurityEventType,
  info: Partial<RequestInfo> = {},
  extra: { deviceId?: string | null; details?: Record<string, unknown> } = {},
): Promise<void> {
  await db.insert(securityEvents).values({
    id: newId(),
    userId,
    type,
    deviceId: extra.deviceId ?? null,
    ip: info.ip ?? null,
    country: info.country ?? null,
    userAgent: info.userAgent ?? null,
    details: extra.details ? JSON.stringify(extra.details) : null,
    createdAt: now(),
  });
}

const CursorShape = z.object({ id: z.string() });

/** The user's events, newest first, keyset-paginated on the (time-ordered) id. */
export async function listEvents(db: Database, userId: string, limit: number, cursor?: string) {
  const after = decodeCursor(cursor, CursorShape);
  const rows = await db
    .select()
    .from(securityEvents)
    .where(and(eq(securityEvents.userId, userId), after ? lt(securityEvents.id, after.id) : undefined))
    .orderBy(desc(securityEvents.id))
    .limit(limit + 1);
  return page(rows, limit, eventView, (r) => ({ id: r.id }));
}

export const eventView = (e: EventRow) => ({
  id: e.id,
  // recordEvent only ever writes SECURITY_EVENT_TYPES.
  type: e.type as SecurityEventType,
  deviceId: e.deviceId,
  ip: e.ip,
  country: e.country,
  userAgent: e.userAgent,
  details: e.details ? (JSON.parse(e.details) as Record<string, unknown>) : null,
  createdAt: iso(e.createdAt),
});
