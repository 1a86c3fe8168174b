/**
 * Types shared by the Worker and the ChatRoom Durable Object (RPC arguments and results). They
 * avoid `unknown`: RPC stubs type members they cannot prove serializable as `never`.
 */
import type { MessageEntity } from "./entities";
import type { PollInput, PollView } from "./poll-types";

export type { MessageEntity, PollInput, PollView };
export type Scalar = string | number | boolean | null;
/** Flat JSON objects: system notices, error details. */
export type FlatJson = { [key: string]: Scalar | string[] | undefined };

export type ChatType = "direct" | "group" | "channel";
export type MemberRole = "owner" | "admin" | "member";

/** What a plain member may do; owners and admins may do everything. */
export interface MemberPermissions {
  sendMessages: boolean;
  sendMedia: boolean;
  addMembers: boolean;
  pinMessages: boolean;
  changeInfo: boolean;
}

export const DEFAULT_PERMISSIONS: MemberPermissions = {
  sendMessages: true,
  sendMedia: true,
  addMembers: true,
  pinMessages: false,
  changeInfo: false,
};

/** The room's copy of one member (the Worker keeps it fresh by RPC; D1 stays the source of truth). */
export interface RoomMember {
  userId: string;
  role: MemberRole;
  /** This member's own permission overrides on top of the chat's defaults (null: none). */
  overrides: Partial<MemberPermissions> | null;
  /** The member's privacy setting: when false their read receipts are not shown to others. */
  readReceipts: boolean;
  /**
   * Shadow-banned until this time (ms; SHADOW_BAN_FOREVER for no end): only they see what they
   * post. Null: not shadow-banned; absent: unchanged (a new member: not shadow-banned).
   */
  shadowBannedUntil?: number | null;
}

/** `shadowBannedUntil` of a shadow ban without an end. */
export const SHADOW_BAN_FOREVER = Number.MAX_SAFE_INTEGER;

export interface ChatConfig {
  chatId: string;
  type: ChatType;
  frozen: boolean;
  slowModeSeconds: number;
  /** Messages of this chat may not be forwarded (absent in configs stored before the setting existed: false). */
  noForwards?: boolean;
  /** End-to-end encrypted: the room holds ciphertext only and never indexes it for search (absent before: false). */
  encrypted?: boolean;
  /** Disappearing messages: each message sent from now on is erased this many seconds after it was sent (null/absent: off). */
  messageTtlSeconds?: number | null;
  /** Default permissions of plain members. */
  permissions: MemberPermissions;
}

/** Permissions stored as JSON in D1 (chat defaults or a member's overrides); null when none. */
export const parsePermissions = (json: string | null): Partial<MemberPermissions> | null =>
  json ? (JSON.parse(json) as Partial<MemberPermissions>) : null;

/** A member's effective permissions: owners and admins may do everything; members get defaults plus overrides. */
export function effectivePermissions(
  role: MemberRole,
  defaults: Partial<MemberPermissions> | null,
  overrides: Partial<MemberPermissions> | null,
): MemberPermissions {
  if (role === "owner" || role === "admin")
    return { sendMessages: true, sendMedia: true, addMembers: true, pinMessages: true, changeInfo: true };
  return { ...DEFAULT_PERMISSIONS, ...defaults, ...overrides };
}

/**
 * A JSON object as stored and returned unchanged (custom metadata), validated where it enters.
 * Typed shallowly: RPC stubs cannot type a recursive JSON type.
 */
export type JsonObject = { [key: string]: Scalar | object };

/**
 * Kinds of message a member may send; `system` messages come from the server only. `encrypted` is
 * the one kind an end-to-end encrypted chat takes (and the only one it takes).
 */
export const SENDABLE_TYPES = ["text", "image", "video", "voice", "file", "sticker", "location", "contact", "poll", "encrypted"] as const;
export type SendableType = (typeof SENDABLE_TYPES)[number];
export type MessageType = SendableType | "system";
/** Types that carry media: they need the `sendMedia` permission and at least one attachment. */
export const MEDIA_TYPES: readonly MessageType[] = ["image", "video", "voice", "file", "sticker"];

/** A media item a message carries, as it was when sent (the bytes are read through GET /media/{id}). */
export interface Attachment {
  mediaId: string;
  mimeType: string;
  size: number;
  fileName: string | null;
}

export interface GeoLocation {
  lat: number;
  lng: number;
  /** Radius of uncertainty in metres. */
  accuracy?: number;
  /** A live location: updated by edits until this time (ISO 8601). */
  liveUntil?: string;
}

/** A shared contact: a user of this app, or a name with a phone number and/or email. */
export interface SharedContact {
  userId?: string;
  name?: string;
  phone?: string;
  email?: string;
}

/** A snapshot of the quoted message, taken when quoting (erased if that message is deleted). */
export interface Quote {
  id: string;
  seq: number;
  senderId: string | null;
  type: MessageType;
  text: string | null;
}

/** Where a forwarded message first came from. */
export interface ForwardedFrom {
  chatId: string;
  messageId: string;
  senderId: string | null;
}

/**
 * One recipient device's copy of an encrypted send, as the sender gives it: opaque to the server,
 * which only checks that the set matches the members' devices (rooms/envelopes.ts).
 */
export interface EnvelopeInput {
  userId: string;
  /** The recipient's key device (GET /keys/{userId}/devices). */
  deviceId: number;
  /** The registration id the sender encrypted for; a device that re-registered since has another. */
  registrationId: number;
  /** libsignal's CiphertextMessageType (2 whisper, 3 prekey, 7 sender key, 8 plaintext), passed through. */
  type: number;
  /** The ciphertext, standard base64. */
  body: string;
}

