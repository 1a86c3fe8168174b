import { z } from "@hono/zod-openapi";
import { orNull } from "../lib/openapi";
import { PageQuery } from "../lib/pagination";
import { CONTROL_EXCEPT_NEWLINE_RE, CONTROL_RE } from "../lib/validate";
import { Metadata } from "../rooms/content";
import { SENDABLE_TYPES } from "../rooms/types";
import { PublicProfile } from "../social/schemas";

export const CHAT_NAME_MAX = 128;
export const CHAT_DESCRIPTION_MAX = 1024;
/** Most users one create or add call may name. */
export const ADD_MAX = 200;
export const SLOW_MODE_MAX_SECONDS = 3600;
/** Most members a chat of each type may have; more answers `409 member_limit`. */
export const MEMBER_LIMITS = { direct: 2, group: 1000, channel: 100_000 } as const;
/** "Muted forever" is stored and shown as this far-future time (9999-12-31T23:59:59.999Z). */
export const MUTE_FOREVER_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const atLeastOneField = (value: Record<string, unknown>) => Object.values(value).some((v) => v !== undefined);

export const Id = z.uuid().openapi({ example: "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a" });
export const ChatIdParam = z.object({ chatId: Id.openapi({ param: { name: "chatId", in: "path" } }) });
export const MemberParams = ChatIdParam.extend({ userId: Id.openapi({ param: { name: "userId", in: "path" } }) });

export const ChatType = z.enum(["direct", "group", "channel"]).openapi("ChatType");
export const Role = z.enum(["owner", "admin", "member"]).openapi("ChatRole", {
  description: "owner > admin > member. In channels members are subscribers",
});

export const ChatName = z
  .string()
  .trim()
  .min(1)
  .max(CHAT_NAME_MAX)
  .refine((s) => !CONTROL_RE.test(s), "Name may not contain control characters")
  .openapi({ example: "Weekend hikers" });

export const ChatDescription = z
  .string()
  .trim()
  .max(CHAT_DESCRIPTION_MAX)
  .refine((s) => !CONTROL_EXCEPT_NEWLINE_RE.test(s), "Description may not contain control characters other than line breaks")
  .openapi({ description: `Up to ${CHAT_DESCRIPTION_MAX} characters; empty clears it` });

export const Permissions = z
  .object({
    sendMessages: z.boolean(),
    sendMedia: z.boolean(),
    addMembers: z.boolean(),
    pinMessages: z.boolean(),
    changeInfo: z.boolean(),
  })
  .openapi("ChatPermissions", { description: "What a plain member may do. Owners and admins may do everything" });

export const PermissionsPatch = z
  .strictObject({
    sendMessages: z.boolean().optional(),
    sendMedia: z.boolean().optional(),
    addMembers: z.boolean().optional(),
    pinMessages: z.boolean().optional(),
    changeInfo: z.boolean().optional(),
  })
  .refine(atLeastOneField, "Send at least one permission")
  .openapi("ChatPermissionsPatch", { description: "Partial: permissions left out keep their values" });

const NoForwards = z.boolean().openapi({
  description: "Groups and channels: true refuses forwarding this chat's messages elsewhere (`403 forwarding_disabled`); default false",
});

export const CreateChatBody = z
  .strictObject({
    type: ChatType,
    name: ChatName.optional().openapi({ description: "Required for groups and channels; not for direct chats" }),
    description: ChatDescription.optional(),
    memberIds: z
      .array(Id)
      .max(ADD_MAX)
      .optional()
      .openapi({
        description: `direct: exactly one other user. group/channel: up to ${ADD_MAX} users to add (duplicates and yourself are ignored)`,
      }),
    isPublic: z.boolean().optional().openapi({ description: "Groups and channels only (default false)" }),
    noForwards: NoForwards.optional(),
    metadata: Metadata.optional(),
    encrypted: z
      .boolean()
      .optional()
      .openapi({
        description:
          "Direct chats and groups: end-to-end encrypted (Signal protocol, keys from /keys). Only type `encrypted` messages, " +
          "with `ciphertext` and/or per-device `envelopes`; no server-side text, search, edits, reactions, drafts or " +
          "scheduling. An encrypted direct chat is a second chat beside the plain one. Cannot be changed later",
      }),
  })
  .superRefine((b, ctx) => {
    if (b.type === "direct") {
      if (b.memberIds?.length !== 1)
        ctx.addIssue({ code: "custom", path: ["memberIds"], message: "A direct chat takes exactly one other user in memberIds" });
      for (const field of ["name", "description", "isPublic", "noForwards", "metadata"] as const) {
        if (b[field] !== undefined) ctx.addIssue({ code: "custom", path: [field], message: `Direct chats have no ${field}` });
      }
    } else if (b.name === undefined) {
      ctx.addIssue({ code: "custom", path: ["name"], message: "Groups and channels need a name" });
    }
    if (b.type === "channel" && b.encrypted) {
      ctx.addIssue({ code: "custom", path: ["encrypted"], message: "Channels cannot be end-to-end encrypted" });
    }
  })
  .openapi("CreateChatRequest");

