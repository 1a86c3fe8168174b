import { z } from "@hono/zod-openapi";
import { ChatIdParam, Id } from "./schemas";

/** Bans, invite links and join requests: the bodies and answers of the moderation routes. */

const FutureTime = z.iso.datetime({ offset: true }).refine((v) => Date.parse(v) > Date.now(), "Must be in the future");

export const INVITE_MAX_USES = 100_000;
export const InviteCode = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,32}$/, "Not an invite code")
  .openapi({ example: "q3Vx9_LmT2aB" });
export const InviteParams = ChatIdParam.extend({ code: InviteCode.openapi({ param: { name: "code", in: "path" } }) });

export const BanBody = z
  .strictObject({
    userId: Id,
    until: FutureTime.optional().openapi({ description: "When the ban ends; left out = forever" }),
    shadow: z.boolean().optional().openapi({ description: "Recorded for moderation tools; for now a shadow ban acts like a ban" }),
  })
  .openapi("ChatBanRequest", { description: "Ban someone from one chat (POST /chats/{chatId}/bans)" });

export const Ban = z
  .object({
    userId: z.string(),
    bannedBy: z.string(),
    until: z.string().nullable().openapi({ description: "null = forever" }),
    shadow: z.boolean(),
    createdAt: z.string(),
  })
  .openapi("ChatBan");
export const BanPage = z.object({ items: z.array(Ban), nextCursor: z.string().nullable() }).openapi("ChatBanPage");

export const CreateInviteBody = z
  .strictObject({
    expiresAt: FutureTime.optional().openapi({ description: "Left out = never expires" }),
    maxUses: z.number().int().min(1).max(INVITE_MAX_USES).optional().openapi({ description: "Left out = unlimited" }),
    requiresApproval: z.boolean().optional().openapi({ description: "Joining files a join request for admins to approve (default false)" }),
  })
  .openapi("CreateInviteRequest");

export const Invite = z
  .object({
    code: z.string(),
    url: z.string().openapi({ description: "`{origin}/join/{code}`" }),
    chatId: z.string(),
    createdBy: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    maxUses: z.number().int().nullable(),
    uses: z.number().int().openapi({ description: "Joins (and join requests) made with it" }),
    requiresApproval: z.boolean(),
  })
  .openapi("ChatInvite");
export const InvitePage = z.object({ items: z.array(Invite), nextCursor: z.string().nullable() }).openapi("ChatInvitePage");

export const JoinBody = z
  .union([z.strictObject({ code: InviteCode }), z.strictObject({ chatId: Id })])
  .openapi("JoinChatRequest", { description: "`{code}` of an invite, or `{chatId}` of a public group or channel" });

export const JoinRequest = z.object({ userId: z.string(), createdAt: z.string() }).openapi("ChatJoinRequest");
export const JoinRequestPage = z.object({ items: z.array(JoinRequest), nextCursor: z.string().nullable() }).openapi("ChatJoinRequestPage");
