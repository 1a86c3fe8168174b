import type { Bindings } from "../env";
import { unwrap } from "../lib/rpc-result";
import type { ChatRoom } from "./chat-room";
import { chatIdsOf } from "./directory";
import type { Draft } from "./drafts";
import type { EnvelopeDelivery } from "./envelopes";
import type { MessageEdit, MessageVersion } from "./message-changes";
import type { ReactionSummary } from "./message-reactions";
import type { HistoryQuery } from "./message-reads";
import type { ChatSearchHit, ChatSearchQuery } from "./message-search";
import type { PinnedMessage } from "./pins";
import type { ReactionKey, ReactionRow } from "./reactions";
import type { ScheduledMessage } from "./scheduled";
import type { Attachment, ChatConfig, KeyDevice, MembershipChange, Message, RoomEvent, SendInput, SystemNotice } from "./types";

/** What reaching a room needs from the bindings. */
export type RoomEnv = Pick<Bindings, "CHAT_ROOM">;

/** The ChatRoom stub of a chat: one Durable Object per chat id (the client below wraps it; tests call it directly). */
export const roomFor = (env: RoomEnv, chatId: string) => env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(chatId));

export type { HistoryQuery, MessageEdit, MessageVersion, ReactionKey, ReactionRow, ReactionSummary };
/** Turn a room's result back into a value, or into the AppError the room raised (tests use it on the stub). */
export { unwrap };
export type ThreadPage = { parent: Message; items: Message[]; hasMore: boolean };
export type EventsPage = { events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean; lastEventSeq: number };

/**
 * The one way the Worker talks to a chat's room. Each call returns the room's answer or throws
 * the AppError the room raised: errors cross the RPC boundary as data (RoomResult, since RPC
 * drops custom error classes), and only this class turns them back, so callers never unwrap.
 */
export class RoomClient {
  private readonly stub: DurableObjectStub<ChatRoom>;

  constructor(env: RoomEnv, chatId: string) {
    this.stub = roomFor(env, chatId);
  }

  /** Set or update the chat's settings; `patch` becomes a chat.updated event, `notice` a system message. */
  async configure(config: ChatConfig, patch?: Record<string, unknown>, notice?: SystemNotice): Promise<void> {
    unwrap(await this.stub.configure(config, patch, notice));
  }

  /** Membership changes already written to D1: refresh the room's cache, close removed members' sockets, log them. */
  async membersChanged(change: MembershipChange): Promise<void> {
    unwrap(await this.stub.membersChanged(change));
  }

  /** A member was shadow-banned until `until` (ms; SHADOW_BAN_FOREVER: no end), or the shadow ban lifted (null). */
  async shadowBanChanged(userId: string, until: number | null): Promise<void> {
    unwrap(await this.stub.shadowBanChanged(userId, until));
  }

  /** Direct chats: one of the two blocked the other (posting stops) or unblocked (it resumes). */
  async setBlocked(blocked: boolean): Promise<void> {
    unwrap(await this.stub.setBlocked(blocked));
  }

  /** Direct chats: the other person deleted their account. */
  async setPeerDeleted(): Promise<void> {
    unwrap(await this.stub.setPeerDeleted());
  }

  /** A member turned read receipts on or off. */
  async memberSettingsChanged(userId: string, readReceipts: boolean): Promise<void> {
    unwrap(await this.stub.memberSettingsChanged(userId, readReceipts));
  }

  /** Append a message; a retry with the same clientMessageId returns the stored one (`duplicate`). */
  async send(input: SendInput): Promise<{ message: Message; duplicate: boolean }> {
    return unwrap(await this.stub.send(input)) as { message: Message; duplicate: boolean };
  }

  /** Whether `userId` ever sent a message in this chat (deleted and expired ones count). */
  async hasSent(userId: string): Promise<boolean> {
    return unwrap(await this.stub.hasSent(userId)) as boolean;
  }

  async truncate(actorId: string): Promise<{ seq: number; removed: number }> {
    return unwrap(await this.stub.truncate(actorId));
  }

  /** Edit my message: its text or caption, or a live location's position. */
  async edit(userId: string, messageId: string, edit: MessageEdit): Promise<Message> {
    return unwrap(await this.stub.edit(userId, messageId, edit)) as Message;
  }

  /** Earlier versions of an edited message, oldest first. */
  async versions(userId: string, messageId: string): Promise<MessageVersion[]> {
    return unwrap(await this.stub.versions(userId, messageId)) as MessageVersion[];
  }

  async remove(userId: string, messageId: string, scope: "me" | "everyone"): Promise<void> {
    unwrap(await this.stub.remove(userId, messageId, scope));
  }

