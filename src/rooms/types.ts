/**
 * Types shared by the Worker and the ChatRoom Durable Object (RPC arguments and results). They
 * avoid `unknown`: RPC stubs type members they cannot prove serializable as `never`.
 */
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
}

export interface ChatConfig {
  chatId: string;
  type: ChatType;
  frozen: boolean;
  slowModeSeconds: number;
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

export type MessageType = "text" | "system";

/** A message as the API and the socket show it. */
export interface Message {
  id: string;
  seq: number;
  chatId: string;
  senderId: string | null;
  clientMessageId: string | null;
  type: MessageType;
  text: string | null;
  /** For system messages: what happened ({event, actorId, userIds, …}), as stored (JSON: no undefined fields). */
  system: { [key: string]: Scalar | string[] } | null;
  /** A reply to a story (POST /stories/{id}/reply): which story; null for every other message. */
  storyReply: StoryReply | null;
  createdAt: string;
  editedAt: string | null;
  deleted: boolean;
}

/** What a story reply carries besides its text (the story may since have expired). */
export interface StoryReply {
  storyId: string;
}

export interface SendInput {
  userId: string;
  clientMessageId: string;
  type: "text";
  text: string;
  /** Set only by the Worker's story reply route, never from a client frame. */
  storyReply?: StoryReply;
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
  event: "created" | "joined" | "added" | "removed" | "left" | "role_changed" | "renamed" | "ownership_transferred" | "banned";
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
