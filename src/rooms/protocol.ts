import { z } from "zod";
import { DraftFields, EditFields, editChangesSomething, MAX_TEXT_LENGTH, refineContent, SendContentFields } from "./content";
import { toEmoji } from "./emoji";
import { VoteFields } from "./poll-input";

/** Frames larger than this close the socket with 1009 (after an error frame). */
export const MAX_FRAME_BYTES = 64 * 1024;
export { MAX_TEXT_LENGTH };
export const TYPING_TTL_MS = 6_000;

const { type: _messageType, ...contentFields } = SendContentFields;
/** One emoji, taken fully qualified (`❤` means `❤️`). */
const Emoji = z
  .string()
  .refine((s) => toEmoji(s) !== null, "Must be exactly one emoji")
  .transform((s) => toEmoji(s)!);
const FrameId = z.string().min(1).max(64).optional();
const Seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Most messages one envelope acknowledgement may name. */
export const MAX_ACK_IDS = 500;
const AckIds = z.array(z.uuid()).min(1).max(MAX_ACK_IDS);

/** Every frame a client may send, validated as one discriminated union. */
export const ClientFrame = z.discriminatedUnion("type", [
  z
    .strictObject({
      type: z.literal("message.send"),
      id: FrameId,
      clientMessageId: z.string().min(1).max(64),
      // The frame's own `type` names the frame: the message's type travels as `messageType`.
      messageType: SendContentFields.type,
      ...contentFields,
    })
    .superRefine((frame, ctx) => refineContent({ ...frame, type: frame.messageType }, ctx)),
  z
    .strictObject({ type: z.literal("message.edit"), id: FrameId, messageId: z.uuid(), ...EditFields })
    .refine(editChangesSomething, "Give text or location"),
  z.strictObject({
    type: z.literal("message.delete"),
    id: FrameId,
    messageId: z.uuid(),
    for: z.enum(["me", "everyone"]).default("everyone"),
  }),
  z.strictObject({ type: z.literal("message.pin"), id: FrameId, messageId: z.uuid() }),
  z.strictObject({ type: z.literal("message.unpin"), id: FrameId, messageId: z.uuid() }),
  z.strictObject({ type: z.literal("poll.vote"), id: FrameId, messageId: z.uuid(), ...VoteFields }),
  z.strictObject({ type: z.literal("poll.retract"), id: FrameId, messageId: z.uuid() }),
  z.strictObject({ type: z.literal("poll.close"), id: FrameId, messageId: z.uuid() }),
  z.strictObject({ type: z.literal("reaction.add"), id: FrameId, messageId: z.uuid(), emoji: Emoji }),
  z.strictObject({ type: z.literal("reaction.remove"), id: FrameId, messageId: z.uuid(), emoji: Emoji }),
  z.strictObject({ type: z.literal("draft.set"), id: FrameId, ...DraftFields }),
  z.strictObject({ type: z.literal("draft.clear"), id: FrameId }),
  z.strictObject({ type: z.literal("typing.start"), id: FrameId }),
  z.strictObject({ type: z.literal("typing.stop"), id: FrameId }),
  z.strictObject({ type: z.literal("read"), id: FrameId, seq: Seq }),
  z.strictObject({ type: z.literal("delivered"), id: FrameId, seq: Seq }),
  z.strictObject({ type: z.literal("sync"), id: FrameId, afterEventSeq: Seq }),
  z.strictObject({ type: z.literal("envelope.ack"), id: FrameId, messageIds: AckIds }),
  z.strictObject({ type: z.literal("ping"), id: FrameId }),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

/** The exact text of a bare ping, answered by the runtime without waking a hibernated room. */
export const BARE_PING = '{"type":"ping"}';
export const BARE_PONG = '{"type":"pong"}';

/** Close codes the room uses besides the standard ones (listed in the README's socket protocol). */
export const CLOSE = {
  /** A socket that kept sending past its frame budget after the warning. */
  policyViolation: 1008,
  tooBig: 1009,
  removed: 4001,
  banned: 4002,
  chatDeleted: 4004,
  /** Logout, session revoked, password changed or reset, refresh-token reuse, account deleted. */
  sessionEnded: 4005,
  /** The account was suspended or banned. */
  accountRestricted: 4006,
  deviceBlocked: 4007,
  /** The user opened more than MAX_SOCKETS_PER_USER sockets to this chat: the oldest closes. */
  tooManySockets: 4008,
} as const;

/** Sockets one user may hold open in one chat; the next one closes the oldest (4008). */
export const MAX_SOCKETS_PER_USER = 10;

/**
 * How often one user may open sockets to one chat: 12 at once (the cap, and two more so a reload
 * after filling it still gets a socket, closing the oldest with 4008), then one every 5 s (12 a
 * minute: a client reconnecting with backoff, or someone switching chats, never meets it; a
 * client reconnecting in a loop gets no more than that). Past it
 * the upgrade answers `429 rate_limited` with `Retry-After` before the room asks the user's hub or
 * D1 anything, so a reconnect storm costs the room's other members little. Kept in memory: a room
 * that hibernated or was evicted starts every allowance full (a storm keeps the room awake).
 */
export const SOCKET_OPENS = { burst: MAX_SOCKETS_PER_USER + 2, refillPerSecond: 0.2 } as const;

/**
 * Why a session ended, as the auth code records it, and the close code and reason its sockets
 * get. Every way a session can end is listed, so a new one fails the typecheck until mapped.
 */
export const SESSION_END_CLOSE = {
  logout: { code: CLOSE.sessionEnded, text: "session ended: signed out" },
  ended_by_user: { code: CLOSE.sessionEnded, text: "session ended: revoked" },
  password_changed: { code: CLOSE.sessionEnded, text: "session ended: password changed" },
  password_reset: { code: CLOSE.sessionEnded, text: "session ended: password reset" },
  refresh_token_reuse: { code: CLOSE.sessionEnded, text: "session ended: refresh token reused" },
  account_deleted: { code: CLOSE.sessionEnded, text: "session ended: account deleted" },
  account_deactivated: { code: CLOSE.sessionEnded, text: "session ended: account deactivated" },
  account_suspended: { code: CLOSE.accountRestricted, text: "account suspended" },
  account_banned: { code: CLOSE.accountRestricted, text: "account banned" },
  device_blocked: { code: CLOSE.deviceBlocked, text: "device blocked" },
} as const satisfies Record<string, { code: number; text: string }>;
export type SessionEndReason = keyof typeof SESSION_END_CLOSE;
