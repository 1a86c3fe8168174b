import { z } from "@hono/zod-openapi";
import { ChatIdParam } from "../chats/schemas";
import { orNull } from "../lib/openapi";
import {
  DraftFields,
  EditFields,
  editChangesSomething,
  GeoLocationSchema,
  MAX_TEXT_LENGTH,
  refineContent,
  SendContentFields,
} from "../rooms/content";
import { MAX_ACK_IDS } from "../rooms/protocol";
import { SENDABLE_TYPES } from "../rooms/types";
import { PollView } from "./poll-schemas";

export const HISTORY_DEFAULT = 50;
export const HISTORY_MAX = 100;
export const EVENTS_DEFAULT = 100;
export const EVENTS_MAX = 1000;

export { ChatIdParam };
export const MessageParams = ChatIdParam.extend({ messageId: z.uuid().openapi({ param: { name: "messageId", in: "path" } }) });

const Seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const MessageText = z
  .string()
  .trim()
  .min(1)
  .max(MAX_TEXT_LENGTH)
  .openapi({ description: `1–${MAX_TEXT_LENGTH} characters after trimming` });

export const SendMessageBody = z
  .strictObject({
    clientMessageId: z.string().min(1).max(64).openapi({
      description: "Chosen by the client, unique per sender: a retry with the same id returns the stored message (200)",
      example: "c-7f3a2b",
    }),
    ...SendContentFields,
  })
  .superRefine(refineContent)
  .openapi("SendMessageRequest");

export const EditMessageBody = z
  .strictObject(EditFields)
  .refine(editChangesSomething, "Give text or location")
  .openapi("EditMessageRequest");

export const DraftBody = z.strictObject(DraftFields).openapi("DraftRequest");

export const ThreadQuery = z.object({
  after: Seq.optional().openapi({ description: "Replies with a larger seq (the next page: the last seq received)" }),
  limit: z.coerce.number().int().min(1).max(HISTORY_MAX).default(HISTORY_DEFAULT),
});

export const HistoryQuery = z
  .object({
    before: Seq.optional().openapi({ description: "Messages with a smaller seq (the latest when no anchor is given)" }),
    after: Seq.optional().openapi({ description: "Messages with a larger seq" }),
    around: Seq.optional().openapi({ description: "Half before this seq, the rest from it on" }),
    limit: z.coerce.number().int().min(1).max(HISTORY_MAX).default(HISTORY_DEFAULT),
  })
  .refine((q) => [q.before, q.after, q.around].filter((v) => v !== undefined).length <= 1, "Give at most one of before, after and around");

export const DeleteMessageQuery = z.object({
  for: z
    .enum(["me", "everyone"])
    .default("everyone")
    .openapi({ description: "everyone (author, or owner/admin): default; me: hide it for me" }),
});

export const ReadBody = z
  .strictObject({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) })
  .openapi("ReadPositionRequest", { description: "Everything up to and including this seq; positions only move forward" });

export const EventsQuery = z.object({
  after: Seq.default(0).openapi({ description: "The last eventSeq the client has" }),
  limit: z.coerce.number().int().min(1).max(EVENTS_MAX).default(EVENTS_DEFAULT),
});

export const Attachment = z
  .object({ mediaId: z.string(), mimeType: z.string(), size: z.number().int(), fileName: z.string().nullable() })
  .openapi("Attachment", { description: "Read the bytes through GET /media/{mediaId} (members of the chat may)" });

const Entity = z
  .object({
    type: z.enum(["url", "email", "mention", "hashtag"]),
    offset: z.number().int().openapi({ description: "In UTF-16 code units" }),
    length: z.number().int(),
    url: z.string().optional(),
    username: z.string().optional(),
    tag: z.string().optional(),
  })
  .openapi("MessageEntity");

export const MessageReaction = z
  .object({
    emoji: z.string().openapi({ example: "👍" }),
    count: z.number().int(),
    me: z.boolean().openapi({ description: "Whether the caller is among them" }),
  })
  .openapi("MessageReaction");

export const DeviceEnvelope = z
  .object({
    deviceId: z.number().int(),
    type: z.number().int().openapi({ description: "libsignal's CiphertextMessageType, as sent" }),
    body: z.string().openapi({ description: "The ciphertext for this device, standard base64" }),
  })
  .openapi("DeviceEnvelope", {
    description:
      "A message's `envelope` (type encrypted only): this device's own, until it is acknowledged (POST …/envelopes/ack) or " +
      "30 days old; null when none is waiting for it",
  });

