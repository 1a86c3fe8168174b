import { z } from "zod";

/**
 * The realtime socket's protocol (`GET /api/v1/realtime`, one socket per device to the user's
 * hub): the frames a client may send, and the updates the hub tells a user's devices.
 */

/** Frames larger than this are refused (the socket closes with 1009): clients only sync and ping. */
export const MAX_HUB_FRAME_BYTES = 4096;
/** Sockets one session may hold to its hub; the next one closes the oldest (4008). */
export const MAX_HUB_SOCKETS_PER_SESSION = 4;

const FrameId = z.string().min(1).max(64).optional();

/** Every frame a client may send on the realtime socket. */
export const HubClientFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("sync"), id: FrameId, afterUpdateSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  z.strictObject({ type: z.literal("ping"), id: FrameId }),
]);
export type HubClientFrame = z.infer<typeof HubClientFrame>;

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
