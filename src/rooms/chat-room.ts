import type { Bindings } from "../env";
import { publishToHubs } from "../hubs/client";
import { beforeSendConfig, hubFanoutMaxMembers } from "../lib/config";
import { publishEvents } from "../lib/events";
import { rpcResult } from "../lib/rpc-result";
import { loadPresenceRule, withdrawMessages } from "./directory";
import { HUB_FANOUT_DEFER_MS, HubFeed, pendingActivity } from "./hub-feed";
import { mediaPort } from "./media-port";
import { MessageRpc } from "./message-rpc";
import { PresenceRules } from "./presence";
import { PresenceFeed } from "./presence-feed";
import { BARE_PING, BARE_PONG, CLOSE } from "./protocol";
import { ReactionFeed } from "./reaction-feed";
import { RoomLog } from "./room-log";
import { RoomTimers } from "./room-timers";
import { SocketGate } from "./socket-gate";
import { RoomSockets } from "./sockets";
import { RoomStore } from "./store";
import { SUMMARY_INTERVAL_MS } from "./summary";
import type { ChatConfig, MembershipChange, Message, RoomResult, SystemNotice } from "./types";

/**
 * One chat's room (SQLite-backed Durable Object). It is the only writer of the chat's message
 * log (RoomLog: dense `seq` per message, `eventSeq` per change), holds the chat's hibernatable
 * WebSockets, and writes the chat's summary to D1 at most once a second from its alarm.
 * `fetch` only upgrades WebSockets (after the Worker authenticated and checked membership);
 * everything else is RPC from the Worker, and socket frames take the same paths.
 */
export class ChatRoom extends MessageRpc {
  private readonly store: RoomStore;
  protected readonly log: RoomLog;
  private readonly rules: PresenceRules;
  private readonly sockets: RoomSockets;
  private readonly presence: PresenceFeed;
  private readonly timers: RoomTimers;
  private readonly reactionFeed: ReactionFeed;
  private readonly hubFeed: HubFeed;
  private readonly gate: SocketGate;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.store = new RoomStore(ctx.storage.sql);
    this.timers = new RoomTimers(
      ctx.storage,
      // A flush right after a send waits a moment before the hub fan-out: the send is answered first.
      () => this.flushSummary(HUB_FANOUT_DEFER_MS),
      () => this.reactionFeed.flush(),
    );
    this.rules = new PresenceRules(ctx.storage.sql);
    this.sockets = new RoomSockets(ctx, this.rules);
    this.presence = new PresenceFeed(this.sockets, this.rules);
    this.reactionFeed = new ReactionFeed({ store: this.store, sockets: this.sockets, schedule: (at) => this.timers.scheduleReactions(at) });
    this.log = new RoomLog(this.store, {
      db: env.DB,
      chatName: ctx.id.name,
      broadcastText: (text) => {
        this.reactionFeed.beforeEvent();
        this.sockets.broadcastText(text);
      },
      reactionsChanged: (seq) => this.reactionFeed.changed(seq),
      sendToUser: (userId, frame) => this.sockets.sendToUser(userId, frame),
      sendEach: (render, audience) => {
        this.reactionFeed.beforeEvent();
        this.sockets.sendEach(render, audience);
      },
      closeUser: (userId, code, reason) => {
        this.sockets.closeUser(userId, code, reason);
        this.gate.offlineIfGone(userId);
      },
      summaryDue: (at) => this.timers.scheduleFlush(at),
      wakeAt: (at) => ctx.waitUntil(this.timers.scheduleAlarm(at)),
      waitUntil: (promise) => ctx.waitUntil(promise),
      publish: (userIds, update) => ctx.waitUntil(publishToHubs(env, userIds, update)),
      beforeSend: beforeSendConfig(env),
      events: (events) => {
        if (events.length > 0) ctx.waitUntil(publishEvents(env, events));
      },
      detachMedia: async (messageIds) => {
        // Other messages' queued references reach D1 first: an item one of them carries is not unreferenced.
        await this.log.media.outbox.forget(messageIds);
        await this.log.media.outbox.flush();
        await mediaPort().detach(env, this.log.access.chatId(), messageIds);
      },
      transaction: (fn) => ctx.storage.transactionSync(fn),
    });
    this.hubFeed = new HubFeed(
      () => {
        const chatId = this.store.config()?.chatId;
        return chatId ? pendingActivity(this.store, chatId, hubFanoutMaxMembers(env)) : [];
      },
      (userIds, update, push) => publishToHubs(env, userIds, update, push),
    );
    this.gate = new SocketGate({
      env,
      store: this.store,
      log: this.log,
      sockets: this.sockets,
      rules: this.rules,
      presence: this.presence,
      scheduleAlarm: (at) => this.timers.scheduleAlarm(at),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(BARE_PING, BARE_PONG));
  }

  // --- RPC from the Worker ------------------------------------------------------------------

  /** Set or update the chat's settings; `notice` appends a system message, `patch` a chat.updated event. */
  configure(config: ChatConfig, patch?: Record<string, unknown>, notice?: SystemNotice): Promise<RoomResult<Message | null>> {
    return rpcResult(() => this.log.configure(config, patch, notice));
  }

