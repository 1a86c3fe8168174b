import type { CallStatus } from "../db/schema";
import { AppError, notFound } from "../lib/errors";
import { iso } from "../lib/time";
import { MESH_MAX_PARTICIPANTS } from "./config";
import type { CallServerFrame, Delivery, RingingStopReason } from "./frames";
import { type CallRecord, callView, type ParticipantRecord } from "./views";

/**
 * A call's state machine, without storage or I/O: each step changes a CallState in place and
 * records what changed (rows for D1) and what to tell whom (deliveries). The call's room
 * (call-room.ts) runs the steps one at a time, writes what changed, then sends.
 */

/** Everything the call's room holds about a call. */
export interface CallState extends CallRecord {
  chatType: "direct" | "group";
  participants: ParticipantRecord[];
}

/** What the Worker decided before the call starts (membership, privacy, blocks, media). */
export interface StartCallInput {
  callId: string;
  chatId: string;
  chatType: "direct" | "group";
  callerId: string;
  /** The caller's session: the call is bound to it for them. */
  callerSessionId: string;
  kind: CallState["kind"];
  media: CallState["media"];
  calleeIds: string[];
}

/** The call as it starts: the caller joined on their session, then each callee ringing (or busy: their line was taken). */
export function initialState(input: StartCallInput, calleeIds: readonly string[], ringing: ReadonlySet<string>, at: number): CallState {
  const { callId: id, chatId, chatType, callerId, callerSessionId, kind, media } = input;
  return {
    ...{ id, chatId, chatType, callerId, kind, media },
    ...{ status: "ringing", startedAt: at, answeredAt: null, endedAt: null, durationSeconds: 0 },
    participants: [
      { userId: callerId, state: "joined", sessionId: callerSessionId, invitedAt: at, joinedAt: at, leftAt: null },
      ...calleeIds.map((userId) => ({
        userId,
        state: ringing.has(userId) ? ("ringing" as const) : ("busy" as const),
        sessionId: null,
        invitedAt: at,
        joinedAt: null,
        leftAt: null,
      })),
    ],
  };
}

/** What one step did. */
export interface Step {
  /** Users whose participant row changed. */
  changed: Set<string>;
  callChanged: boolean;
  deliveries: Delivery[];
  /** The call is over (it was not before this step). */
  ended: boolean;
}

export const newStep = (): Step => ({ changed: new Set(), callChanged: false, deliveries: [], ended: false });

/** Whether the call is over (any final status). */
export const isOver = (call: Pick<CallRecord, "status">) => call.status !== "ringing" && call.status !== "active";

const callNotFound = () => notFound("Call");
const callEnded = () => new AppError(409, "call_ended", "This call is over");

function participant(state: CallState, userId: string): ParticipantRecord {
  const p = state.participants.find((x) => x.userId === userId);
  if (!p) throw callNotFound();
  return p;
}

const joined = (state: CallState) => state.participants.filter((p) => p.state === "joined");
const ringing = (state: CallState) => state.participants.filter((p) => p.state === "ringing");

/** A frame to the devices in the call (each joined participant's bound session), but `exceptUserId`'s. */
function toJoined(state: CallState, step: Step, frame: CallServerFrame, exceptUserId?: string): void {
  for (const p of joined(state)) {
    if (p.userId !== exceptUserId && p.sessionId) step.deliveries.push({ userId: p.userId, target: { sessionId: p.sessionId }, frame });
  }
}

function stopRinging(state: CallState, step: Step, userId: string, reason: RingingStopReason, exceptSessionId?: string): void {
  const frame: CallServerFrame = { type: "call.ringing_stopped", callId: state.id, reason };
  step.deliveries.push({ userId, target: exceptSessionId ? { exceptSessionId } : {}, frame });
}

/** The first step: the caller is in, callees ring (on every device) unless busy. */
export function started(state: CallState): Step {
  const step = newStep();
  const view = callView(state, state.participants);
  for (const p of ringing(state)) {
    step.deliveries.push({ userId: p.userId, target: {}, frame: { type: "call.invite", callId: state.id, call: view } });
  }
  for (const p of state.participants.filter((x) => x.state === "busy")) {
    toJoined(state, step, { type: "call.busy", callId: state.id, userId: p.userId });
  }
  finishIfOver(state, step, state.startedAt);
  return step;
}

/**
 * `userId` answers on `sessionId`: the call is bound to that device for them, their other devices
 * stop ringing, and the devices in the call hear of it. Again from the same device: nothing
 * changes. In a group call that goes on, someone who left, declined or missed it may join again.
 */
export function accept(state: CallState, userId: string, sessionId: string, at: number): Step {
  const step = newStep();
  const p = participant(state, userId);
  if (isOver(state)) throw callEnded();
  if (p.state === "joined") {
    if (p.sessionId === sessionId) return step;
    throw new AppError(409, "already_joined", "You are in this call on another device");
  }
  const wasRinging = p.state === "ringing";
  if (!wasRinging && !(state.chatType === "group" && state.status === "active")) {
    throw new AppError(409, "not_ringing", "This call is not ringing for you");
  }
  if (state.media === "mesh" && joined(state).length >= MESH_MAX_PARTICIPANTS) {
    throw new AppError(409, "call_full", `A peer-to-peer call holds at most ${MESH_MAX_PARTICIPANTS} people`);
  }
  Object.assign(p, { state: "joined", sessionId, joinedAt: p.joinedAt ?? at, leftAt: null });
  step.changed.add(userId);
  if (state.status === "ringing") {
    Object.assign(state, { status: "active", answeredAt: at });
    step.callChanged = true;
  }
  toJoined(state, step, { type: "call.accept", callId: state.id, from: { userId, sessionId } }, userId);
  if (wasRinging) stopRinging(state, step, userId, "accepted_elsewhere", sessionId);
  return step;
}

