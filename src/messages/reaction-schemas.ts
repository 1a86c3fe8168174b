import { z } from "@hono/zod-openapi";
import { PageQuery } from "../lib/pagination";
import { toEmoji } from "../rooms/emoji";
import { MAX_REACTIONS_PER_USER } from "../rooms/reactions";
import { MessageParams, MessageReaction } from "./schemas";

const EmojiText = z
  .string()
  .refine((s) => toEmoji(s) !== null, "Must be exactly one emoji")
  .openapi({ description: "Exactly one emoji (percent-encoded in the path)", example: "👍" });

export const ReactionParams = MessageParams.extend({ emoji: EmojiText.openapi({ param: { name: "emoji", in: "path" } }) });

export const ReactionsQuery = PageQuery.extend({
  emoji: EmojiText.optional().openapi({ description: "Only this emoji's reactions" }),
});

/** What a reactions cursor holds: the last item's time, user and emoji. */
export const ReactionCursor = z.object({ t: z.number().int(), u: z.string(), e: z.string() });

export const ReactionSummary = z
  .object({
    messageId: z.string(),
    seq: z.number().int(),
    reactions: z.array(MessageReaction).openapi({ description: "Most first; `me` is the caller's own" }),
  })
  .openapi("MessageReactions", {
    description: `The message's reactions after the change (at most ${MAX_REACTIONS_PER_USER} emojis per member)`,
  });

export const ReactionList = z
  .object({
    items: z.array(z.object({ userId: z.string(), emoji: z.string(), createdAt: z.string() }).openapi("MessageReactionItem")),
    nextCursor: z.string().nullable(),
  })
  .openapi("MessageReactionList", { description: "Who reacted, oldest first" });
