import type { components } from "./generated/api";

/**
 * The chat socket's server frames (README, The chat socket), typed. Messages, drafts and scheduled
 * messages are the generated API schemas, so they change with the server's; the frame envelopes
 * follow src/rooms (frames.ts, the emitters of each event).
 */
type Schemas = components["schemas"];
export type Message = Schemas["Message"];
type PollOption = NonNullable<Schemas["Poll"]>["options"][number];

/** The fields of every logged event: its place in the chat's event log. */
interface Logged<T extends string> {
  type: T;
  eventSeq: number;
  createdAt: string;
}
type MessageRef = { messageId: string; seq: number };

/** Events of the chat's log: sent live (except reaction changes) and replayed by `sync`, each with its `eventSeq`. */
export type ChatEvent =
  | (Logged<"message.new"> & { message: Message })
  | (Logged<"message.updated"> & { message: Message })
  | (Logged<"message.deleted"> & MessageRef)
  | (Logged<"message.expired"> & MessageRef)
  | (Logged<"message.replies"> & MessageRef & { replyCount: number })
  | (Logged<"message.pinned"> & MessageRef & { pinnedBy: string })
  | (Logged<"message.unpinned"> & MessageRef & { unpinnedBy: string })
  | (Logged<"reaction.added"> & MessageRef & { userId: string; emoji: string })
  | (Logged<"reaction.removed"> & MessageRef & { userId: string; emoji: string })
  | (Logged<"receipt"> & { userId: string; kind: "read" | "delivered"; seq: number })
  | (Logged<"member.joined"> & { userId: string; role: string })
  | (Logged<"member.updated"> & { userId: string; role: string; overrides?: unknown })
  | (Logged<"member.left"> & { userId: string; reason: string })
  | (Logged<"member.removed"> & { userId: string; reason: string })
  | (Logged<"chat.updated"> & { chat: Record<string, unknown> })
  | (Logged<"chat.truncated"> & { seq: number; actorId?: string | null })
  | (Logged<"poll.updated"> & MessageRef & { totalVoters: number; closed: boolean; options: PollOption[] })
  | (Logged<"poll.closed"> & MessageRef & { totalVoters: number; options: PollOption[] })
  | (Logged<"message.scheduled"> & { scheduled: Schemas["ScheduledMessage"] })
  | (Logged<"message.scheduled.updated"> & { scheduled: Schemas["ScheduledMessage"] })
  | (Logged<"message.scheduled.cancelled"> & { id: string })
  | (Logged<"message.scheduled.failed"> & { id: string; error: { code: string; message: string } });

/** Live-only frames: not logged, never replayed. */
export type ChatLiveFrame =
  | { type: "hello"; chatId: string; lastSeq: number; lastEventSeq: number; online: string[] }
  | { type: "typing"; userId: string; typing: boolean; expiresAt?: string }
  | { type: "presence"; changes: { userId: string; online: boolean; lastSeenAt?: string }[] }
  /** Coalesced reaction counts; every reaction change up to `lastEventSeq` is reflected. */
  | { type: "reactions"; messageId: string; seq: number; reactions: { emoji: string; count: number }[]; lastEventSeq: number }
  /** My draft changed on another socket of mine, or was cleared by sending. */
  | { type: "draft"; chatId: string; draft: Schemas["Draft"] | null }
  | { type: "envelope.delivered"; messageId: string; seq: number; userId: string; deviceId: number; deliveredAt: string };

/** An answer to a client frame that carried `id`. */
export type AckFrame = { type: "ack"; id?: string } & Record<string, unknown>;
export type ErrorFrame = { type: "error"; id?: string; code: string; message: string; details?: unknown };

/** Every frame the chat socket's server sends (batches already unpacked). */
export type ChatServerFrame = ChatEvent | ChatLiveFrame | AckFrame | ErrorFrame | { type: "pong" };

/** A point on the map, as a message carries it. */
export type GeoLocation = NonNullable<Schemas["GeoLocation"]>;

/** The content of a message to send (the fields of POST …/messages; the message's `type` is `messageType`, default `text`). */
export type OutgoingMessage = Omit<
  Schemas["SendMessageRequest"],
  "clientMessageId" | "type" | "ciphertext" | "envelopes" | "scheduledAt" | "location"
> & {
  messageType?: Schemas["SendMessageRequest"]["type"];
  // The document's GeoLocation is the message's (nullable); a send takes a location or none.
  location?: GeoLocation;
};

/** What the server answers a send with: the stored message, and whether it was stored by an earlier try (same clientMessageId). */
export interface SendResult {
  message: Message;
  duplicate: boolean;
}

type WithId<T> = T & { id?: string };
/** Every frame a client may send on the chat socket (test/client-protocol-contract.ts checks the room accepts each). */
export type ChatClientFrame = WithId<
  | ({ type: "message.send"; clientMessageId: string } & OutgoingMessage)
  | { type: "message.edit"; messageId: string; text?: string; location?: Omit<GeoLocation, "liveUntil"> }
  | { type: "message.delete"; messageId: string; for?: "me" | "everyone" }
  | { type: "message.pin" | "message.unpin"; messageId: string }
  | { type: "poll.vote"; messageId: string; optionIds: string[] }
  | { type: "poll.retract" | "poll.close"; messageId: string }
  | { type: "reaction.add" | "reaction.remove"; messageId: string; emoji: string }
  | { type: "draft.set"; text: string; replyToId?: string }
  | { type: "draft.clear" }
  | { type: "typing.start" | "typing.stop" }
  | { type: "read" | "delivered"; seq: number }
  | { type: "envelope.ack"; messageIds: string[] }
  | { type: "sync"; afterEventSeq: number }
  | { type: "ping" }
>;
/** The frames `ChatSocket.request` takes: everything but what the socket itself manages (sends, sync, typing, ping). */
export type ChatRequestFrame = Exclude<ChatClientFrame, { type: "message.send" | "sync" | "typing.start" | "typing.stop" | "ping" }>;