export const UpdateChatBody = z
  .strictObject({
    name: ChatName.optional(),
    description: ChatDescription.nullable().optional(),
    avatarMediaId: Id.nullable()
      .optional()
      .openapi({ description: "An image the caller uploaded with purpose `avatar` (else `422 invalid_avatar`)" }),
    isPublic: z.boolean().optional(),
    slowModeSeconds: z.number().int().min(0).max(SLOW_MODE_MAX_SECONDS).optional().openapi({ description: "0 turns slow mode off" }),
    permissions: PermissionsPatch.optional().openapi({ description: "Defaults for plain members" }),
    noForwards: NoForwards.optional(),
    metadata: Metadata.nullable().optional().openapi({ description: "Replaces the chat's metadata; null clears it" }),
  })
  .refine(atLeastOneField, "Send at least one field to change")
  .openapi("UpdateChatRequest", {
    description:
      "name, description, avatarMediaId, noForwards, metadata: needs `changeInfo` (admins always). isPublic, slowModeSeconds, permissions: admins only",
  });

export const SettingsBody = z
  .strictObject({
    mutedUntil: z
      .union([z.literal("forever"), z.iso.datetime({ offset: true }), z.null()])
      .optional()
      .openapi({ description: 'ISO 8601 time, "forever", or null to unmute. A time in the past unmutes' }),
    pinned: z.boolean().optional(),
    archived: z.boolean().optional(),
    hidden: z.boolean().optional(),
  })
  .refine(atLeastOneField, "Send at least one setting to change")
  .openapi("ChatSettingsRequest");

export const AddMembersBody = z
  .strictObject({
    userIds: z.array(Id).min(1).max(ADD_MAX),
    role: z.enum(["admin", "member"]).optional().openapi({ description: "Default member; admin only by the owner" }),
  })
  .openapi("AddMembersRequest");

export const UpdateMemberBody = z
  .strictObject({
    role: z.enum(["admin", "member"]).optional().openapi({ description: "Owner only. Ownership moves with transfer-ownership" }),
    permissions: PermissionsPatch.nullable()
      .optional()
      .openapi({ description: "Overrides on top of the chat's defaults; null resets to the defaults" }),
  })
  .refine(atLeastOneField, "Send role or permissions")
  .openapi("UpdateMemberRequest");

export const TransferOwnershipBody = z.strictObject({ userId: Id }).openapi("TransferOwnershipRequest");

const BoolQuery = (description: string) =>
  z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true")
    .openapi({ description });

export const ListChatsQuery = PageQuery.extend({
  archived: BoolQuery("true: only archived chats; false (default): only chats not archived"),
  hidden: BoolQuery("true: only hidden chats; false (default): only chats not hidden"),
});
export { PageQuery };

export const LastMessage = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    senderId: z.string().nullable(),
    type: z.enum([...SENDABLE_TYPES, "system"]),
    text: z.string().nullable().openapi({ description: "At most 140 characters (null for encrypted messages)" }),
    createdAt: z.string(),
  })
  .openapi("ChatLastMessage");

export const Settings = z
  .object({
    mutedUntil: z
      .string()
      .nullable()
      .openapi({ description: `"Forever" is ${new Date(MUTE_FOREVER_MS).toISOString()}` }),
    muted: z.boolean(),
    pinned: z.boolean(),
    archived: z.boolean(),
    hidden: z.boolean(),
  })
  .openapi("ChatSettings");