/** A member's key device as a session knows it: its number and its current registration id. */
export interface KeyDevice {
  deviceId: number;
  registrationId: number;
}

/** The envelope a device receives: its own, until it acknowledges it (then null). */
export interface DeviceEnvelope {
  deviceId: number;
  type: number;
  body: string;
}

/** A message as the API and the socket show it. */
export interface Message {
  id: string;
  seq: number;
  chatId: string;
  senderId: string | null;
  clientMessageId: string | null;
  type: MessageType;
  /** The text, or a media message's caption; null once deleted, and for system messages. */
  text: string | null;
  /** For system messages: what happened ({event, actorId, userIds, …}), as stored (JSON: no undefined fields). */
  system: { [key: string]: Scalar | string[] } | null;
  /** A reply to a story (POST /stories/{id}/reply): which story; null for every other message. */
  storyReply: StoryReply | null;
  attachments: Attachment[];
  location: GeoLocation | null;
  contact: SharedContact | null;
  entities: MessageEntity[];
  /** The message this one replies to (same chat). */
  replyTo: { id: string; seq: number } | null;
  /** Replies to this message that are not deleted (the thread's size). */
  replyCount: number;
  quote: Quote | null;
  forwardedFrom: ForwardedFrom | null;
  /** Members mentioned by id; `mentionsAll` for @all. */
  mentions: string[];
  mentionsAll: boolean;
  /** Sent without notifying the recipients. */
  silent: boolean;
  /** The client's own JSON (≤ 4 KiB), returned as stored and never interpreted. */
  metadata: JsonObject | null;
  /** A poll message's poll as this viewer sees it (broadcast frames: as nobody in particular); null otherwise. */
  poll: PollView | null;
  createdAt: string;
  editedAt: string | null;
  /** A disappearing message: when the room erases it (null: it stays). */
  expiresAt: string | null;
  deleted: boolean;
  /**
   * Reactions by emoji, most first (then the emoji reacted first). `me`: the viewer's own; answers
   * to a member are rendered for them, socket events carry `me: false` (a new message: none).
   */
  reactions: MessageReaction[];
  /** Encrypted chats only: the blob for every member (e.g. a sender-key message), null when the send had none. */
  ciphertext?: string | null;
  /** Encrypted chats only: the viewing device's own envelope, null when it has none (or acknowledged it). */
  envelope?: DeviceEnvelope | null;
}

/** One emoji's reactions on a message. */
export interface MessageReaction {
  emoji: string;
  count: number;
  /** Whether the viewer is among them. */
  me: boolean;
}

/** What a story reply carries besides its text (the story may since have expired). */
export interface StoryReply {
  storyId: string;
}

/** A message to send, as a client asked for it (validated by rooms/content.ts). */
export interface SendInput {
  userId: string;
  clientMessageId: string;
  type: SendableType;
  text?: string;
  /** Media ids the sender uploaded with purpose `attachment`. */
  attachments?: string[];
  location?: GeoLocation;
  contact?: SharedContact;
  replyToId?: string;
  quoteId?: string;
  /** Member ids, or "all" (owners and admins only). */
  mentions?: string[];
  silent?: boolean;
  metadata?: JsonObject;
  /** Type `poll` only. */
  poll?: PollInput;
  /** Erase this message this many seconds after it is sent (overrides the chat's setting). */
  ttlSeconds?: number;
  /** Type `encrypted`: one opaque blob for every member (base64). */
  ciphertext?: string;
  /** Type `encrypted`: one envelope per recipient device. */
  envelopes?: EnvelopeInput[];
  /** Set only by the Worker and the socket: the sending session's key device (its envelopes are not expected). */
  senderDeviceId?: number | null;
  /** Set only by the Worker's story reply route, never from a client frame. */
  storyReply?: StoryReply;
  /** Set only by the Worker's forward route, never from a client frame. */
  forwardedFrom?: ForwardedFrom;
  /**
   * Set only by the Worker's forward route: the forwarded message's attachments, already resolved
   * (the forwarder does not own them). They are not checked for ownership, only referenced from
   * the new message so its chat's members may read them; `attachments` names the same ids.
   */
  forwardedAttachments?: Attachment[];
}

/** One change in the room's event log, as `GET …/events` and the socket replay it. */
export interface RoomEvent {
  eventSeq: number;
  type: string;
  createdAt: string;
  /** Type-specific fields (a message, a receipt's seq, a member…). */
  [key: string]: Scalar | object;
}

/** A system notice the room appends to the log for a membership or chat change. */
export interface SystemNotice {
  event:
    | "created"
    | "joined"
    | "added"
    | "removed"
    | "left"
    | "role_changed"
    | "renamed"
    | "ownership_transferred"
    | "banned"
    | "ttl_changed"
    | "identity_changed"
    | "app_notice"
    /** A call in the chat ended: `{callId, kind, status, durationSeconds}`, actor = the caller (src/calls/). */
    | "call";
  actorId: string | null;
  userIds?: string[];
  [key: string]: Scalar | string[] | undefined;
}

export interface MembershipChange {
  added?: RoomMember[];
  updated?: RoomMember[];
  removed?: { userId: string; reason: "removed" | "banned" | "left" }[];
  notice?: SystemNotice;
}

/** Errors cross the RPC boundary as data (custom error classes do not survive it): see lib/rpc-result.ts. */
export type { RpcResult as RoomResult } from "../lib/rpc-result";
