import { z } from "@hono/zod-openapi";

export const REPORT_REASONS = [
  "spam",
  "harassment",
  "hate",
  "violence",
  "sexual_content",
  "child_safety",
  "self_harm",
  "impersonation",
  "scam",
  "illegal",
  "other",
] as const;
export const REPORT_TARGET_TYPES = ["user", "chat", "message", "story"] as const;
export const REPORT_STATUSES = ["open", "resolved", "dismissed"] as const;
export const REPORT_DETAILS_MAX = 1000;

export const ReportReason = z.enum(REPORT_REASONS).openapi("ReportReason");
export const ReportTargetType = z.enum(REPORT_TARGET_TYPES).openapi("ReportTargetType");

export const CreateReportBody = z
  .strictObject({
    targetType: ReportTargetType,
    targetId: z.uuid().openapi({ description: "The user, chat, message or story id" }),
    chatId: z
      .uuid()
      .optional()
      .openapi({ description: "The chat a reported message is in: required for `message`, not allowed otherwise" }),
    reason: ReportReason,
    details: z.string().trim().min(1).max(REPORT_DETAILS_MAX).optional().openapi({ description: "What happened, up to 1,000 characters" }),
  })
  .superRefine((body, ctx) => {
    if (body.targetType === "message" && !body.chatId) {
      ctx.addIssue({ code: "custom", path: ["chatId"], message: "chatId is required when reporting a message" });
    }
    if (body.targetType !== "message" && body.chatId) {
      ctx.addIssue({ code: "custom", path: ["chatId"], message: "chatId is only for message reports" });
    }
  })
  .openapi("CreateReportRequest");

export const Report = z
  .object({
    id: z.string(),
    targetType: ReportTargetType,
    targetId: z.string(),
    chatId: z.string().nullable(),
    reason: ReportReason,
    details: z.string().nullable(),
    status: z.enum(REPORT_STATUSES),
    createdAt: z.string(),
  })
  .openapi("Report");