export const Message = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    chatId: z.string(),
    senderId: z.string().nullable().openapi({ description: "Null for system messages" }),
    clientMessageId: z.string().nullable(),
    type: z.enum([...SENDABLE_TYPES, "system"]),
    text: z
      .string()
      .nullable()
      .openapi({ description: "The text or a media message's caption; null once deleted, and for system messages" }),
    system: z.record(z.string(), z.unknown()).nullable().openapi({
      description:
        'System messages: {event: created|joined|added|removed|left|role_changed|renamed|ownership_transferred|banned|ttl_changed|identity_changed|app_notice|call, actorId, userIds, …}; a call: {event: "call", actorId: the caller, callId, kind, status, durationSeconds}',
    }),
    storyReply: z
      .object({ storyId: z.string() })
      .nullable()
      .openapi({ description: "A reply to a story (POST /stories/{id}/reply) names the story; null otherwise" }),
    attachments: z.array(Attachment),
    location: orNull(GeoLocationSchema),
    contact: z
      .object({ userId: z.string().optional(), name: z.string().optional(), phone: z.string().optional(), email: z.string().optional() })
      .nullable(),
    entities: z.array(Entity).openapi({ description: "URLs, emails, @mentions and #hashtags found in the text" }),
    replyTo: z.object({ id: z.string(), seq: z.number().int() }).nullable(),
    replyCount: z.number().int().openapi({ description: "Replies in this message's thread that are not deleted" }),
    quote: z
      .object({ id: z.string(), seq: z.number().int(), senderId: z.string().nullable(), type: z.string(), text: z.string().nullable() })
      .nullable()
      .openapi({ description: "A snapshot of the quoted message (its text goes if that message is deleted)" }),
    forwardedFrom: z.object({ chatId: z.string(), messageId: z.string(), senderId: z.string().nullable() }).nullable(),
    mentions: z.array(z.string()),
    mentionsAll: z.boolean(),
    silent: z.boolean(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    poll: orNull(PollView).openapi({ description: "Type poll: the poll as I see it; null otherwise" }),
    expiresAt: z.string().nullable().openapi({ description: "A disappearing message: when it is erased (null: it stays)" }),
    createdAt: z.string(),
    editedAt: z.string().nullable(),
    deleted: z.boolean(),
    reactions: z.array(MessageReaction).openapi({
      description:
        "Reactions by emoji, most first (ties: the emoji reacted first). `me` is the caller's own; in socket events it is always false",
    }),
    ciphertext: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: "Type encrypted only: the blob for every member (standard base64), null when the send had none" }),
    envelope: orNull(DeviceEnvelope).optional(),
  })
  .openapi("Message");

export const MessageResponse = z.object({ message: Message });
export const History = z.object({ items: z.array(Message), hasMore: z.boolean() }).openapi("MessageHistory");
export const ReadResult = z
  .object({
    seq: z.number().int().openapi({ description: "My position now" }),
    unread: z.number().int(),
    mentions: z.number().int().openapi({ description: "Unread messages that mention me (or everyone)" }),
  })
  .openapi("ReadPosition");
export const Receipts = z
  .object({
    read: z.array(z.string()).openapi({ description: "Members who read it (those who hide read receipts are left out)" }),
    delivered: z.array(z.string()),
  })
  .openapi("MessageReceipts");
export const Events = z
  .object({
    events: z.array(z.object({ eventSeq: z.number().int(), type: z.string(), createdAt: z.string() }).catchall(z.unknown())),
    hasMore: z.boolean(),
    tooFarBehind: z
      .boolean()
      .openapi({ description: "Events after `after` were already pruned: reload history and start from lastEventSeq" }),
    lastEventSeq: z.number().int(),
  })
  .openapi("ChatEvents");

export const Thread = z
  .object({ parent: Message, items: z.array(Message), hasMore: z.boolean() })
  .openapi("MessageThread", { description: "The message and a page of its replies, oldest first" });

export const Versions = z
  .object({
    items: z.array(
      z.object({
        text: z.string().nullable(),
        location: orNull(GeoLocationSchema),
        createdAt: z.string().openapi({ description: "When this version was written (sent, or an earlier edit)" }),
      }),
    ),
  })
  .openapi("MessageVersions", { description: "Earlier versions of an edited message, oldest first (the current one is the message)" });

/** A message waiting for its time (POST …/messages with `scheduledAt`), as its author sees it. */
export const ScheduledMessage = z
  .object({
    id: z.string().openapi({ description: "The id the message will have once sent" }),
    chatId: z.string(),
    clientMessageId: z.string(),
    scheduledAt: z.string(),
    type: z.enum(SENDABLE_TYPES),
    text: z.string().optional(),
    attachments: z.array(Attachment),
    location: SendContentFields.location,
    contact: SendContentFields.contact,
    replyToId: z.string().optional(),
    quoteId: z.string().optional(),
    mentions: z.array(z.string()).optional(),
    silent: z.boolean().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    poll: z.record(z.string(), z.unknown()).optional().openapi({ description: "The poll as it will be sent" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("ScheduledMessage");
export const AckEnvelopesBody = z
  .strictObject({ messageIds: z.array(z.uuid()).min(1).max(MAX_ACK_IDS) })
  .openapi("AckEnvelopesRequest", { description: `Messages whose envelopes this device received (1–${MAX_ACK_IDS})` });
export const AckEnvelopesResult = z
  .object({ acknowledged: z.array(z.string()).openapi({ description: "The ids whose envelope was waiting for this device (now erased)" }) })
  .openapi("AckEnvelopesResult");
export const Deliveries = z
  .object({
    deliveries: z.array(
      z.object({
        userId: z.string(),
        deviceId: z.number().int(),
        status: z.enum(["pending", "delivered", "expired"]).openapi({ description: "expired: not acknowledged within 30 days, erased" }),
        deliveredAt: z.string().nullable(),
      }),
    ),
  })
  .openapi("EnvelopeDeliveries");

export const ScheduledResponse = z.object({ scheduled: ScheduledMessage }).openapi("ScheduledResponse");
