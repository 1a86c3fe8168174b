import type { Bindings } from "../env";
import { publishToHubs } from "../hubs/client";
import { beforeSendConfig, hubFanoutMaxMembers } from "../lib/config";
import { AppError } from "../lib/errors";
import { publishEvents } from "../lib/events";
import { rpcResult } from "../lib/rpc-result";
import { TokenBuckets } from "../lib/token-buckets";
import { loadPresenceRule, withdrawMessages } from "./directory";
import { FLOOD_PENALTY_MS, FrameBudget, type FrameVerdict } from "./frame-budget";
import { answerFrame, errorFrame, readFrame, refuseOnClosedSocket } from "./frames";
import { HUB_FANOUT_DEFER_MS, HubFeed, pendingActivity } from "./hub-feed";
import { mediaPort } from "./media-port";
import { MessageRpc } from "./message-rpc";
import { PresenceRules } from "./presence";
import { PresenceFeed } from "./presence-feed";
import { BARE_PING, BARE_PONG, CLOSE, SOCKET_OPENS } from "./protocol";
import { ReactionFeed } from "./reaction-feed";
import { RoomLog } from "./room-log";
import { RoomTimers } from "./room-timers";
import { admitSocket } from "./socket-admission";
import { RoomSockets } from "./sockets";
import { RoomStore } from "./store";
import { SUMMARY_INTERVAL_MS } from "./summary";
import type { ChatConfig, KeyDevice, MembershipChange, Message, RoomResult, SystemNotice } from "./types";

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
  private readonly budget = new FrameBudget();
  private readonly opens = new TokenBuckets(SOCKET_OPENS);
  private readonly timers: RoomTimers;
  private readonly reactionFeed: ReactionFeed;
  private readonly hubFeed: HubFeed;

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
        this.offlineIfGone(userId);
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
    this.offlineIfGone(userId);
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

  // --- sockets ----------------------------------------------------------------------------

  /**
   * Accept a socket the Worker authenticated (user, session and request id in headers only the
   * Worker can set). The session is registered with the user's hub first: a session that ended
   * (even one ending while this runs) is refused, so a socket never outlives its session.
   */
  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get("x-user-id");
    const sessionId = request.headers.get("x-session-id");
    const keyDevice = keyDeviceOf(request.headers);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !sessionId) {
      return new Response("expected a WebSocket upgrade from the API Worker", { status: 400 });
    }
    try {
      await admitSocket(
        {
          env: this.env,
          store: this.store,
          access: this.log.access,
          needsRule: () => !this.sockets.isOnline(userId),
          rules: this.rules,
          opens: this.opens,
        },
        userId,
        sessionId,
      );
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      // The Worker checked D1 a moment ago; the room may know better (just removed or banned).
      return Response.json({ error: { code: err.code, message: err.message, details: err.details } }, { status: err.status });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const firstSocket = !this.sockets.isOnline(userId);
    this.sockets.accept(server, {
      userId,
      sessionId,
      keyDevice,
      connectedAt: Date.now(),
      requestId: request.headers.get("x-request-id"),
    });
    this.sockets.send(server, {
      type: "hello",
      chatId: this.log.access.chatId(),
      lastSeq: this.store.lastSeq(),
      lastEventSeq: this.store.lastEventSeq(),
      online: this.sockets.onlineFor(userId),
    });
    if (firstSocket) this.presence.changed(userId, true);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    // The budget is checked before anything is parsed: a flood costs almost nothing.
    const verdict = this.budget.check(ws);
    if (verdict.kind !== "accept") return this.overBudget(ws, verdict);
    const info = this.sockets.info(ws);
    if (!info) return;
    if (info.closedWith) return refuseOnClosedSocket(this.sockets, ws, info, data);
    const reading = readFrame(data);
    if (!reading.ok) {
      this.sockets.send(ws, errorFrame(reading.error, reading.id));
      if (reading.tooLarge) this.sockets.close(ws, CLOSE.tooBig, "frame too large");
      return;
    }
    const context = {
      log: this.log,
      sockets: this.sockets,
      store: this.store,
      scheduleAlarm: (at: number) => this.timers.scheduleAlarm(at),
    };
    await answerFrame(context, ws, info, reading.frame);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // Complete the closing handshake: a hibernatable socket is not answered automatically.
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
    const info = this.sockets.info(ws);
    if (info) this.offlineIfGone(info.userId);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws, 1011);
  }

  /** One warning per run of dropped frames; a socket that keeps flooding is closed (1008). */
  private overBudget(ws: WebSocket, verdict: Exclude<FrameVerdict, { kind: "accept" }>): void {
    if (verdict.kind === "warn") {
      const error = new AppError(429, "rate_limited", "Too many frames: frames are dropped unanswered until the budget refills", {
        retryAfter: verdict.retryAfter,
      });
      this.sockets.send(ws, errorFrame(error));
    } else if (verdict.kind === "close") {
      const info = this.sockets.info(ws);
      this.sockets.close(ws, CLOSE.policyViolation, "frame flood");
      if (!info) return;
      // Reconnecting to flood again is refused for a while (429 at the upgrade).
      this.store.admission.penalize(info.userId, Date.now() + FLOOD_PENALTY_MS);
      this.offlineIfGone(info.userId);
    }
  }

  /** When a user's last socket here closed: stop their typing and tell whoever saw them online (coalesced). */
  private offlineIfGone(userId: string): void {
    if (this.sockets.isOnline(userId) || !this.rules.has(userId)) return;
    if (this.store.transient.clearTyping(userId)) this.sockets.broadcast({ type: "typing", userId, typing: false });
    this.presence.changed(userId, false);
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

/** The socket's key device, as the Worker found it for the session (headers only it can set). */
function keyDeviceOf(headers: Headers): KeyDevice | null {
  const deviceId = Number(headers.get("x-key-device-id") ?? Number.NaN);
  const registrationId = Number(headers.get("x-key-registration-id") ?? Number.NaN);
  return Number.isInteger(deviceId) && Number.isInteger(registrationId) ? { deviceId, registrationId } : null;
}
