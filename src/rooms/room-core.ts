import type { HubUpdate } from "../hubs/protocol";
import type { BeforeSendConfig } from "../lib/config";
import type { Drafts } from "./drafts";
import type { EncryptedDelivery, Personalize, RoomViewer } from "./encrypted";
import type { Pins } from "./pins";
import type { RoomAccess } from "./room-access";
import type { RoomMedia } from "./room-media";
import type { RoomStore } from "./store";
import type { Message, RoomEvent, SystemNotice } from "./types";

/** What the log needs from the Durable Object around it: sockets, the alarm, D1. */
export interface RoomHost {
  db: D1Database;
  /** The name the room was addressed by (the chat id), when the runtime knows it. */
  chatName: string | undefined;
  /** Send an already serialized frame to every socket. */
  broadcastText(text: string): void;
  /** Reactions on the message at `seq` changed (committed): the coalesced `reactions` frame is due. */
  reactionsChanged(seq: number): void;
  sendToUser(userId: string, frame: Record<string, unknown>): void;
  /** Send each socket (of `audience` alone, when given) its own frame, rendered for its viewer. */
  sendEach(render: (viewer: RoomViewer) => string, audience?: string): void;
  closeUser(userId: string, code: number, reason: string): void;
  /** The summary changed: write it to D1 at `at` (not before). */
  summaryDue(at: number): void;
  /** Wake the room (its alarm) by `at` at the latest: a poll closes then. */
  wakeAt(at: number): void;
  waitUntil(promise: Promise<unknown>): void;
  /** Tell these users' devices (their hubs' realtime sockets) of a change, after it committed. */
  publish(userIds: readonly string[], update: HubUpdate): void;
  /** The deployment's before-send hook (null: none), which sees each message first (before-send.ts). */
  readonly beforeSend: BeforeSendConfig | null;
  /** Hand committed changes to the app's backend as domain events (webhooks; lib/events.ts). */
  events(events: { type: string; data: Record<string, unknown> }[]): void;
  /** Drop the media references of deleted messages (media erases items nobody references any more). */
  detachMedia(messageIds: readonly string[]): Promise<void>;
  /** Run `fn` as one SQLite transaction: a throw leaves nothing of it behind. */
  transaction<T>(fn: () => T): T;
}

/**
 * Log an event inside a write: it gets the next eventSeq and goes out once the write commits, to
 * every socket, or with `audience` only to that user's (and only they replay it).
 * `{ broadcast: false }` only logs it (replayed by `sync` and GET …/events, never sent live):
 * for changes whose live frames are coalesced elsewhere (reactions).
 */
export type Emit = (type: string, payload: Record<string, unknown>, options?: EmitOptions) => RoomEvent;

/** How an emitted event goes out. */
export interface EmitOptions {
  /** False: logged for replay only, no live frame (default true). */
  broadcast?: boolean;
  /** Only this user's sockets get it and only they replay it (a shadow-banned member's own messages). */
  audience?: string;
  /**
   * Each socket gets its own frame text, made from the shared one for its viewer (an encrypted
   * message with that device's envelope); the log keeps the event as emitted.
   */
  personalize?: Personalize;
}

/**
 * What the parts of the log (sending, changing, reading messages) share: storage, the access
 * rules, the host, and the one way to change anything (`write`).
 */
export interface RoomCore {
  readonly store: RoomStore;
  readonly access: RoomAccess;
  readonly host: RoomHost;
  /** Members' private drafts (sending clears the sender's). */
  readonly drafts: Drafts;
  /** Pinned messages (deleting a message unpins it). */
  readonly pins: Pins;
  /** Attachments staged for this chat, and their references on the way to D1. */
  readonly media: RoomMedia;
  /** Encrypted chats: envelope checks, per-device delivery and acknowledgements. */
  readonly encrypted: EncryptedDelivery;
  /**
   * Run a change as one transaction. `emit` logs an event (its eventSeq) inside it; the events
   * go out to the sockets (serialized once) only once the transaction committed, so a failure
   * sends nothing.
   */
  write<T>(fn: (emit: Emit) => T): T;
  /** The summary changed: flush now if the last flush is a second old, else when it is. */
  summaryChanged(): void;
  /** Append a system notice (inside a write). */
  appendSystem(notice: SystemNotice, emit: Emit): Message;
}
