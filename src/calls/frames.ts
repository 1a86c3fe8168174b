import type { CallStatus } from "../db/schema";
import type { CallFrameTarget, CallRelayFrame } from "../hubs/protocol";
import type { CallView } from "./views";

/** A device in a call: the user and the session the call is bound to for them. */
export interface CallDevice {
  userId: string;
  sessionId: string;
}

/** Why a user's devices stop ringing while the call goes on (or just ended for them). */
export type RingingStopReason = "accepted_elsewhere" | "rejected_elsewhere" | "busy_elsewhere" | "timeout";

/**
 * Every frame a call's room sends to devices on the realtime socket (live, no updateSeq). Each is
 * routed to the call's participants only: see README, "Calls".
 */
export type CallServerFrame =
  /** To every device of each callee: ring. */
  | { type: "call.invite"; callId: string; call: CallView }
  /** To the devices in the call: someone joined on `from.sessionId` (mesh: offer to them). */
  | { type: "call.accept"; callId: string; from: CallDevice }
  /** To the devices in the call: a callee declined. */
  | { type: "call.reject"; callId: string; from: { userId: string } }
  /** To the devices in the call: a callee is in another call (or their device said busy). */
  | { type: "call.busy"; callId: string; userId: string }
  /** To the devices in the call (and the leaver's other devices): someone left. */
  | { type: "call.hangup"; callId: string; from: CallDevice }
  /** To the devices in the call: these callees did not answer within the ring timeout. */
  | { type: "call.missed"; callId: string; userIds: string[] }
  /** To one user's other devices: stop ringing, the call was handled (or timed out) for you. */
  | { type: "call.ringing_stopped"; callId: string; reason: RingingStopReason }
  /** To every device of every participant who rang or joined: the call is over. */
  | { type: "call.ended"; callId: string; status: CallStatus; durationSeconds: number; endedAt: string }
  /** SFU calls, to the other devices in the call: `from` published these tracks (receive them from that SFU session). */
  | { type: "call.tracks"; callId: string; from: CallDevice; tracks: { sessionId: string; trackName: string }[] }
  /** Signaling from one device to another, as sent, with who sent it. */
  | ({ callId: string; from: CallDevice } & (
      | { type: "call.offer"; sdp: string }
      | { type: "call.answer"; sdp: string }
      | { type: "call.ice"; candidate: Extract<CallRelayFrame, { type: "call.ice" }>["candidate"] }
    ));

/** A frame for some of one user's devices. */
export interface Delivery {
  userId: string;
  target: CallFrameTarget;
  frame: CallServerFrame;
}
