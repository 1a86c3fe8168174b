import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import { rpcResult } from "../lib/rpc-result";
import type { Draft } from "./drafts";
import type { EnvelopeDelivery } from "./envelopes";
import type { MessageEdit, MessageVersion } from "./message-changes";
import type { ReactionSummary } from "./message-reactions";
import type { HistoryQuery } from "./message-reads";
import type { ChatSearchHit, ChatSearchQuery } from "./message-search";
import type { PinnedMessage } from "./pins";
import type { ReactionKey, ReactionRow } from "./reactions";
import type { RoomLog } from "./room-log";
import type { ScheduledMessage } from "./scheduled";
import type { Attachment, KeyDevice, Message, RoomEvent, RoomResult, SendInput, SystemNotice } from "./types";

/**
 * The ChatRoom's RPC for messages: every call is answered by one of the log's parts (sender,
 * changes, reads, pins, drafts, polls, reactions) and comes back as a RoomResult, since RPC drops
 * custom error classes. ChatRoom (chat-room.ts) extends this with settings, membership, sockets
 * and the alarm; the Worker reaches all of it through RoomClient (client.ts).
 */
export abstract class MessageRpc extends DurableObject<Bindings> {
  /** The chat's log, built by ChatRoom's constructor. */
  protected abstract readonly log: RoomLog;

  /** Append a message; a retry with the same clientMessageId returns the stored one (`duplicate`). */
  send(input: SendInput): Promise<RoomResult<{ message: Message; duplicate: boolean }>> {
    return rpcResult(() => this.log.sender.send(input));
  }

  /** Whether `userId` ever sent a message here (deleted and expired ones count). */
  hasSent(userId: string): Promise<RoomResult<boolean>> {
    return rpcResult(() => this.log.reads.hasSent(userId));
  }

  truncate(actorId: string): Promise<RoomResult<{ seq: number; removed: number }>> {
    return rpcResult(() => this.log.changes.truncate(actorId));
  }

  edit(userId: string, messageId: string, edit: MessageEdit): Promise<RoomResult<Message>> {
    return rpcResult(() => this.log.changes.edit(userId, messageId, edit));
  }

  versions(userId: string, messageId: string): Promise<RoomResult<MessageVersion[]>> {
    return rpcResult(() => this.log.changes.versions(userId, messageId));
  }

  remove(userId: string, messageId: string, scope: "me" | "everyone"): Promise<RoomResult<null>> {
    return rpcResult(() => this.log.changes.remove(userId, messageId, scope));
  }

  history(userId: string, q: HistoryQuery): Promise<RoomResult<{ items: Message[]; hasMore: boolean }>> {
    return rpcResult(() => this.log.reads.history(userId, q));
  }

  getMessage(userId: string, messageId: string, device: KeyDevice | null = null): Promise<RoomResult<Message>> {
    return rpcResult(() => this.log.reads.getMessage(userId, messageId, device));
  }

  thread(
    userId: string,
    messageId: string,
    q: { after?: number; limit: number; device?: KeyDevice | null },
  ): Promise<RoomResult<{ parent: Message; items: Message[]; hasMore: boolean }>> {
    return rpcResult(() => this.log.reads.thread(userId, messageId, q));
  }

  events(
    userId: string,
    after: number,
    limit: number,
    device: KeyDevice | null = null,
  ): Promise<RoomResult<{ events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean; lastEventSeq: number }>> {
    return rpcResult(() => this.log.events({ userId, device }, after, limit));
  }

  /** Encrypted chats: the member's key device received these messages (their envelopes are erased). */
  acknowledgeEnvelopes(userId: string, device: KeyDevice | null, messageIds: string[]): Promise<RoomResult<{ acknowledged: string[] }>> {
    return rpcResult(() => this.log.encrypted.acknowledge({ userId, device }, messageIds));
  }

  /** Encrypted chats: where each envelope of my message stands. */
  deliveries(userId: string, messageId: string): Promise<RoomResult<EnvelopeDelivery[]>> {
    return rpcResult(() => this.log.encrypted.deliveries(userId, messageId));
  }

  mark(userId: string, kind: "read" | "delivered", seq: number): Promise<RoomResult<{ seq: number; unread: number; mentions: number }>> {
    return rpcResult(() => this.log.reads.mark(userId, kind, seq));
  }

  unread(userId: string): Promise<RoomResult<{ count: number; mentions: number; readSeq: number; lastSeq: number }>> {
    return rpcResult(() => this.log.reads.unread(userId));
  }

  /** The chat list's preview as `userId` sees it (for a shadow-banned member: with their own messages). */
  preview(userId: string): Promise<RoomResult<Record<string, string | number | null> | null>> {
    return rpcResult(() => this.log.reads.preview(userId));
  }

  receipts(userId: string, messageId: string): Promise<RoomResult<{ read: string[]; delivered: string[] }>> {
    return rpcResult(() => this.log.reads.receipts(userId, messageId));
  }

