import { z } from "zod";

/**
 * The realtime socket's protocol (`GET /api/v1/realtime`, one socket per device to the user's
 * hub): the frames a client may send, and the updates the hub tells a user's devices.
 */

/**
 * Frames larger than this are refused (the socket closes with 1009). Call signaling carries SDP
 * offers and answers, which reach 10–20 KB with many codecs and simulcast: 64 KiB, like the chat
 * sockets, leaves room for the largest (MAX_SDP_LENGTH) with the frame around it.
 */
export const MAX_HUB_FRAME_BYTES = 64 * 1024;
/** Sockets one session may hold to its hub; the next one closes the oldest (4008). */
export const MAX_HUB_SOCKETS_PER_SESSION = 4;
/**
 * How often one session may open realtime sockets: 10 at once, then one every 2 s. Past it the
 * upgrade answers `429 rate_limited` with `Retry-After` before anything else runs, so a device
 * reconnecting in a loop cannot flood the user's chats with presence changes. Kept in memory, like
 * the rooms' (a hub that hibernated starts full).
 */
export const HUB_SOCKET_OPENS = { burst: 10, refillPerSecond: 0.5 } as const;
/** Longest SDP an offer or answer may carry (characters; SDP is ASCII). */
export const MAX_SDP_LENGTH = 48 * 1024;

const FrameId = z.string().min(1).max(64).optional();
const CallId = z.uuid();
/** A device in a call: the user and the session (signed-in device) the call is bound to for them. */
const CallDevice = z.strictObject({ userId: z.uuid(), sessionId: z.string().min(1).max(100) });
/** RTCIceCandidateInit; an empty `candidate` is the end of candidates. */
const IceCandidate = z.strictObject({
  candidate: z.string().max(2048),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(1024).nullable().optional(),
  usernameFragment: z.string().max(256).nullable().optional(),
});
const Sdp = z.string().min(1).max(MAX_SDP_LENGTH);

/** Every frame a client may send on the realtime socket: sync and ping, and call signaling (src/calls/). */
export const HubClientFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("sync"), id: FrameId, afterUpdateSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  z.strictObject({ type: z.literal("ping"), id: FrameId }),
  z.strictObject({ type: z.literal("call.accept"), id: FrameId, callId: CallId }),
  z.strictObject({ type: z.literal("call.reject"), id: FrameId, callId: CallId }),
  z.strictObject({ type: z.literal("call.busy"), id: FrameId, callId: CallId }),
  z.strictObject({ type: z.literal("call.hangup"), id: FrameId, callId: CallId }),
  z.strictObject({ type: z.literal("call.offer"), id: FrameId, callId: CallId, to: CallDevice, sdp: Sdp }),
  z.strictObject({ type: z.literal("call.answer"), id: FrameId, callId: CallId, to: CallDevice, sdp: Sdp }),
  z.strictObject({ type: z.literal("call.ice"), id: FrameId, callId: CallId, to: CallDevice, candidate: IceCandidate }),
]);
export type HubClientFrame = z.infer<typeof HubClientFrame>;
/** The call signaling frames among them: the hub hands these to the calls module (call-port.ts). */
export type CallClientFrame = Extract<HubClientFrame, { type: `call.${string}` }>;
/** Signaling passed from one device of a call to another (offer, answer, ICE candidate). */
export type CallRelayFrame = Extract<CallClientFrame, { to: unknown }>;
/** Whether a client frame is call signaling. */
export const isCallFrame = (frame: HubClientFrame): frame is CallClientFrame => frame.type.startsWith("call.");

/**
 * A frame a call's room sends to devices on the realtime socket: live only (no `updateSeq`, not
 * replayed by sync), since a call is over in minutes; a device that (re)connects reads its calls
 * from GET /calls. The calls module defines each one (calls/frames.ts).
 */
export interface CallFrame {
  type: `call.${string}`;
  callId: string;
  [key: string]: unknown;
}

/** Which of a user's devices a call frame goes to: all, one session's sockets, or all but one session's. */
export interface CallFrameTarget {
  sessionId?: string;
  exceptSessionId?: string;
}

/** A chat list preview of a message (no content for encrypted chats: their text is null). */
export interface ChatPreview {
  id: string;
  seq: number;
  senderId: string | null;
  type: string;
  text: string | null;
  createdAt: string;
}

/**
 * What a user's devices are told, each logged with its `updateSeq`. Plain data (RPC from rooms
 * and the Worker): chat activity, read positions and drafts, membership, my settings and preferences,
 * security events.
 */
export type HubUpdate =
  | { type: "chat.activity"; chatId: string; lastSeq: number; lastMessage: ChatPreview | null; lastActivityAt: string }
  | { type: "chat.read"; chatId: string; readSeq: number; unread: number; mentions: number }
  | { type: "chat.draft"; chatId: string; draft: { text: string; replyToId: string | null; updatedAt: string } | null; at: string }
  | { type: "chat.added"; chatId: string; chatType: string; role: string; lastActivityAt?: string }
  | { type: "chat.removed"; chatId: string; reason: string }
  | { type: "chat.settings"; chatId: string; mutedUntil: string | null; pinned: boolean; archived: boolean; hidden: boolean }
  | {
      type: "security.event";
      eventType: string;
      sessionId: string | null;
      deviceId: string | null;
      ip: string | null;
      country: string | null;
    }
  | { type: "session.ended"; sessionId: string; reason: string }
  /** My preferences changed on one of my devices: read them again (GET /users/me/preferences) unless I hold this version. */
  | { type: "preferences.updated"; version: number };

/** One new message as a member's hub weighs it for a push notification. */
export interface PushHintMessage {
  seq: number;
  senderId: string | null;
  silent: boolean;
  mentions: string[];
  mentionsAll: boolean;
}

/**
 * What a room adds to a `chat.activity` for its members' hubs (not logged, never sent to a
 * socket): the messages since its last announcement, newest last, so each hub can decide whether
 * its user's offline devices are notified.
 */
export interface PushHint {
  chatType: string;
  encrypted: boolean;
  messages: PushHintMessage[];
}