  async history(userId: string, query: HistoryQuery): Promise<{ items: Message[]; hasMore: boolean }> {
    return unwrap(await this.stub.history(userId, query)) as { items: Message[]; hasMore: boolean };
  }

  /** One message as the member sees it; on key device `device` an encrypted one carries its envelope. */
  async getMessage(userId: string, messageId: string, device: KeyDevice | null = null): Promise<Message> {
    return unwrap(await this.stub.getMessage(userId, messageId, device)) as Message;
  }

  /** The replies to a message (oldest first, after a seq), with the message itself. */
  async thread(
    userId: string,
    messageId: string,
    query: { after?: number; limit: number; device?: KeyDevice | null },
  ): Promise<ThreadPage> {
    return unwrap(await this.stub.thread(userId, messageId, query)) as ThreadPage;
  }

  /** Events after `after`, in order; on key device `device` encrypted messages carry its envelopes. */
  async events(userId: string, after: number, limit: number, device: KeyDevice | null = null): Promise<EventsPage> {
    return unwrap(await this.stub.events(userId, after, limit, device)) as EventsPage;
  }

  /** Encrypted chats: key device `device` received these messages; answers the ids whose envelopes were waiting. */
  async acknowledgeEnvelopes(userId: string, device: KeyDevice | null, messageIds: string[]): Promise<{ acknowledged: string[] }> {
    return unwrap(await this.stub.acknowledgeEnvelopes(userId, device, messageIds));
  }

  /** Encrypted chats: where each envelope of my message stands. */
  async deliveries(userId: string, messageId: string): Promise<EnvelopeDelivery[]> {
    return unwrap(await this.stub.deliveries(userId, messageId)) as EnvelopeDelivery[];
  }

  async mark(userId: string, kind: "read" | "delivered", seq: number): Promise<{ seq: number; unread: number; mentions: number }> {
    return unwrap(await this.stub.mark(userId, kind, seq));
  }

  async unread(userId: string): Promise<{ count: number; mentions: number; readSeq: number; lastSeq: number }> {
    return unwrap(await this.stub.unread(userId));
  }

  /** The chat list's preview as `userId` sees it (a shadow-banned member sees their own messages in it). */
  async preview(userId: string): Promise<Record<string, string | number | null> | null> {
    return unwrap(await this.stub.preview(userId)) as Record<string, string | number | null> | null;
  }

  async receipts(userId: string, messageId: string): Promise<{ read: string[]; delivered: string[] }> {
    return unwrap(await this.stub.receipts(userId, messageId));
  }

  /** Pin a message (owners, admins, members with pinMessages); idempotent. */
  async pin(userId: string, messageId: string): Promise<PinnedMessage> {
    return unwrap(await this.stub.pin(userId, messageId)) as PinnedMessage;
  }

  async unpin(userId: string, messageId: string): Promise<void> {
    unwrap(await this.stub.unpin(userId, messageId));
  }

  /** The chat's pinned messages, most recently pinned first. */
  async pins(userId: string): Promise<PinnedMessage[]> {
    return unwrap(await this.stub.pins(userId)) as PinnedMessage[];
  }

  /** My draft in this chat, or null. */
  async draft(userId: string): Promise<Draft | null> {
    return unwrap(await this.stub.draft(userId));
  }

  /** Save my draft; my sockets in the chat get a `draft` frame. */
  async saveDraft(userId: string, draft: { text: string; replyToId?: string }): Promise<Draft> {
    return unwrap(await this.stub.saveDraft(userId, draft));
  }

  async deleteDraft(userId: string): Promise<void> {
    unwrap(await this.stub.deleteDraft(userId));
  }

  /** Vote in a poll; answers the message as the voter sees it. */
  async vote(userId: string, messageId: string, optionIds: string[]): Promise<Message> {
    return unwrap(await this.stub.vote(userId, messageId, optionIds)) as Message;
  }

  /** Take back my vote in a poll; answers the message as I see it. */
  async retractVote(userId: string, messageId: string): Promise<Message> {
    return unwrap(await this.stub.retractVote(userId, messageId)) as Message;
  }

  /** Close a poll (its creator, owners and admins); answers the message as the caller sees it. */
  async closePoll(userId: string, messageId: string): Promise<Message> {
    return unwrap(await this.stub.closePoll(userId, messageId)) as Message;
  }

  /** Add my reaction (one emoji) to a message; idempotent. Answers the message's reactions as I see them. */
  async react(userId: string, messageId: string, emoji: string): Promise<ReactionSummary> {
    return unwrap(await this.stub.react(userId, messageId, emoji)) as ReactionSummary;
  }

