import { z } from "@hono/zod-openapi";
import { ChatIdParam } from "../chats/schemas";
import { MAX_TEXT_LENGTH } from "../rooms/protocol";

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
    type: z.literal("text").default("text"),
    text: MessageText,
  })
  .openapi("SendMessageRequest");

export const EditMessageBody = z.strictObject({ text: MessageText }).openapi("EditMessageRequest");

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

export const Message = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    chatId: z.string(),
    senderId: z.string().nullable().openapi({ description: "Null for system messages" }),
    clientMessageId: z.string().nullable(),
    type: z.enum(["text", "system"]),
    text: z.string().nullable().openapi({ description: "Null once deleted, and for system messages" }),
    system: z.record(z.string(), z.unknown()).nullable().openapi({
      description:
        "System messages: {event: created|joined|added|removed|left|role_changed|renamed|ownership_transferred, actorId, userIds, …}",
    }),
    storyReply: z
      .object({ storyId: z.string() })
      .nullable()
      .openapi({ description: "A reply to a story (POST /stories/{id}/reply) names the story; null otherwise" }),
    createdAt: z.string(),
    editedAt: z.string().nullable(),
    deleted: z.boolean(),
  })
  .openapi("Message");

export const MessageResponse = z.object({ message: Message });
export const History = z.object({ items: z.array(Message), hasMore: z.boolean() }).openapi("MessageHistory");
export const ReadResult = z
  .object({ seq: z.number().int().openapi({ description: "My position now" }), unread: z.number().int() })
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
