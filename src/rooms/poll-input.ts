import { z } from "@hono/zod-openapi";
import type { PollDefinition, PollInput } from "./poll-types";

/** Limits of a poll, as the API documents them. */
export const POLL_LIMITS = {
  question: 300,
  optionText: 100,
  minOptions: 2,
  maxOptions: 10,
  explanation: 200,
  /** `closesAt` at most this far ahead. */
  maxOpenMs: 366 * 24 * 3600_000,
} as const;

const PollOptionInput = z.strictObject({ text: z.string().trim().min(1).max(POLL_LIMITS.optionText) });

/** The `poll` of a send (type `poll`): shared by the REST body and the socket's `message.send`. */
export const PollInputSchema = z
  .strictObject({
    question: z.string().trim().min(1).max(POLL_LIMITS.question),
    options: z
      .array(PollOptionInput)
      .min(POLL_LIMITS.minOptions)
      .max(POLL_LIMITS.maxOptions)
      .openapi({
        description: `${POLL_LIMITS.minOptions}–${POLL_LIMITS.maxOptions} options with different texts; ids are assigned "0", "1", … in this order`,
      }),
    multipleChoice: z.boolean().optional().openapi({ description: "Default false: one option per voter" }),
    anonymous: z.boolean().optional().openapi({ description: "Default true: nobody sees who voted for what" }),
    quiz: z
      .strictObject({
        correctOption: z.number().int().min(0).openapi({ description: "Index into options" }),
        explanation: z.string().trim().min(1).max(POLL_LIMITS.explanation).optional(),
      })
      .optional()
      .openapi({ description: "A quiz: single choice, one correct option, votes cannot be retracted" }),
    hideResultsUntilVoted: z.boolean().optional().openapi({
      description: "Default true (as Telegram): counts and voters are hidden from a member until they vote or the poll closes",
    }),
    closesAt: z.iso.datetime().optional().openapi({ description: "Closes by itself then: in the future, at most a year ahead" }),
  })
  .superRefine((poll, ctx) => {
    const texts = poll.options.map((o) => o.text.toLowerCase());
    texts.forEach((text, i) => {
      if (texts.indexOf(text) !== i) ctx.addIssue({ code: "custom", message: "Options must differ", path: ["options", i, "text"] });
    });
    if (poll.quiz && poll.multipleChoice) {
      ctx.addIssue({ code: "custom", message: "A quiz is single choice", path: ["multipleChoice"] });
    }
    if (poll.quiz && poll.quiz.correctOption >= poll.options.length) {
      ctx.addIssue({ code: "custom", message: "correctOption must name one of the options", path: ["quiz", "correctOption"] });
    }
  })
  .openapi("PollInput");

/** Why `closesAt` is refused now (in the past, or more than a year ahead), or null when it is fine. */
/** The options a vote picks (REST body and the `poll.vote` frame). */
export const VoteFields = {
  optionIds: z
    .array(z.string().max(8))
    .min(1)
    .max(POLL_LIMITS.maxOptions)
    .openapi({ description: "Option ids: exactly one unless the poll is multiple choice" }),
};

export function closesAtProblem(closesAt: string | undefined, now = Date.now()): string | null {
  if (closesAt === undefined) return null;
  const at = Date.parse(closesAt);
  return at <= now || at > now + POLL_LIMITS.maxOpenMs ? "closesAt must be in the future, at most a year ahead" : null;
}

/** The stored definition of a validated poll sent by `creatorId`. */
export function pollDefinition(input: PollInput, creatorId: string): PollDefinition {
  const quiz = input.quiz;
  return {
    question: input.question,
    options: input.options.map((o, i) => ({ id: String(i), text: o.text })),
    multipleChoice: quiz ? false : (input.multipleChoice ?? false),
    anonymous: input.anonymous ?? true,
    hideResultsUntilVoted: input.hideResultsUntilVoted ?? true,
    quiz: quiz ? { correctOptionId: String(quiz.correctOption), explanation: quiz.explanation ?? null } : null,
    creatorId,
  };
}