export const Chat = z
  .object({
    id: z.string(),
    type: ChatType,
    name: z.string().nullable().openapi({ description: "Direct chats: the other person's display name" }),
    description: z.string().nullable(),
    avatarMediaId: z.string().nullable(),
    isPublic: z.boolean(),
    memberCount: z.number().int(),
    slowModeSeconds: z.number().int(),
    permissions: Permissions.openapi({ description: "Defaults for plain members" }),
    frozen: z.boolean(),
    noForwards: z.boolean().openapi({ description: "This chat's messages cannot be forwarded" }),
    encrypted: z.boolean().openapi({
      description: "End-to-end encrypted: messages are type `encrypted` (ciphertext and per-device envelopes); set at creation",
    }),
    messageTtlSeconds: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Disappearing messages: sent messages are erased this many seconds later (null: off)" }),
    metadata: z.record(z.string(), z.unknown()).nullable().openapi({ description: "Custom JSON, returned as stored" }),
    createdAt: z.string(),
    lastMessage: orNull(LastMessage),
    lastSeq: z.number().int(),
    lastActivityAt: z.string(),
    unreadCount: z.number().int().openapi({ description: "Exact: others' messages after my read position, deleted ones not counted" }),
    mentionCount: z.number().int().openapi({
      description: "Exact: unread messages that mention me (or everyone); counted even while the chat is muted, cleared by reading",
    }),
    role: Role,
    myPermissions: Permissions,
    peer: PublicProfile.optional().openapi({ description: "Direct chats: the other person as I may see them" }),
  })
  .extend(Settings.shape)
  .openapi("Chat");

export const ChatPage = z.object({ items: z.array(Chat), nextCursor: z.string().nullable() }).openapi("ChatPage");

export const Unread = z
  .object({
    total: z.number().int().openapi({ description: "Sum over chats that are not muted, plus the mentions of me in muted ones" }),
    mentions: z.number().int().openapi({ description: "Unread mentions of me in all my chats, muted ones included" }),
    chats: z.array(z.object({ chatId: z.string(), count: z.number().int(), mentions: z.number().int(), muted: z.boolean() })).openapi({
      description: "Every chat with unread messages, muted ones included",
    }),
  })
  .openapi("UnreadCounts");

export const Member = z
  .object({
    userId: z.string(),
    role: Role,
    permissions: Permissions.openapi({ description: "Effective permissions (all true for owners and admins)" }),
    joinedAt: z.string(),
    user: PublicProfile,
  })
  .openapi("ChatMember");

export const MemberPage = z.object({ items: z.array(Member), nextCursor: z.string().nullable() }).openapi("ChatMemberPage");

const Invited = z.array(z.string()).openapi({
  description:
    "Users whose `groupInvites` privacy does not let you add them directly: each has a pending invitation to accept or " +
    "decline (`GET /chats/invitations`). Inviting again changes nothing",
});

export const AddMembersResult = z
  .object({
    added: z.array(Member),
    alreadyMembers: z.array(z.string()),
    invited: Invited,
    skipped: z.array(z.string()).openapi({
      description: "Users who could not be added or invited: unknown or inactive accounts, blocks either way, or a ban from the chat",
    }),
  })
  .openapi("AddMembersResult");

export const CreateChatResult = z
  .object({
    chat: Chat,
    invited: Invited.openapi({ description: "As in AddMembersResult (groups and channels; always empty for direct chats)" }),
    skipped: z.array(z.string()).openapi({ description: "As in AddMembersResult (groups and channels)" }),
  })
  .openapi("CreateChatResult");

export const Invitation = z
  .object({
    chat: Chat.pick({ id: true, type: true, name: true, avatarMediaId: true, memberCount: true }).openapi("ChatInvitationChat", {
      description: "What an invitee sees of the chat before joining",
    }),
    invitedBy: PublicProfile.openapi({ description: "The inviter as you may see them" }),
    createdAt: z.string(),
  })
  .openapi("ChatInvitation");
export const InvitationPage = z.object({ items: z.array(Invitation), nextCursor: z.string().nullable() }).openapi("ChatInvitationPage");

/** An ISO 8601 time that must lie in the future when the request is made. */