  /** Take my reaction off a message; idempotent. */
  async unreact(userId: string, messageId: string, emoji: string): Promise<void> {
    unwrap(await this.stub.unreact(userId, messageId, emoji));
  }

  /** Who reacted to a message, oldest first: up to `limit + 1` rows after `after` (the extra one says there is more). */
  async reactions(
    userId: string,
    messageId: string,
    query: { emoji?: string; after: ReactionKey | null; limit: number },
  ): Promise<ReactionRow[]> {
    return unwrap(await this.stub.reactions(userId, messageId, query)) as ReactionRow[];
  }

  /** Schedule a message for `sendAt` (ms); a retry with the same clientMessageId answers the scheduled one (`duplicate`). */
  async schedule(input: SendInput, sendAt: number): Promise<{ scheduled: ScheduledMessage; duplicate: boolean }> {
    return unwrap(await this.stub.schedule(input, sendAt));
  }

  /** My scheduled messages here, soonest first. */
  async scheduledList(userId: string): Promise<ScheduledMessage[]> {
    return unwrap(await this.stub.scheduledList(userId));
  }

  /** Change my scheduled message's text and/or time (404 for anyone else's). */
  async editScheduled(userId: string, id: string, change: { text?: string; scheduledAt?: number }): Promise<ScheduledMessage> {
    return unwrap(await this.stub.editScheduled(userId, id, change));
  }

  /** Cancel my scheduled message (404 for anyone else's). */
  async cancelScheduled(userId: string, id: string): Promise<void> {
    unwrap(await this.stub.cancelScheduled(userId, id));
  }

  /** Send my scheduled message now (404 for anyone else's). */
  async sendScheduledNow(userId: string, id: string): Promise<Message> {
    return unwrap(await this.stub.sendScheduledNow(userId, id));
  }

  /** Append a system message about something outside the room (a member's security code changed). */
  async notice(notice: SystemNotice): Promise<Message> {
    return unwrap(await this.stub.notice(notice));
  }

  /** Full-text search in the chat, as `userId` sees it (one page). */
  async search(userId: string, query: ChatSearchQuery): Promise<{ items: ChatSearchHit[]; nextCursor: string | null }> {
    return unwrap(await this.stub.search(userId, query));
  }

  /** Media: `ownerId` (a member) finished uploading `item` for this chat; sending it here then skips D1. */
  async stageAttachment(ownerId: string, item: Attachment): Promise<void> {
    unwrap(await this.stub.stageAttachment(ownerId, item));
  }

  /** Media: a staged item is being deleted (no send takes it any more); answers whether a sent message already carries it. */
  unstageAttachment(mediaId: string): Promise<boolean> {
    return this.stub.unstageAttachment(mediaId);
  }

  /** Media: whether `viewerId` may read `mediaId` through a message here whose D1 references are still queued. */
  canReadPendingAttachment(viewerId: string, mediaId: string): Promise<boolean> {
    return this.stub.canReadPendingAttachment(viewerId, mediaId);
  }

  /** The chat was deleted: close every socket and erase the room. */
  async destroy(): Promise<void> {
    await this.stub.destroy();
  }

  /** From the user's hub: sessions ended; returns whether the user still has sockets in this room. */
  endSessions(userId: string, sessionIds: string[], code: number, reason: string, until: number, wholeAccount: boolean): Promise<boolean> {
    return this.stub.endSessions(userId, sessionIds, code, reason, until, wholeAccount);
  }

  /** From a hub: who may see `userIds` online changed; returns whether `hubUserId` still has sockets here. */
  refreshPresence(hubUserId: string, userIds: string[]): Promise<boolean> {
    return this.stub.refreshPresence(hubUserId, userIds);
  }

  /** Hand an authenticated WebSocket upgrade to the room (the Worker checked membership). */
  upgrade(request: Request): Promise<Response> {
    return this.stub.fetch(request);
  }
}

/** The client of a chat's room. */
export const chatRoom = (env: RoomEnv, chatId: string) => new RoomClient(env, chatId);

/** Rooms told at once when a change must reach every chat of a user. */
const FAN_OUT = 50;

/**
 * A user turned read receipts on or off: every chat they are in follows from their next read
 * (their rooms cache the setting). O(the user's chats), for a setting that rarely changes.
 */
export async function readReceiptsChanged(env: Pick<Bindings, "CHAT_ROOM" | "DB">, userId: string, readReceipts: boolean): Promise<void> {
  const chatIds = await chatIdsOf(env.DB, userId);
  for (let i = 0; i < chatIds.length; i += FAN_OUT) {
    await Promise.all(chatIds.slice(i, i + FAN_OUT).map((chatId) => chatRoom(env, chatId).memberSettingsChanged(userId, readReceipts)));
  }
}