  /** Apply membership changes decided in D1: refresh the cache, kick removed sockets, log it. */
  membersChanged(change: MembershipChange): Promise<RoomResult<Message | null>> {
    return rpcResult(() => this.log.membersChanged(change));
  }

  /** A member was shadow-banned until `until` (ms), or the shadow ban was lifted (null). */
  shadowBanChanged(userId: string, until: number | null): Promise<RoomResult<null>> {
    return rpcResult(async () => {
      await this.log.shadowBanChanged(userId, until);
      return null;
    });
  }

  /** Direct chats: one of the two blocked the other (or unblocked): posting stops (or resumes). */
  setBlocked(blocked: boolean): Promise<RoomResult<null>> {
    return rpcResult(() => {
      this.log.setBlocked(blocked);
      return null;
    });
  }

  /** Direct chats: the other person deleted their account, so nobody posts here any more. */
  setPeerDeleted(): Promise<RoomResult<null>> {
    return rpcResult(() => {
      this.log.setPeerDeleted();
      return null;
    });
  }

  /** A member changed their read-receipts privacy setting. */
  memberSettingsChanged(userId: string, readReceipts: boolean): Promise<RoomResult<null>> {
    return rpcResult(async () => {
      await this.log.memberSettingsChanged(userId, readReceipts);
      return null;
    });
  }

  /**
   * From the user's hub: sessions ended. Close their sockets here (every socket of the user with
   * `wholeAccount`), refuse frames still in flight, and refuse new sockets of those sessions
   * until `until`. Returns whether the user still has sockets here.
   */
  endSessions(userId: string, sessionIds: string[], code: number, reason: string, until: number, wholeAccount = false): boolean {
    this.store.admission.endSessions(sessionIds, until);
    this.sockets.closeUser(userId, code, reason, wholeAccount ? undefined : sessionIds);
    this.gate.offlineIfGone(userId);
    return this.sockets.isOnline(userId);
  }

  /**
   * From a hub: who may see `userIds` online changed. Reload their rules and tell every socket
   * what it may now see. Returns whether `hubUserId` still has sockets here.
   */
  async refreshPresence(hubUserId: string, userIds: string[]): Promise<boolean> {
    const chatId = this.store.config()?.chatId;
    const online = userIds.filter((id) => this.sockets.isOnline(id));
    if (chatId && online.length > 0) {
      const loaded = await Promise.all(online.map((id) => loadPresenceRule(this.env.DB, chatId, id)));
      for (const [i, id] of online.entries()) this.rules.set(id, loaded[i]!);
      for (const id of online) this.presence.rulesChanged(id);
    }
    return this.sockets.isOnline(hubUserId);
  }

  /** The chat was deleted: close every socket, take its messages out of the admin count, erase the room. */
  async destroy(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) this.sockets.close(ws, CLOSE.chatDeleted, "chat deleted");
    // The chat leaves every member's list, on all their devices.
    const chatId = this.store.config()?.chatId;
    if (chatId)
      await publishToHubs(
        this.env,
        this.store.members.all().map((m) => m.userId),
        { type: "chat.removed", chatId, reason: "deleted" },
      );
    await withdrawMessages(this.env.DB, this.store.summary.flushedMessages());
    await this.timers.clear();
    await this.ctx.storage.deleteAll();
  }

  // --- sockets (socket-gate.ts) ---------------------------------------------------------------

  /** Upgrades only: a socket the Worker authenticated and checked membership for, admitted by the gate. */
  override fetch(request: Request): Promise<Response> {
    return this.gate.upgrade(request);
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    await this.gate.message(ws, data);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.gate.closed(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.gate.closed(ws, 1011);
  }

  // --- alarm: D1 summary and media references, reaction frames, typing, poll close times, pruning --

  override async alarm(): Promise<void> {
    this.timers.alarmFired();
    this.reactionFeed.flushDue();
    const at = Date.now();
    for (const userId of this.store.transient.expireTyping(at)) this.sockets.broadcast({ type: "typing", userId, typing: false });
    // What falls due first (its messages then go out with this flush), then the summary and its hub fan-out.
    const wakes = [
      this.log.polls.closeDue(at),
      await this.log.scheduled.sendDue(at),
      await this.log.expiry.expireDue(at),
      this.log.encrypted.expireDue(at),
      this.store.transient.nextTypingExpiry(),
    ];
    await Promise.all([this.flushSummary(), this.log.media.outbox.flush()]);
    this.store.events.prune();
    this.store.admission.prune(at);
    // One alarm, the earliest of every timer the room keeps.
    for (const next of wakes) if (next !== null) await this.timers.scheduleAlarm(next);
  }

  /** Write the summary to D1 if it changed, then tell the members' hubs (`deferMs` later); a failure tries again a second later. */
  private async flushSummary(deferMs = 0): Promise<void> {
    const chatId = this.store.config()?.chatId;
    if (!chatId || !this.store.summary.dirty) return;
    try {
      await this.store.summary.flush(this.env.DB, chatId, Date.now());
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "summary flush failed", chatId, error: String(err) }));
      this.timers.scheduleFlush(Date.now() + SUMMARY_INTERVAL_MS);
      return;
    }
    // Members' hubs hear the new activity once it is in D1 (their chat lists are ordered by it).
    await this.hubFeed.announce(deferMs);
  }
}