/**
 * A ringing callee declines (`rejected`), or says their device is busy (`busy`): their line is
 * free again, their other devices stop ringing, the devices in the call hear of it. Repeating the
 * same answer changes nothing.
 */
export function decline(state: CallState, userId: string, answer: "rejected" | "busy", sessionId: string | null, at: number): Step {
  const step = newStep();
  const p = participant(state, userId);
  if (p.state === answer) return step;
  if (isOver(state)) throw callEnded();
  if (p.state !== "ringing") throw new AppError(409, "not_ringing", "This call is not ringing for you");
  p.state = answer;
  step.changed.add(userId);
  stopRinging(state, step, userId, answer === "busy" ? "busy_elsewhere" : "rejected_elsewhere", sessionId ?? undefined);
  toJoined(
    state,
    step,
    answer === "busy" ? { type: "call.busy", callId: state.id, userId } : { type: "call.reject", callId: state.id, from: { userId } },
  );
  finishIfOver(state, step, at);
  return step;
}

/**
 * `userId` leaves (from any of their devices; a ringing callee hanging up declines). The others
 * hear of it, and so do the leaver's other devices. Idempotent: leaving a call you are not in, or
 * one that is over, changes nothing.
 */
export function hangUp(state: CallState, userId: string, sessionId: string | null, at: number): Step {
  const p = participant(state, userId);
  if (isOver(state)) return newStep();
  if (p.state === "ringing") return decline(state, userId, "rejected", sessionId, at);
  if (p.state !== "joined") return newStep();
  const step = newStep();
  const from = { userId, sessionId: p.sessionId ?? "" };
  Object.assign(p, { state: "left", sessionId: null, leftAt: at });
  step.changed.add(userId);
  const frame: CallServerFrame = { type: "call.hangup", callId: state.id, from };
  toJoined(state, step, frame);
  step.deliveries.push({ userId, target: sessionId ? { exceptSessionId: sessionId } : {}, frame });
  finishIfOver(state, step, at);
  return step;
}

/** The ring timeout: callees still ringing missed the call (which ends unless two are in it). */
export function ringTimedOut(state: CallState, at: number): Step {
  const step = newStep();
  const missed = ringing(state);
  if (isOver(state) || missed.length === 0) return step;
  for (const p of missed) {
    p.state = "missed";
    step.changed.add(p.userId);
  }
  finishIfOver(state, step, at);
  if (step.ended) return step;
  for (const p of missed) stopRinging(state, step, p.userId, "timeout");
  toJoined(state, step, { type: "call.missed", callId: state.id, userIds: missed.map((p) => p.userId) });
  return step;
}

/**
 * Sessions of `userId` ended (`all`: the whole account was switched off): if the call is bound to
 * one of them they leave it; a whole account also stops ringing (missed). Nothing else changes.
 */
export function sessionsEnded(state: CallState, userId: string, sessionIds: readonly string[], all: boolean, at: number): Step {
  const p = state.participants.find((x) => x.userId === userId);
  if (!p || isOver(state)) return newStep();
  if (p.state === "joined" && (all || (p.sessionId !== null && sessionIds.includes(p.sessionId)))) return hangUp(state, userId, null, at);
  if (p.state !== "ringing" || !all) return newStep();
  const step = newStep();
  p.state = "missed";
  step.changed.add(userId);
  toJoined(state, step, { type: "call.missed", callId: state.id, userIds: [userId] });
  finishIfOver(state, step, at);
  return step;
}

/**
 * The call is over once nobody is in it, or one person is and nobody is ringing. Then the ringing
 * missed it, the joined left, and the status says how it went: `ended` if it was ever answered,
 * else `missed`, `rejected` or `busy` (the first that some callee's state is).
 */
function finishIfOver(state: CallState, step: Step, at: number): void {
  if (isOver(state)) return;
  const inCall = joined(state).length;
  if (inCall > 1 || (inCall === 1 && ringing(state).length > 0)) return;
  for (const p of state.participants) {
    if (p.state === "ringing") p.state = "missed";
    else if (p.state === "joined") Object.assign(p, { state: "left", sessionId: null, leftAt: at });
    else continue;
    step.changed.add(p.userId);
  }
  const states = new Set(state.participants.filter((p) => p.userId !== state.callerId).map((p) => p.state));
  const status: CallStatus =
    state.answeredAt !== null
      ? "ended"
      : states.has("missed")
        ? "missed"
        : states.has("rejected")
          ? "rejected"
          : states.has("busy")
            ? "busy"
            : "missed";
  const durationSeconds = state.answeredAt !== null ? Math.max(0, Math.floor((at - state.answeredAt) / 1000)) : 0;
  Object.assign(state, { status, endedAt: at, durationSeconds });
  step.callChanged = true;
  step.ended = true;
  const frame: CallServerFrame = { type: "call.ended", callId: state.id, status, durationSeconds, endedAt: iso(at) };
  // Everyone who rang or was in it, on every device; callees busy from the start never rang.
  for (const p of state.participants) if (p.state !== "busy") step.deliveries.push({ userId: p.userId, target: {}, frame });
}
