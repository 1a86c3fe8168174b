import { createRoute } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { ErrorSchema, errorResponses, json, jsonBody, newRouter, userSecurity } from "../lib/openapi";
import { configuredSfu, type SfuClient } from "./call-media";
import { callClient } from "./client";
import { requireMyCall } from "./history";
import { CallIdParam } from "./schemas";
import * as s from "./sfu-schemas";

/**
 * /api/v1/calls/{callId}/sfu/…: calls of more than 8 people (media `sfu`) go through the SFU, whose
 * API needs the app's secret, so devices reach it through here: each may open sessions of its
 * own, publish tracks on them and receive the tracks the others in the call published, nothing
 * else. The call's room keeps whose sessions and tracks these are (sfu-state.ts) and tells the
 * others of new tracks (`call.tracks`). Answers are the SFU's (Cloudflare Realtime's), passed on.
 */
const tags = ["Calls"];
const auth = requireAuth({ allowBots: false });
const app = newRouter();

/** The SFU, for a call whose media is `sfu` (`503 sfu_not_configured` if the configuration went since it started). */
function sfuOf(env: Bindings): SfuClient {
  const sfu = configuredSfu(env);
  if (!sfu) throw new AppError(503, "sfu_not_configured", "No SFU is configured");
  return sfu;
}

/** The SFU refused or failed a request it was passed (`sfu_error`, with its code). */
const SFU_FAILED = {
  502: {
    description: "The SFU refused the request (`sfu_error`, `details.errorCode`)",
    content: { "application/json": { schema: ErrorSchema } },
  },
};

const SFU_ERRORS =
  "Not my call: `404 not_found`; a peer-to-peer call: `409 not_sfu_call`; over: `409 call_ended`; not joined: " +
  "`409 not_in_call`; the SFU refusing or failing: `502 sfu_error` (with its code), `503 sfu_unavailable`.";

app.openapi(
  createRoute({
    method: "post",
    path: "/{callId}/sfu/sessions",
    operationId: "openCallSfuSession",
    tags,
    summary: "Open a session on the call's SFU",
    description: `A WebRTC connection of this device to the SFU (at most 4 per person and call: \`409 too_many_sfu_sessions\`). ${SFU_ERRORS}`,
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: CallIdParam, body: jsonBody(s.NewSfuSessionBody) },
    responses: { 201: json(s.SfuSessionAnswer, "Opened"), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503), ...SFU_FAILED },
  }),
  async (c) => {
    const { userId } = c.var.auth;
    const { callId } = c.req.valid("param");
    await requireMyCall(c.var.db, userId, callId);
    const call = callClient(c.env, callId);
    await call.sfuCheck(userId, { opening: true });
    const opened = await sfuOf(c.env).newSession(c.req.valid("json").sessionDescription);
    await call.sfuSessionOpened(userId, opened.sessionId);
    return c.json(opened, 201);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/{callId}/sfu/sessions/{sfuSessionId}/tracks",
    operationId: "addCallSfuTracks",
    tags,
    summary: "Publish or receive tracks on my SFU session",
    description:
      "`local` tracks are published (the others in the call hear `call.tracks`); `remote` tracks are received from " +
      `another session of this call (\`403 track_not_in_call\` otherwise). Someone else's session: \`404 not_found\`. ${SFU_ERRORS}`,
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: s.SfuSessionParam, body: jsonBody(s.SfuTracksBody) },
    responses: { 200: json(s.SfuTracksAnswer), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503), ...SFU_FAILED },
  }),
  async (c) => {
    const { userId } = c.var.auth;
    const { callId, sfuSessionId } = c.req.valid("param");
    const body = c.req.valid("json");
    await requireMyCall(c.var.db, userId, callId);
    const call = callClient(c.env, callId);
    const remoteSessionIds = body.tracks.flatMap((t) => (t.location === "remote" ? [t.sessionId] : []));
    await call.sfuCheck(userId, { sfuSessionId, remoteSessionIds });
    const answer = await sfuOf(c.env).tracks(sfuSessionId, body);
    const local = new Set(body.tracks.flatMap((t) => (t.location === "local" ? [t.trackName] : [])));
    const published = (answer.tracks ?? []).flatMap((t) => (t.trackName && local.has(t.trackName) && !t.error ? [t.trackName] : []));
    if (published.length > 0) await call.sfuTracksPublished(userId, sfuSessionId, published);
    return c.json(answer, 200);
  },
);

app.openapi(
  createRoute({
    method: "put",
    path: "/{callId}/sfu/sessions/{sfuSessionId}/renegotiate",
    operationId: "renegotiateCallSfuSession",
    tags,
    summary: "Answer the SFU's renegotiation on my session",
    description: `After \`requiresImmediateRenegotiation\`: this device's answer to the SFU's offer. ${SFU_ERRORS}`,
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: s.SfuSessionParam, body: jsonBody(s.SfuRenegotiateBody) },
    responses: { 200: json(s.SfuRenegotiateAnswer), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503), ...SFU_FAILED },
  }),
  async (c) => {
    const { userId } = c.var.auth;
    const { callId, sfuSessionId } = c.req.valid("param");
    await requireMyCall(c.var.db, userId, callId);
    await callClient(c.env, callId).sfuCheck(userId, { sfuSessionId });
    return c.json(await sfuOf(c.env).renegotiate(sfuSessionId, c.req.valid("json")), 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{callId}/sfu/tracks",
    operationId: "listCallSfuTracks",
    tags,
    summary: "Tracks published in the call",
    description: `What the people in the call published (receive them with \`remote\` tracks). ${SFU_ERRORS}`,
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: CallIdParam },
    responses: { 200: json(s.PublishedTracks), ...errorResponses(400, 401, 403, 404, 409, 503) },
  }),
  async (c) => {
    const { userId } = c.var.auth;
    const { callId } = c.req.valid("param");
    await requireMyCall(c.var.db, userId, callId);
    return c.json({ tracks: await callClient(c.env, callId).sfuTracks(userId) }, 200);
  },
);

export default app;
