import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { AppError } from "../lib/errors";
import { errorResponses, json, jsonBody, newRouter, userSecurity } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import { callClient } from "./client";
import { getMyCall, listMyCalls, requireMyCall } from "./history";
import { iceServersFor } from "./ice-servers";
import * as s from "./schemas";
import { startCall } from "./service";

/**
 * /api/v1/calls: start a call, my calls, and answering, declining and leaving one over REST
 * (the same as the `call.accept`, `call.reject` and `call.hangup` frames on the realtime socket,
 * bound to the calling session). Signaling between devices happens on the realtime socket only.
 * Calls belong to people: bot tokens get `403 bot_not_allowed`.
 */
const tags = ["Calls"];
const auth = requireAuth({ allowBots: false });
const app = newRouter();

app.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "startCall",
    tags,
    summary: "Start a call",
    description:
      "Rings every device of the chat's other members who may take a call from me (`call.invite` on their realtime " +
      "sockets) for 45 s; the call is bound to this session. A direct chat's peer who blocked me or whom I blocked: " +
      "`403 blocked`; who deleted their account: `403 peer_deleted`; whose `calls` privacy leaves me out (or a bot): " +
      "`403 calls_not_allowed`. In a group such members are left out, and with nobody left `403 calls_not_allowed`. " +
      "Up to 8 people talk peer to peer; more need the SFU (`422 sfu_not_configured` without one), up to 100 " +
      "(`422 call_too_large`). Channels: `400 calls_unsupported`; frozen chats `403 chat_frozen`; in groups the " +
      "`sendMessages` permission. Already in (or ringing for) a call: `409 already_in_call`. Callees already in a call are " +
      "`busy` (with all of them busy the call is over at once, status `busy`). 10 starts a minute per user. Answers the " +
      "call and my ICE servers (TURN credentials made for me, expiring at `turnExpiresAt`).",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.StartCallBody) },
    responses: {
      201: json(s.CallWithIce, "Started (or over at once as `busy`)"),
      ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
    },
  }),
  async (c) => {
    const { userId, sessionId } = c.var.auth;
    await enforceRateLimit(c, "call-start:user", userId);
    return c.json(await startCall(c.var.db, c.env, { userId, sessionId }, c.req.valid("json")), 201);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listCalls",
    tags,
    summary: "My calls, newest first",
    description: "Calls I made or was called in, in any chat, newest first (`?limit=`, `?cursor=` from `nextCursor`).",
    security: userSecurity,
    middleware: [auth] as const,
    request: { query: s.PageQuery },
    responses: { 200: json(s.CallPage), ...errorResponses(400, 401, 403, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listMyCalls(c.var.db, c.var.auth.userId, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{callId}",
    operationId: "getCall",
    tags,
    summary: "One of my calls",
    description: "A call I made or was called in; anyone else's, or an unknown id, answers `404 not_found`.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: s.CallIdParam },
    responses: { 200: json(s.CallResponse), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json({ call: await getMyCall(c.var.db, c.var.auth.userId, c.req.valid("param").callId) }, 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{callId}/ice-servers",
    operationId: "getCallIceServers",
    tags,
    summary: "Fresh ICE servers for a call I am in",
    description:
      "New TURN credentials for a call that is ringing or active (a long call outlives them: fetch these before " +
      "`turnExpiresAt`). A call that is over: `409 call_ended`.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: s.CallIdParam },
    responses: { 200: json(s.IceServersResponse), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { userId } = c.var.auth;
    const call = await getMyCall(c.var.db, userId, c.req.valid("param").callId);
    if (call.status !== "ringing" && call.status !== "active") throw new AppError(409, "call_ended", "This call is over");
    return c.json(await iceServersFor(c.env, userId), 200);
  },
);

const answerRoute = (path: "accept" | "reject" | "hangup", operationId: string, summary: string, description: string, withIce: boolean) =>
  createRoute({
    method: "post",
    path: `/{callId}/${path}`,
    operationId,
    tags,
    summary,
    description,
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: s.CallIdParam },
    responses: { 200: json(withIce ? s.CallWithIce : s.CallResponse), ...errorResponses(400, 401, 403, 404, 409, 503) },
  });

app.openapi(
  answerRoute(
    "accept",
    "acceptCall",
    "Answer a call on this device",
    "As the `call.accept` frame: the call is bound to this session for me, my other devices stop ringing " +
      "(`call.ringing_stopped`), the devices in the call get `call.accept`. Again from this session: nothing changes; from " +
      "another while joined: `409 already_joined`. Over: `409 call_ended`; not ringing for me: `409 not_ringing` (in a group " +
      "call that goes on, someone who left, declined or missed it may join again: `409 already_in_call` if they are in " +
      "another, `409 call_full` past 8 in a mesh). Answers the call and my ICE servers.",
    true,
  ),
  async (c) => {
    const { userId, sessionId } = c.var.auth;
    const { callId } = c.req.valid("param");
    await requireMyCall(c.var.db, userId, callId);
    const call = await callClient(c.env, callId).accept(userId, sessionId);
    return c.json({ call, ...(await iceServersFor(c.env, userId)) }, 200);
  },
);

app.openapi(
  answerRoute(
    "reject",
    "rejectCall",
    "Decline a call",
    "As the `call.reject` frame: my devices stop ringing, the devices in the call get `call.reject`; a direct call is " +
      "over (`rejected`). Declining again changes nothing; a call I am in: `409 not_ringing`; over: `409 call_ended`.",
    false,
  ),
  async (c) => {
    const { userId, sessionId } = c.var.auth;
    const { callId } = c.req.valid("param");
    await requireMyCall(c.var.db, userId, callId);
    return c.json({ call: await callClient(c.env, callId).decline(userId, sessionId, "rejected") }, 200);
  },
);

app.openapi(
  answerRoute(
    "hangup",
    "hangUpCall",
    "Leave a call",
    "As the `call.hangup` frame, from any of my devices: the others in the call get `call.hangup`; with one person left " +
      "and nobody ringing the call is over (`call.ended` to everyone). The caller hanging up before anyone answered " +
      "ends it as `missed`; a callee hanging up while it rings declines. Idempotent.",
    false,
  ),
  async (c) => {
    const { userId, sessionId } = c.var.auth;
    const { callId } = c.req.valid("param");
    await requireMyCall(c.var.db, userId, callId);
    return c.json({ call: await callClient(c.env, callId).hangUp(userId, sessionId) }, 200);
  },
);

export default app;
