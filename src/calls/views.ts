import type { CallKind, CallMediaKind, CallParticipantRow, CallRow, CallStatus, ParticipantState } from "../db/schema";
import { iso } from "../lib/time";
import { RING_TIMEOUT_MS } from "./config";

/** One person in a call as the API shows it. */
export interface ParticipantView {
  userId: string;
  state: ParticipantState;
  /** The session their call is bound to while joined (where signaling to them goes); null otherwise. */
  sessionId: string | null;
  joinedAt: string | null;
  leftAt: string | null;
}

/** A call as the API and the `call.invite` frame show it. */
export interface CallView {
  id: string;
  chatId: string;
  callerId: string;
  kind: CallKind;
  media: CallMediaKind;
  status: CallStatus;
  participants: ParticipantView[];
  startedAt: string;
  /** When ringing stops for callees who have not answered. */
  ringUntil: string;
  answeredAt: string | null;
  endedAt: string | null;
  durationSeconds: number;
}

/** A participant as the call's room and D1 both hold it (times in ms). */
export interface ParticipantRecord {
  userId: string;
  state: ParticipantState;
  sessionId: string | null;
  invitedAt: number;
  joinedAt: number | null;
  leftAt: number | null;
}

/** The call's own fields as the call's room and D1 both hold them (times in ms). */
export interface CallRecord {
  id: string;
  chatId: string;
  callerId: string;
  kind: CallKind;
  media: CallMediaKind;
  status: CallStatus;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  durationSeconds: number;
}

const participantView = (p: ParticipantRecord): ParticipantView => ({
  userId: p.userId,
  state: p.state,
  sessionId: p.state === "joined" ? p.sessionId : null,
  joinedAt: iso(p.joinedAt),
  leftAt: iso(p.leftAt),
});

/** A call and its participants (caller first, then in the order they were invited) as the API shows them. */
export function callView(call: CallRecord, participants: readonly ParticipantRecord[]): CallView {
  return {
    id: call.id,
    chatId: call.chatId,
    callerId: call.callerId,
    kind: call.kind,
    media: call.media,
    status: call.status,
    participants: participants.map(participantView),
    startedAt: iso(call.startedAt),
    ringUntil: iso(call.startedAt + RING_TIMEOUT_MS),
    answeredAt: iso(call.answeredAt),
    endedAt: iso(call.endedAt),
    durationSeconds: call.durationSeconds,
  };
}

/** D1's rows of a call as the view shows them: the caller first, then the callees by user id (as the call's room orders them). */
export function callFromRows(row: CallRow, rows: readonly CallParticipantRow[]): CallView {
  const rank = (p: CallParticipantRow) => (p.userId === row.callerId ? "" : p.userId);
  return callView(
    row,
    [...rows].sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0)),
  );
}
