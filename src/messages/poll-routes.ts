import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { chatMember } from "../chats/access";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter } from "../lib/openapi";
import { chatRoom } from "../rooms/client";
import { VoteBody } from "./poll-schemas";
import { MessageParams, MessageResponse } from "./schemas";

/**
 * Poll routes under /api/v1/chats/{chatId}/messages/{messageId} (polls are sent as messages of
 * type `poll`). Each answers the message with its poll as the caller sees it; other members
 * hear of the change through `poll.updated` / `poll.closed` events, which carry nothing
 * particular to a viewer (counts only when the poll shows its results to everyone).
 */
const tags = ["Messages"];

const auth = requireAuth({ apiKeyScope: "messages:write" });
const app = newRouter();

const COMMON = "A message that is not a poll: `400 not_a_poll`; deleted or unknown: `404 not_found`; a frozen chat: `403 chat_frozen`.";

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/messages/{messageId}/votes",
    operationId: "votePoll",
    tags,
    summary: "Vote in a poll",
    description:
      "Exactly one option unless the poll is multiple choice (`400 validation_failed` at `body.optionIds`, also for unknown " +
      "ids). A vote stands: voting again answers `409 already_voted` (retract first; quiz answers are final). A closed poll " +
      `answers \`409 poll_closed\`. ${COMMON} Logs \`poll.updated {messageId, seq, totalVoters, closed, options}\`, where ` +
      "`options` ([{id, votes}]) is null when the poll hides its results until one votes.",
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: MessageParams, body: jsonBody(VoteBody) },
    responses: { 200: json(MessageResponse, "The message as I see it now"), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    const message = await chatRoom(c.env, chatId).vote(c.var.auth.userId, messageId, c.req.valid("json").optionIds);
    return c.json({ message }, 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{chatId}/messages/{messageId}/votes",
    operationId: "retractPollVote",
    tags,
    summary: "Take back my vote",
    description:
      "Not in quizzes (`403 quiz_vote_final`), nor once the poll closed (`409 poll_closed`). Without a vote nothing changes. " +
      `${COMMON} Logs \`poll.updated\` like a vote.`,
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: MessageParams },
    responses: { 200: json(MessageResponse, "The message as I see it now"), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    return c.json({ message: await chatRoom(c.env, chatId).retractVote(c.var.auth.userId, messageId) }, 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{chatId}/messages/{messageId}/close-poll",
    operationId: "closePoll",
    tags,
    summary: "Close a poll",
    description:
      "Its creator, or an owner/admin (`403 permission_denied`). Closing a closed poll changes nothing. Everyone sees the " +
      "results (and a quiz's answer) from then on. A poll with `closesAt` closes by itself then. Logs `poll.closed " +
      `{messageId, seq, totalVoters, options: [{id, votes}]}\`. ${COMMON}`,
    security: actingUserSecurity("messages:write"),
    middleware: [auth, chatMember] as const,
    request: { params: MessageParams },
    responses: { 200: json(MessageResponse, "The message as I see it now"), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => {
    const { chatId, messageId } = c.req.valid("param");
    return c.json({ message: await chatRoom(c.env, chatId).closePoll(c.var.auth.userId, messageId) }, 200);
  },
);

export default app;
