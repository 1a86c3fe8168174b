import { newId } from "../lib/ids";
import { domainEventsOf } from "./domain-events";
import { Drafts } from "./drafts";
import { EncryptedDelivery, type Personalize, type RoomViewer } from "./encrypted";
import { MessageExpiry } from "./expiry";
import { MessageChanges } from "./message-changes";
import { MessageReactions } from "./message-reactions";
import { MessageReads } from "./message-reads";
import { MessageSearch } from "./message-search";
import { MessageSender } from "./message-sender";
import { Pins } from "./pins";
import { PollActions } from "./poll-actions";
import { CLOSE } from "./protocol";
import { RoomAccess } from "./room-access";
import type { Emit, RoomCore, RoomHost } from "./room-core";
import { RoomMedia } from "./room-media";
import { ScheduledMessages } from "./scheduled";
import type { RoomStore } from "./store";
import type { ChatConfig, MembershipChange, Message, RoomEvent, SystemNotice } from "./types";

export type { RoomHost };

/**
 * A chat's log and its rules: membership and posting rights, dense seqs, the event log, and the
 * three ways into the messages: `sender` (sending), `changes` (edits, deletes, clearing) and
 * `reads` (history, threads, receipts, unread). Methods throw AppError; the Durable Object turns
 * them into RPC results and socket frames.
 */
export class RoomLog implements RoomCore {
  /** Who may do what here: the chat's settings and its members' rights. */
  readonly access: RoomAccess;
  readonly sender: MessageSender;
  readonly changes: MessageChanges;
  readonly reads: MessageReads;
  readonly drafts: Drafts;
  readonly pins: Pins;
  readonly polls: PollActions;
  /** Reactions on messages (their live frames are coalesced: reaction-feed.ts). */
  readonly reactions: MessageReactions;
  readonly media: RoomMedia;
  /** Full-text search in the chat. */
  readonly search: MessageSearch;
  /** Messages waiting for their time. */
  readonly scheduled: ScheduledMessages;
  /** Disappearing messages, erased when their time comes. */
  readonly expiry: MessageExpiry;
  /** Encrypted chats: envelope checks, per-device delivery and acknowledgements. */
  readonly encrypted: EncryptedDelivery;

  constructor(
    readonly store: RoomStore,
    readonly host: RoomHost,
  ) {
    this.access = new RoomAccess(store, host.db, host.chatName);
    this.media = new RoomMedia(this);
    this.encrypted = new EncryptedDelivery(this);
    this.search = new MessageSearch(this);
    this.sender = new MessageSender(this);
    this.scheduled = new ScheduledMessages(store.sql, this, this.sender);
    this.expiry = new MessageExpiry(this);
    this.changes = new MessageChanges(this);
    this.reads = new MessageReads(this);
    this.drafts = new Drafts(store.sql, this);
    this.pins = new Pins(store.sql, this);
    this.polls = new PollActions(this);
    this.reactions = new MessageReactions(this);
  }

  // --- configuration and membership -------------------------------------------------------

  /** Set or update the chat's settings; `notice` appends a system message, `patch` a chat.updated event. */
  configure(config: ChatConfig, patch?: Record<string, unknown>, notice?: SystemNotice): Message | null {
    const message = this.write((emit) => {
      this.store.setConfig(config);
      if (patch) emit("chat.updated", { chat: patch });
      return notice ? this.appendSystem(notice, emit) : null;
    });
    if (message) this.summaryChanged();
    return message;
  }

  /** Apply membership changes decided in D1: refresh the cache, kick removed sockets, log it. */
  async membersChanged(change: MembershipChange): Promise<Message | null> {
    await this.access.ensureConfig();
    const at = Date.now();
    const removed = change.removed ?? [];
    const notice = this.write((emit) => {
      const lastSeq = this.store.lastSeq();
      for (const m of change.added ?? []) {
        // What was said before someone joined is history, not unread, for them.
        this.store.members.upsert(m, lastSeq);
        emit("member.joined", { userId: m.userId, role: m.role });
      }
      for (const m of change.updated ?? []) {
        this.store.members.upsert(m, lastSeq);
        emit("member.updated", { userId: m.userId, role: m.role, overrides: m.overrides });
      }
      for (const r of removed) {
        this.store.members.remove(r.userId, r.reason, at);
        emit(r.reason === "left" ? "member.left" : "member.removed", { userId: r.userId, reason: r.reason });
      }
      return change.notice ? this.appendSystem(change.notice, emit) : null;
    });
    if (notice) this.summaryChanged();
    const chatId = this.access.chatId();
    const chatType = this.access.config().type;
    const last = this.store.lastVisibleMessage();
    const lastActivityAt = last ? new Date(last.created_at).toISOString() : undefined;
    for (const m of change.added ?? [])
      this.host.publish([m.userId], { type: "chat.added", chatId, chatType, role: m.role, lastActivityAt });
    for (const r of removed) this.host.publish([r.userId], { type: "chat.removed", chatId, reason: r.reason });
    for (const r of removed) {
      this.drafts.forget(r.userId);
      this.host.closeUser(
        r.userId,
        r.reason === "banned" ? CLOSE.banned : CLOSE.removed,
        r.reason === "left" ? "left the chat" : `${r.reason} from the chat`,
      );
    }
    return notice;
  }

