import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { screenMessage } from "./before-send";
import { checkAttachmentsFit, checkContentShape, isMediaType, MENTION_ALL } from "./content";
import { detectEntities } from "./entities";
import { mediaPort } from "./media-port";
import { isShadowBanned, type MemberState } from "./member-cache";
import { contentJson, type MessageRow, shadowedFrom } from "./message-rows";
import { pollDefinition } from "./poll-input";
import type { RoomCore } from "./room-core";
import type { Attachment, Message, Quote, SendInput } from "./types";

/** How much of a quoted message's text the snapshot keeps. */
const QUOTE_TEXT_MAX = 1024;

/**
 * Sending: one path for REST and the socket. Checks the sender's rights and the content
 * (type, attachments they own that fit the type, replies and quotes in this chat, mentions of
 * members), then appends the message with the next seq in one transaction. Attachments uploaded
 * for this chat are checked against the room's own table, with no D1 round trip (their D1
 * references are queued in the same transaction and written after it); others are checked and
 * attached in D1 before the insert. A retry with the same
 * `clientMessageId` returns the stored message (`duplicate: true`) instead of a second copy.
 * A shadow-banned sender's message is stored as a shadow message: it goes to their own sockets
 * and event log only, and never counts (unread, mentions, replies, the chat preview) for others.
 * In an encrypted chat only `encrypted` messages are taken; their envelopes are checked against
 * the members' key devices first and stored with the message (encrypted.ts), and each device's
 * socket hears the message with its own envelope.
 */
export class MessageSender {
  constructor(private readonly room: RoomCore) {}

