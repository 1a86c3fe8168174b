import type { CallMediaKind } from "../db/schema";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { MAX_CALL_PARTICIPANTS, MESH_MAX_PARTICIPANTS, type SfuConfig, sfuConfig } from "./config";

/** An SDP offer or answer (RTCSessionDescriptionInit). */
export interface SessionDescription {
  type: "offer" | "answer";
  sdp: string;
}

/** A track to publish from this session (`local`) or to receive from another session of the call (`remote`). */
export type SfuTrackRequest =
  | { location: "local"; mid: string; trackName: string }
  | { location: "remote"; sessionId: string; trackName: string; mid?: string };

/** What the SFU answers about tracks: its SDP, whether to renegotiate at once, and each track (or its error). */
export interface SfuTracksAnswer {
  requiresImmediateRenegotiation?: boolean;
  sessionDescription?: SessionDescription;
  tracks?: { mid?: string; trackName?: string; sessionId?: string; error?: { errorCode?: string; errorDescription?: string } }[];
}

/**
 * An SFU's connection API as calls use it: a participant's device opens sessions (one WebRTC
 * connection each), publishes its tracks and receives other participants' tracks on them. The
 * app's SFU secret stays here; devices reach the SFU's API only through /calls/{id}/sfu/…, which
 * lets each one touch only its own sessions and this call's tracks.
 */
export interface SfuClient {
  /** A new session (optionally negotiated at once from an offer). */
  newSession(offer?: SessionDescription): Promise<{ sessionId: string; sessionDescription?: SessionDescription }>;
  /** Publish and/or receive tracks on a session. */
  tracks(sessionId: string, body: { sessionDescription?: SessionDescription; tracks: SfuTrackRequest[] }): Promise<SfuTracksAnswer>;
  /** The device's answer to an SFU offer (after `requiresImmediateRenegotiation`). */
  renegotiate(sessionId: string, body: { sessionDescription: SessionDescription }): Promise<Record<string, unknown>>;
}

/**
 * How a call's media flows, behind one interface: `mesh` (every pair of devices peer to peer; the
 * call's room passes their offers, answers and ICE candidates) or `sfu` (every device to the SFU,
 * whose client is here).
 */
export interface CallMedia {
  readonly kind: CallMediaKind;
  /** Most people one call of this media holds, the caller included. */
  readonly maxParticipants: number;
  /** The SFU's client (null for mesh). */
  readonly sfu: SfuClient | null;
}

export const MESH: CallMedia = { kind: "mesh", maxParticipants: MESH_MAX_PARTICIPANTS, sfu: null };

const sfuError = (status: 502 | 503, code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(status, code, message, details);

/**
 * Cloudflare Realtime's SFU (https://rtc.live.cloudflare.com/v1, `Authorization: Bearer <app
 * secret>`). Each call is one request; an answer that is not 2xx, or that carries `errorCode`,
 * is `502 sfu_error` with the SFU's code; no answer in 10 s, or none at all, `503 sfu_unavailable`.
 */
export function cloudflareRealtime(config: SfuConfig): SfuClient {
  const base = `${config.apiUrl}/apps/${encodeURIComponent(config.appId)}`;
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${config.appSecret}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "SFU unreachable", path, error: String(err) }));
      throw sfuError(503, "sfu_unavailable", "The SFU did not answer");
    }
    const answer = (await res.json().catch(() => null)) as (T & { errorCode?: string; errorDescription?: string }) | null;
    if (!res.ok || !answer || answer.errorCode) {
      const details = { status: res.status, errorCode: answer?.errorCode ?? null, errorDescription: answer?.errorDescription ?? null };
      console.error(JSON.stringify({ level: "error", msg: "SFU refused", path, ...details }));
      throw sfuError(502, "sfu_error", "The SFU refused the request", details);
    }
    return answer;
  }
  const session = (sessionId: string) => `/sessions/${encodeURIComponent(sessionId)}`;
  return {
    newSession: (offer) => call("POST", "/sessions/new", offer ? { sessionDescription: offer } : undefined),
    tracks: (sessionId, body) => call("POST", `${session(sessionId)}/tracks/new`, body),
    renegotiate: (sessionId, body) => call("PUT", `${session(sessionId)}/renegotiate`, body),
  };
}

/** The configured SFU's client, or null. */
export function configuredSfu(env: Pick<Bindings, "SFU_PROVIDER" | "SFU_APP_ID" | "SFU_APP_SECRET" | "SFU_API_URL">): SfuClient | null {
  const config = sfuConfig(env);
  return config ? cloudflareRealtime(config) : null;
}

/**
 * The media for a call of `size` people: a mesh up to MESH_MAX_PARTICIPANTS, the configured SFU
 * beyond (up to MAX_CALL_PARTICIPANTS); without an SFU, `422 sfu_not_configured`.
 */
export function callMediaFor(
  env: Pick<Bindings, "SFU_PROVIDER" | "SFU_APP_ID" | "SFU_APP_SECRET" | "SFU_API_URL">,
  size: number,
): CallMedia {
  if (size <= MESH_MAX_PARTICIPANTS) return MESH;
  const sfu = configuredSfu(env);
  if (!sfu) {
    throw new AppError(
      422,
      "sfu_not_configured",
      `Calls of more than ${MESH_MAX_PARTICIPANTS} people need an SFU, and none is configured`,
      { max: MESH_MAX_PARTICIPANTS },
    );
  }
  return { kind: "sfu", maxParticipants: MAX_CALL_PARTICIPANTS, sfu };
}
