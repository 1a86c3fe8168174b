import { z } from "@hono/zod-openapi";
import { AccountKind } from "../auth/schemas";
import { MAX_TIER } from "../db/schema";
import { PageQuery } from "../lib/pagination";
import { REPORT_STATUSES, ReportReason, ReportTargetType } from "../reports/schemas";
import { AccountAttributes, KycStatus, LifecycleState } from "../users/attributes";
import { MetadataField } from "../users/schemas";
import { AUDIT_ACTIONS } from "./audit";
import { RESOLVE_ACTIONS } from "./reports";

const ROLES = ["user", "moderator", "admin"] as const;
const STATUSES = ["active", "suspended", "banned", "deactivated", "deleted"] as const;
const MAX_SUSPENSION_MS = 10 * 365 * 24 * 60 * 60 * 1000;

export const UserIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
export const ReportIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });

export const Stats = z
  .object({
    users: z.object({
      total: z.number().int().openapi({ description: "Accounts not deleted (active, suspended, banned, deactivated)" }),
      new24h: z.number().int(),
      new7d: z.number().int(),
      active24h: z.number().int().openapi({ description: "Accounts seen in the last 24 hours" }),
      active7d: z.number().int(),
    }),
    chats: z.number().int(),
    messages: z.number().int(),
    stories: z.number().int(),
    reportsOpen: z.number().int(),
  })
  .openapi("AdminStats");

export const AdminUser = z
  .object({
    id: z.string(),
    username: z.string(),
    displayName: z.string(),
    kind: AccountKind,
    email: z.string().nullable(),
    emailVerified: z.boolean().openapi({ description: "Only a verified address signs in, resets passwords and is unique" }),
    phone: z.string().nullable(),
    phoneVerified: z.boolean(),
    role: z.enum(ROLES),
    status: z.enum(STATUSES),
    suspendedUntil: z.string().nullable().openapi({ description: "Null with status suspended: indefinitely" }),
    moderationReason: z.string().nullable(),
    ...AccountAttributes,
    metadata: MetadataField,
    createdAt: z.string(),
    lastSeenAt: z.string().nullable(),
    deletedAt: z.string().nullable(),
  })
  .openapi("AdminUser");

/** `true` or `false` in a query string, as a boolean; absent: no filter. */
const BoolFilter = (description: string) =>
  z
    .enum(["true", "false"])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === "true"))
    .openapi({ description });

export const AdminUserQuery = PageQuery.extend({
  q: z.string().trim().max(254).optional().openapi({
    description: "An id, email or E.164 phone (exact match), or the start of a username. Without it: every account, newest first",
  }),
  status: z.enum(STATUSES).optional(),
  verified: BoolFilter("Only accounts with (true) or without (false) the verified badge"),
  creator: BoolFilter("Only creator accounts (true) or the others (false)"),
  kycStatus: KycStatus.optional(),
  tier: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_TIER)
    .optional()
    .openapi({ description: `0 to ${MAX_TIER}` }),
  lifecycle: LifecycleState.optional(),
});

export const AdminUserPage = z.object({ items: z.array(AdminUser), nextCursor: z.string().nullable() }).openapi("AdminUserPage");

const Reason = z.string().trim().min(1).max(500).openapi({ description: "Shown to the account owner when they try to sign in" });

/** A future time (ISO 8601), at most 10 years ahead, as epoch milliseconds. */
const Until = z.iso
  .datetime({ offset: true })
  .transform((s) => Date.parse(s))
  .refine((ms) => ms > Date.now(), "until must be in the future")
  .refine((ms) => ms <= Date.now() + MAX_SUSPENSION_MS, "until must be within 10 years")
  .openapi({ type: "string", format: "date-time", example: "2030-01-01T00:00:00Z" });

export const SuspendBody = z
  .strictObject({ until: Until.optional().openapi({ description: "When the suspension ends; omit for indefinitely" }), reason: Reason })
  .openapi("SuspendRequest");
export const BanBody = z.strictObject({ reason: Reason }).openapi("AdminBanRequest", {
  description: "Ban an account from the whole service (POST /admin/users/{id}/ban)",
});
export const SetRoleBody = z.strictObject({ role: z.enum(ROLES) }).openapi("SetRoleRequest");

export const AttributesBody = z
  .strictObject({
    verified: AccountAttributes.verified.optional(),
    creator: AccountAttributes.creator.optional(),
    kycStatus: KycStatus.optional(),
    tier: AccountAttributes.tier.optional(),
    lifecycle: LifecycleState.optional(),
    metadata: MetadataField.optional().openapi({ description: "Replaces the user's metadata as a whole; null clears it" }),
  })
  .refine((v) => Object.keys(v).length > 0, "Send at least one attribute to change")
  .openapi("AdminUserAttributesRequest", { description: "Partial: attributes left out keep their values" });

export const AdminReport = z
  .object({
    id: z.string(),
    reporterId: z.string().nullable(),
    targetType: ReportTargetType,
    targetId: z.string(),
    chatId: z.string().nullable(),
    reason: z.union([ReportReason, z.string()]),
    details: z.string().nullable(),
    status: z.enum(REPORT_STATUSES),
    resolutionAction: z.string().nullable(),
    resolutionNote: z.string().nullable(),
    resolvedBy: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("AdminReport");

export const ReportQuery = PageQuery.extend({ status: z.enum(REPORT_STATUSES).default("open") });
export const AdminReportPage = z.object({ items: z.array(AdminReport), nextCursor: z.string().nullable() }).openapi("AdminReportPage");

export const ResolveBody = z
  .strictObject({
    action: z.enum(RESOLVE_ACTIONS).openapi({ description: "`dismiss` closes it as dismissed; every other action as resolved" }),
    note: z
      .string()
      .trim()
      .min(1)
      .max(1000)
      .optional()
      .openapi({ description: "Kept with the report; the suspension/ban reason when given" }),
    until: Until.optional().openapi({ description: "suspend_user only: when the suspension ends; omit for indefinitely" }),
  })
  .superRefine((body, ctx) => {
    if (body.until !== undefined && body.action !== "suspend_user") {
      ctx.addIssue({ code: "custom", path: ["until"], message: "until is only for suspend_user" });
    }
  })
  .openapi("ResolveReportRequest");

export const AuditEntry = z
  .object({
    id: z.string(),
    actorType: z
      .enum(["user", "api_key"])
      .openapi({ description: "`user`: a staff account; `api_key`: the app's backend (actorId is the key's id)" }),
    actorId: z.string(),
    action: z.union([z.enum(AUDIT_ACTIONS), z.string()]),
    targetType: z.string(),
    targetId: z.string(),
    details: z.record(z.string(), z.unknown()).nullable(),
    createdAt: z.string(),
  })
  .openapi("AdminAuditEntry");

export const AuditQuery = PageQuery.extend({
  targetType: z.enum(["user", "report", "api_key", "webhook"]).optional(),
  targetId: z.string().max(64).optional().openapi({ description: "Only the entries about this user, report, key or webhook" }),
});
export const AuditPage = z.object({ items: z.array(AuditEntry), nextCursor: z.string().nullable() }).openapi("AdminAuditPage");