  /** A member changed their read-receipts setting: later reads follow it. */
  async memberSettingsChanged(userId: string, readReceipts: boolean): Promise<void> {
    await this.access.ensureConfig();
    this.store.members.setReadReceipts(userId, readReceipts);
  }

  /**
   * A member was shadow-banned until `until` (ms), or the ban lifted (null). Nothing is logged or
   * told to anyone: from now on what they send is seen by them alone (see MessageSender).
   */
  async shadowBanChanged(userId: string, until: number | null): Promise<void> {
    await this.access.ensureConfig();
    this.store.members.setShadowBan(userId, until);
  }

  /** A system message about something outside the room (e.g. a member's security code changed). */
  async notice(notice: SystemNotice): Promise<Message> {
    await this.access.ensureConfig();
    const message = this.write((emit) => this.appendSystem(notice, emit));
    this.summaryChanged();
    return message;
  }

  /** Direct chats only: whether one of the two blocked the other (then nobody may post). */
  setBlocked(blocked: boolean): void {
    this.store.setMeta("blocked", blocked ? "1" : "0");
  }

  /** Direct chats only: the other person deleted their account; the history stays readable. */
  setPeerDeleted(): void {
    this.store.setMeta("peerDeleted", "1");
  }

  // --- the event log ------------------------------------------------------------------------

  /** Events `viewer` may see after `after`, in order (encrypted messages with their device's envelope). */
  async events(
    viewer: RoomViewer,
    after: number,
    limit: number,
  ): Promise<{ events: RoomEvent[]; hasMore: boolean; tooFarBehind: boolean; lastEventSeq: number }> {
    await this.access.requireMember(viewer.userId);
    const page = this.store.events.after(after, Math.min(limit, 1000), viewer.userId);
    this.encrypted.withEventEnvelopes(page.events, viewer);
    return { ...page, lastEventSeq: this.store.lastEventSeq() };
  }

  /** The summary changed: flush now if the last flush is a second old, else when it is. */
  summaryChanged(): void {
    this.host.summaryDue(this.store.summary.changed());
  }

  /** Append a system notice (inside a write). */
  appendSystem(notice: SystemNotice, emit: Emit): Message {
    const row = this.store.insertMessage({
      id: newId(),
      senderId: null,
      clientMessageId: null,
      type: "system",
      text: null,
      system: notice,
      at: Date.now(),
    })!; // no client id: never a duplicate
    const message = this.store.toMessage(row, this.access.chatId());
    emit("message.new", { message });
    return message;
  }

  /**
   * Run a change as one transaction. `emit` logs an event (its eventSeq) inside it; the events
   * go out to the sockets (serialized once) only once the transaction committed, so a failure
   * sends nothing, and the store's memory is dropped so it cannot run ahead of storage. Events
   * emitted with `{ broadcast: false }` are logged only.
   */
  write<T>(fn: (emit: Emit) => T): T {
    const out: { text: string; event: RoomEvent; audience?: string; personalize?: Personalize }[] = [];
    const logged: { event: RoomEvent; audience?: string }[] = [];
    let result: T;
    try {
      result = this.host.transaction(() =>
        fn((type, payload, options) => {
          const audience = options?.audience;
          const { event, text } = this.store.events.append(type, payload, Date.now(), audience);
          logged.push({ event, audience });
          if (options?.broadcast !== false) out.push({ text, event, audience, personalize: options?.personalize });
          return event;
        }),
      );
    } catch (err) {
      // Rolled back: what memory holds may be ahead of storage now.
      this.store.reset();
      throw err;
    }
    for (const { text, event, audience, personalize } of out) {
      if (personalize) this.host.sendEach((viewer) => personalize(viewer, text), audience);
      else if (audience === undefined) this.host.broadcastText(text);
      else this.host.sendToUser(audience, event);
    }
    this.host.events(domainEventsOf(this.access.chatId(), logged));
    return result;
  }
}