  /**
   * Send `input`. `scheduled` (room-internal: a scheduled message falling due) gives the id chosen
   * when it was scheduled and `claim`, which takes the scheduled row inside the write (false: it
   * was cancelled meanwhile, and nothing is stored); such sends were budgeted when scheduled.
   */
  async send(input: SendInput, scheduled?: { id: string; claim: () => boolean }): Promise<{ message: Message; duplicate: boolean }> {
    const { store, access } = this.room;
    checkContentShape(input);
    // The hook first: every check after it (membership, slow mode, the send budget) sees the room
    // as it is once the hook answered, so sends waiting on it cannot slip past them together.
    input = await this.screened(input);
    const member = await access.requireSender(input.userId);
    access.checkSendFitsChat(input.type);
    if (isMediaType(input.type) || input.attachments?.length)
      access.requirePermission(member, "sendMedia", "media_forbidden", "You may not send media in this chat");
    const at = Date.now();
    const refusal = scheduled
      ? null
      : store.limiter.refusal(input.userId, member.role === "member" ? access.config().slowModeSeconds : 0, at);
    // Over budget: a retry of something already sent still gets its message; anything else is refused.
    const earlier = refusal || input.attachments || input.envelopes ? this.existingSend(input) : null;
    if (earlier) return this.resent(earlier, input);
    if (refusal) throw refusal;
    // An encrypted send reaches every member's devices, as the key server knows them now.
    await this.room.encrypted.checkEnvelopes(input);
    const mentions = await this.checkMentions(member, input.mentions);
    // Read before the attach's round trip: a parent deleted meanwhile keeps the reply (counted on its tombstone).
    const replyTo = input.replyToId ? this.referenced(input.userId, input.replyToId, "replyToId") : null;
    const quoted = input.quoteId ? this.referenced(input.userId, input.quoteId, "quoteId") : null;
    // The id is chosen first so the media are checked and attached in one D1 round trip.
    const messageId = scheduled?.id ?? newId();
    // Items uploaded for this chat are checked here; their D1 references follow the commit.
    const staged = input.attachments?.length && !input.forwardedAttachments ? this.stagedItems(input, at) : null;
    const attachments = input.forwardedAttachments
      ? await this.attachForwarded(input, messageId)
      : (staged ?? (input.attachments ? await this.attachOwned(input, messageId) : undefined));
    const content = contentJson({
      attachments,
      entities: input.text ? orNone(detectEntities(input.text)) : undefined,
      location: input.location,
      contact: input.contact,
      replyTo: replyTo ? { id: replyTo.id, seq: replyTo.seq } : undefined,
      quote: quoted ? quoteOf(quoted) : undefined,
      forwardedFrom: input.forwardedFrom,
      mentions: mentions.userIds.length > 0 ? mentions.userIds : undefined,
      mentionsAll: mentions.all,
      silent: input.silent,
      metadata: input.metadata,
      ciphertext: input.ciphertext,
    });
    const closesAt = input.poll?.closesAt ? Date.parse(input.poll.closesAt) : null;
    const shadow = isShadowBanned(member, at);
    // A message's own time to live may shorten the chat's, never lengthen it.
    const chatTtl = access.config().messageTtlSeconds ?? null;
    const ttl = input.ttlSeconds !== undefined && chatTtl !== null ? Math.min(input.ttlSeconds, chatTtl) : (input.ttlSeconds ?? chatTtl);
    const expiresAt = ttl ? at + ttl * 1000 : null;
    const audience = shadow ? input.userId : undefined;
    const result = this.stored(messageId, staged ? undefined : attachments, () =>
      this.room.write((emit) => {
        const row = store.insertMessage({
          id: messageId,
          senderId: input.userId,
          clientMessageId: input.clientMessageId,
          type: input.type,
          text: input.text ?? null,
          system: null,
          storyId: input.storyReply?.storyId ?? null,
          content,
          replyToSeq: replyTo?.seq ?? null,
          quoteSeq: quoted?.seq ?? null,
          shadow,
          expiresAt,
          at,
        });
        if (scheduled && !scheduled.claim()) {
          throw new AppError(409, "scheduled_changed", "The scheduled message was changed or cancelled meanwhile");
        }
        if (!row) return { message: this.existingSend(input)!, duplicate: true };
        if (staged)
          this.room.media.outbox.queue(
            messageId,
            staged.map((a) => a.mediaId),
            at,
          );
        store.limiter.take(input.userId, at);
        if (!shadow && (mentions.userIds.length > 0 || mentions.all)) store.mentions.add(row.seq, mentions.userIds, mentions.all);
        if (input.poll) store.polls.create(row.seq, pollDefinition(input.poll, input.userId), closesAt);
        if (input.envelopes) this.room.encrypted.store(row.seq, input, shadow, at);
        const message = store.toMessage(row, access.chatId());
        // Each device of an encrypted chat hears the message with its own envelope.
        const personalize = message.type === "encrypted" ? this.room.encrypted.personalize(input.envelopes) : undefined;
        emit("message.new", { message }, { audience, personalize });
        // A shadow reply is not counted: the thread looks the same to everyone else.
        if (replyTo && !shadow) {
          const parent = store.changeReplyCount(replyTo.seq, 1);
          if (parent) emit("message.replies", { messageId: parent.id, seq: parent.seq, replyCount: parent.reply_count });
        }
        // Sending implies having read everything before it. No receipt is broadcast for that:
        // every client can infer it from message.new, and it would double the fan-out. The
        // summary flush derives the position (and the admin count) for D1 from the log; marking
        // it dirty here commits with the message (a statement only for a second's first send).
        store.members.advance(input.userId, "read_seq", message.seq);
        store.summary.changed(at);
        store.transient.clearTyping(input.userId);
        return { message, duplicate: false };
      }),
    );
    if (!result.duplicate) {
      if (staged) this.room.media.outbox.flushSoon();
      this.room.summaryChanged();
      this.room.drafts.clear(input.userId);
      if (closesAt !== null) this.room.host.wakeAt(closesAt);
      if (expiresAt !== null) this.room.host.wakeAt(expiresAt);
      if (input.envelopes) this.room.encrypted.stored(at);
    }
    return result;
  }

  /** The message a sender already sent with this client id, if any. */
  private existingSend(input: SendInput): Message | null {
    const row = this.room.store.findByClientId(input.userId, input.clientMessageId);
    return row ? this.room.store.toMessage(row, this.room.access.chatId()) : null;
  }

  /** A retry of a stored message: answered with it, and its media referenced again (idempotent) in case that was lost. */
  private async resent(message: Message, input: SendInput): Promise<{ message: Message; duplicate: boolean }> {
    if (input.attachments && message.attachments.length > 0) {
      const mediaIds = message.attachments.map((a) => a.mediaId);
      await mediaPort().attach(this.room.host.db, message.chatId, [{ mediaIds, messageId: message.id }]);
    }
    return { message, duplicate: true };
  }

  /** The sender's items, if every one is staged here (then checked against the type), else null. */
  private stagedItems(input: SendInput, at: number): Attachment[] | null {
    const items = this.room.media.staged.lookup(input.userId, input.attachments ?? [], at);
    if (items) checkAttachmentsFit(input.type, items);
    return items;
  }

