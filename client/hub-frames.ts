import type { components } from "./generated/api";

/**
 * The realtime socket's server frames (README, The realtime socket), typed after src/hubs/protocol.ts
 * (HubUpdate). Each update carries the user's next `updateSeq`; `presence` is live only.
 */
type Schemas = components["schemas"];

/** A chat list preview of a message (encrypted chats have no text). */
export interface ChatPreview {
  id: string;
  seq: number;
  senderId: string | null;
  type: string;
  text: string | null;
  createdAt: string;
}

interface Logged<T extends string> {
  type: T;
  updateSeq: number;
  createdAt: string;
}

/** Updates of the user's hub, each with its `updateSeq`, replayed by `sync`. */
export type HubUpdate =
  | (Logged<"chat.activity"> & { chatId: string; lastSeq: number; lastMessage: ChatPreview | null; lastActivityAt: string })
  | (Logged<"chat.read"> & { chatId: string; readSeq: number; unread: number; mentions: number })
  | (Logged<"chat.draft"> & { chatId: string; draft: Schemas["Draft"] | null; at: string })
  | (Logged<"chat.added"> & { chatId: string; chatType: string; role: string; lastActivityAt?: string })
  | (Logged<"chat.removed"> & { chatId: string; reason: string })
  | (Logged<"chat.settings"> & { chatId: string; mutedUntil: string | null; pinned: boolean; archived: boolean; hidden: boolean })
  | (Logged<"security.event"> & {
      eventType: string;
      sessionId: string | null;
      deviceId: string | null;
      ip: string | null;
      country: string | null;
    })
  | (Logged<"session.ended"> & { sessionId: string; reason: string })
  | (Logged<"preferences.updated"> & { version: number });

/** Live-only frames of the realtime socket. */
export type HubLiveFrame =
  | { type: "hello"; updateSeq: number }
  | { type: "presence"; changes: { userId: string; online: boolean; lastSeenAt?: string }[] };

/** Every frame the realtime socket's server sends. */
export type HubServerFrame =
  | HubUpdate
  | HubLiveFrame
  | ({ type: "ack"; id?: string } & Record<string, unknown>)
  | { type: "error"; id?: string; code: string; message: string };
