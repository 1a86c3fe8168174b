import { AppError, notFound } from "../lib/errors";
import { type CallState, isOver } from "./call-state";

/** Sessions one participant may open on the SFU in one call (e.g. one to publish, one to receive). */
export const MAX_SFU_SESSIONS_PER_PARTICIPANT = 4;

/** A track a participant published on one of their SFU sessions. */
export interface PublishedTrack {
  userId: string;
  /** The SFU session it was published on (what others pull it from). */
  sessionId: string;
  trackName: string;
}

/**
 * What a call's room keeps of an SFU call: which SFU sessions belong to whom (a device may only
 * use its own), and the tracks published on them (a device may only receive this call's).
 */
export interface SfuState {
  sessions: { userId: string; sessionId: string }[];
  tracks: PublishedTrack[];
}

export const emptySfuState = (): SfuState => ({ sessions: [], tracks: [] });

/** What a device asks to do on the SFU. */
export interface SfuRequest {
  /** Opening a new session. */
  opening?: boolean;
  /** Acting on this session of theirs. */
  sfuSessionId?: string;
  /** Receiving tracks from these sessions. */
  remoteSessionIds?: string[];
}

/**
 * Whether `userId` may do `request` on the call's SFU: the call must be an SFU call (`409
 * not_sfu_call`) that goes on (`409 call_ended`) with them in it (`409 not_in_call`); a session
 * they act on must be theirs (`404 not_found`), at most MAX_SFU_SESSIONS_PER_PARTICIPANT of them
 * (`409 too_many_sfu_sessions`), and tracks they receive must come from this call's sessions of
 * people in it (`403 track_not_in_call`).
 */
export function checkSfuRequest(call: CallState, sfu: SfuState, userId: string, request: SfuRequest): void {
  const p = call.participants.find((x) => x.userId === userId);
  if (!p) throw notFound("Call");
  if (call.media !== "sfu") throw new AppError(409, "not_sfu_call", "This call is peer to peer: signal on the realtime socket");
  if (isOver(call)) throw new AppError(409, "call_ended", "This call is over");
  if (p.state !== "joined") throw new AppError(409, "not_in_call", "Accept the call first");
  const mine = sfu.sessions.filter((s) => s.userId === userId);
  if (request.opening && mine.length >= MAX_SFU_SESSIONS_PER_PARTICIPANT) {
    throw new AppError(409, "too_many_sfu_sessions", `At most ${MAX_SFU_SESSIONS_PER_PARTICIPANT} SFU sessions per person in a call`);
  }
  if (request.sfuSessionId !== undefined && !mine.some((s) => s.sessionId === request.sfuSessionId)) throw notFound("SFU session");
  const joined = new Set(call.participants.filter((x) => x.state === "joined").map((x) => x.userId));
  for (const remote of request.remoteSessionIds ?? []) {
    const owner = sfu.sessions.find((s) => s.sessionId === remote);
    if (!owner || !joined.has(owner.userId)) {
      throw new AppError(403, "track_not_in_call", "Tracks can only be received from this call's participants", { sessionId: remote });
    }
  }
}

/** Forget the sessions and tracks of people no longer in the call. */
export function pruneSfuState(call: CallState, sfu: SfuState): SfuState {
  const joined = new Set(call.participants.filter((p) => p.state === "joined").map((p) => p.userId));
  return { sessions: sfu.sessions.filter((s) => joined.has(s.userId)), tracks: sfu.tracks.filter((t) => joined.has(t.userId)) };
}