  pin(userId: string, messageId: string): Promise<RoomResult<PinnedMessage>> {
    return rpcResult(() => this.log.pins.pin(userId, messageId));
  }

  unpin(userId: string, messageId: string): Promise<RoomResult<null>> {
    return rpcResult(async () => {
      await this.log.pins.unpin(userId, messageId);
      return null;
    });
  }

  pins(userId: string): Promise<RoomResult<PinnedMessage[]>> {
    return rpcResult(() => this.log.pins.list(userId));
  }

  draft(userId: string): Promise<RoomResult<Draft | null>> {
    return rpcResult(() => this.log.drafts.get(userId));
  }

  saveDraft(userId: string, draft: { text: string; replyToId?: string }): Promise<RoomResult<Draft>> {
    return rpcResult(() => this.log.drafts.put(userId, draft));
  }

  deleteDraft(userId: string): Promise<RoomResult<null>> {
    return rpcResult(async () => {
      await this.log.drafts.remove(userId);
      return null;
    });
  }

  /** Vote in a poll; answers the message as the voter sees it. */
  vote(userId: string, messageId: string, optionIds: string[]): Promise<RoomResult<Message>> {
    return rpcResult(() => this.log.polls.vote(userId, messageId, optionIds));
  }

  /** Take back my vote in a poll. */
  retractVote(userId: string, messageId: string): Promise<RoomResult<Message>> {
    return rpcResult(() => this.log.polls.retract(userId, messageId));
  }

  /** Close a poll (its creator, owners and admins). */
  closePoll(userId: string, messageId: string): Promise<RoomResult<Message>> {
    return rpcResult(() => this.log.polls.close(userId, messageId));
  }

  /** Add my reaction to a message (idempotent): the message's reactions as I see them. */
  react(userId: string, messageId: string, emoji: string): Promise<RoomResult<ReactionSummary>> {
    return rpcResult(() => this.log.reactions.add(userId, messageId, emoji));
  }

  unreact(userId: string, messageId: string, emoji: string): Promise<RoomResult<null>> {
    return rpcResult(() => this.log.reactions.remove(userId, messageId, emoji));
  }

  /** Who reacted to a message, oldest first: up to `limit + 1` rows after `after`. */
  reactions(
    userId: string,
    messageId: string,
    q: { emoji?: string; after: ReactionKey | null; limit: number },
  ): Promise<RoomResult<ReactionRow[]>> {
    return rpcResult(() => this.log.reactions.list(userId, messageId, q));
  }

  /** Schedule a message for `sendAt` (ms); a retry with the same clientMessageId answers the scheduled one. */
  schedule(input: SendInput, sendAt: number): Promise<RoomResult<{ scheduled: ScheduledMessage; duplicate: boolean }>> {
    return rpcResult(() => this.log.scheduled.schedule(input, sendAt));
  }

  /** My scheduled messages here, soonest first. */
  scheduledList(userId: string): Promise<RoomResult<ScheduledMessage[]>> {
    return rpcResult(() => this.log.scheduled.list(userId));
  }

  /** Change my scheduled message's text and/or time. */
  editScheduled(userId: string, id: string, change: { text?: string; scheduledAt?: number }): Promise<RoomResult<ScheduledMessage>> {
    return rpcResult(() => this.log.scheduled.edit(userId, id, change));
  }

  /** Cancel my scheduled message. */
  cancelScheduled(userId: string, id: string): Promise<RoomResult<null>> {
    return rpcResult(async () => {
      await this.log.scheduled.cancel(userId, id);
      return null;
    });
  }

  /** Send my scheduled message now. */
  sendScheduledNow(userId: string, id: string): Promise<RoomResult<Message>> {
    return rpcResult(() => this.log.scheduled.sendNow(userId, id));
  }

  /** Append a system message about something outside the room (a member's security code changed). */
  notice(notice: SystemNotice): Promise<RoomResult<Message>> {
    return rpcResult(() => this.log.notice(notice));
  }

  /** Full-text search in the chat, as `userId` sees it. */
  search(userId: string, query: ChatSearchQuery): Promise<RoomResult<{ items: ChatSearchHit[]; nextCursor: string | null }>> {
    return rpcResult(() => this.log.search.search(userId, query));
  }

  /** Media: `ownerId` finished uploading `item` for this chat; a send of it here skips D1. */
  stageAttachment(ownerId: string, item: Attachment): Promise<RoomResult<null>> {
    return rpcResult(async () => {
      await this.log.media.stage(ownerId, item);
      return null;
    });
  }

  /** Media: a staged item is being deleted; answers whether a sent message already carries it. */
  unstageAttachment(mediaId: string): boolean {
    return this.log.media.unstage(mediaId);
  }

  /** Media's read check, for an item whose references from here may not be in D1 yet. */
  canReadPendingAttachment(viewerId: string, mediaId: string): Promise<boolean> {
    return this.log.media.canReadPending(viewerId, mediaId);
  }
}
