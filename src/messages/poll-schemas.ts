import { z } from "@hono/zod-openapi";
import { VoteFields } from "../rooms/poll-input";

/** Schemas of polls: the poll a message carries (`Message.poll`) and a vote. */

export const PollView = z
  .object({
    question: z.string(),
    options: z.array(
      z.object({
        id: z.string().openapi({ description: 'Assigned by the server: "0", "1", … in the order sent' }),
        text: z.string(),
        votes: z.number().int().nullable().openapi({ description: "Null while the results are hidden from me" }),
        voters: z
          .array(z.string())
          .nullable()
          .openapi({ description: "User ids; public polls only, when the results are visible to me; null otherwise" }),
      }),
    ),
    multipleChoice: z.boolean(),
    anonymous: z.boolean(),
    hideResultsUntilVoted: z.boolean(),
    resultsVisible: z.boolean().openapi({
      description:
        "Whether I see counts: the poll is closed, I voted, I created it, or it does not hide its results. Broadcast frames show the poll to nobody in particular",
    }),
    totalVoters: z.number().int().openapi({ description: "People who voted (always shown)" }),
    myVotes: z.array(z.string()).openapi({ description: "The options I voted for ([] in broadcast frames)" }),
    quiz: z.boolean(),
    correctOptionId: z
      .string()
      .nullable()
      .openapi({ description: "Quizzes: the correct option once I answered or the quiz closed (always for its creator); else null" }),
    explanation: z.string().nullable(),
    closed: z.boolean(),
    closesAt: z.string().nullable(),
    closedAt: z.string().nullable(),
  })
  .openapi("Poll", { description: "A poll as the caller sees it" });

export const VoteBody = z.strictObject(VoteFields).openapi("PollVoteRequest");