  /** The sender's media items, in order, checked against the message type and attached to `messageId`. */
  private attachOwned(input: SendInput, messageId: string): Promise<Attachment[]> {
    const request = { ownerId: input.userId, mediaIds: input.attachments ?? [], chatId: this.room.access.chatId(), messageId };
    return mediaPort().attachOwned(this.room.host.db, request, (items) => checkAttachmentsFit(input.type, items));
  }

  /**
   * Store the message (`write`). Media attached to `messageId` beforehand are let go again when
   * it is not stored: the write failed, or a concurrent retry stored the message first.
   */
  private stored<T extends { duplicate: boolean }>(messageId: string, attachments: Attachment[] | undefined, write: () => T): T {
    const { host, access } = this.room;
    const mediaIds = attachments?.map((a) => a.mediaId) ?? [];
    const release = () => host.waitUntil(mediaPort().release(host.db, { mediaIds, chatId: access.chatId(), messageId }));
    try {
      const result = write();
      if (attachments && result.duplicate) release();
      return result;
    } catch (err) {
      if (attachments) release();
      throw err;
    }
  }

  /**
   * A forward carries the original message's items, already resolved by the Worker: not the
   * forwarder's, so not looked up; checked against the type and referenced from the copy.
   */
  private async attachForwarded(input: SendInput, messageId: string): Promise<Attachment[]> {
    const items = input.forwardedAttachments ?? [];
    checkAttachmentsFit(input.type, items);
    await mediaPort().attach(this.room.host.db, this.room.access.chatId(), [{ mediaIds: items.map((a) => a.mediaId), messageId }]);
    return items;
  }

  /** The input as the before-send hook lets it through (its text may be rewritten); encrypted messages are not shown to it. */
  private async screened(input: SendInput): Promise<SendInput> {
    const hook = this.room.host.beforeSend;
    if (!hook || input.type === "encrypted") return input;
    const text = await screenMessage(hook, {
      chatId: this.room.access.chatId(),
      chatType: this.room.access.config().type,
      senderId: input.userId,
      clientMessageId: input.clientMessageId,
      type: input.type,
      text: input.text ?? null,
      attachmentCount: input.attachments?.length ?? 0,
      replyToId: input.replyToId ?? null,
      metadata: input.metadata ?? null,
    });
    // Only text is rewritten, and only where the message has text; the rewrite obeys the same rules.
    if (input.text === undefined || text === input.text || text === null) return input;
    const rewritten = { ...input, text };
    checkContentShape(rewritten);
    return rewritten;
  }

  /** Mentioned ids must be members (422 `mention_not_member`); `@all` is for owners and admins (403). */
  private async checkMentions(sender: MemberState, mentions: string[] | undefined): Promise<{ userIds: string[]; all: boolean }> {
    const all = mentions?.includes(MENTION_ALL) ?? false;
    if (all && sender.role !== "owner" && sender.role !== "admin") {
      throw new AppError(403, "mention_all_forbidden", "Only owners and admins can mention everyone");
    }
    const userIds = [...new Set(mentions ?? [])].filter((id) => id !== MENTION_ALL);
    const members = await Promise.all(userIds.map((id) => this.room.access.isMember(id)));
    const stranger = userIds.find((_, i) => !members[i]);
    if (stranger) throw new AppError(422, "mention_not_member", "Only members of this chat can be mentioned", { userId: stranger });
    return { userIds, all };
  }

  /** A message of this chat the sender can see and refer to (404 `not_found` naming the field otherwise). */
  private referenced(userId: string, messageId: string, field: "replyToId" | "quoteId"): MessageRow {
    const row = this.room.store.findById(messageId);
    if (!row || row.deleted_at !== null || this.room.store.isHidden(userId, row.seq) || shadowedFrom(row, userId)) {
      throw new AppError(404, "not_found", "The message referred to does not exist in this chat", { field, messageId });
    }
    return row;
  }
}

/** An empty list is not stored. */
const orNone = <T>(items: T[]) => (items.length > 0 ? items : undefined);

/** The snapshot a quote keeps of the quoted message. */
function quoteOf(row: MessageRow): Quote {
  return {
    id: row.id,
    seq: row.seq,
    senderId: row.sender_id,
    type: row.type as Quote["type"],
    text: row.text?.slice(0, QUOTE_TEXT_MAX) ?? null,
  };
}
