import { z } from "@hono/zod-openapi";
import { PageQuery } from "../lib/pagination";
import { MAX_REACTIONS_PER_USER } from "../rooms/reactions";
import { MessageParams, MessageReaction } from "./schemas";

// biome-ignore lint/complexity/useRegexLiterals: the `v` flag needs an ES2024 target in a literal (tsc); workerd has it.
const RGI_EMOJI = new RegExp("^\\p{RGI_Emoji}$", "v");

/**
 * The emoji `text` names, fully qualified, or null when it is not exactly one RGI emoji (ZWJ
 * sequences, skin tones, flags and keycaps included; text, digits and two emojis are not). A
 * symbol sent without its emoji presentation selector (`❤` for `❤️`) is taken as the emoji, so
 * both spell the same reaction.
 */
export function toEmoji(text: string): string | null {
  if (text.length === 0 || text.length > 64) return null;
  if (RGI_EMOJI.test(text)) return text;
  const qualified = `${text}\uFE0F`;
  return RGI_EMOJI.test(qualified) ? qualified : null;
}

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
