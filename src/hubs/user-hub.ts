import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import { hubFanoutMaxMembers } from "../lib/config";
import { SESSION_END_CLOSE, type SessionEndReason } from "../rooms/protocol";
import { HubCallFrames } from "./call-frames";
import { ChatOrder, type ChatOrderFact, type ChatOrderKey } from "./chat-order";
import { announcePresence } from "./client";
import { notificationFor, type PushJob, pushJobs } from "./notifications";
import { HubPresence, type PresenceChange } from "./presence";
import { type CallFrame, type CallFrameTarget, type HubUpdate, isCallFrame, type PushHint } from "./protocol";
import { type PushSettings, type PushTarget, type PushTargetInput, PushTargets } from "./push-targets";
import { HubSockets } from "./realtime";
import { leaveCalls, tellRoom } from "./room-calls";
import { SessionRegistry } from "./session-registry";
import { UpdateOrder } from "./update-order";
import { UpdateLog } from "./updates";

/** Whether a session may open a socket: refused once the hub heard that the session ended. */
export type Registration = { ok: true } | { ok: false; reason: SessionEndReason };

/**
 * One per user (addressed by the user id). It is the authority on the user's live sessions:
 * every chat room registers each socket's session here before accepting it, and ending a session
 * (logout, revocation, password change, device block, suspension, deletion) goes through here
 * first, so the hub tells exactly the rooms holding that session's sockets to close them, and
 * closes its own. Both calls are serialized by the object, so a socket that is being opened while
 * its session ends is either told to close or refused: it never outlives the session.
 *
 * It also holds the user's realtime sockets (`GET /api/v1/realtime`, one per device) and their
 * update log: rooms and the Worker `publish` chat activity, read positions, membership, settings
 * and security events; each gets an `updateSeq` and goes to every socket; `sync` replays. Its
 * sockets make the user online (presence.ts), and contacts' hubs tell it their presence changes.
 *
 * The cost of an ending is O(rooms with the session's sockets), not O(the user's chats), and it
 * does not depend on KV, whose deny-list can lag by a minute between locations.
 */
export class UserHub extends DurableObject<Bindings> {
  private readonly registry: SessionRegistry;
  private readonly updates: UpdateLog;
  private readonly sockets: HubSockets;
  private readonly order: ChatOrder;
  private readonly presence: HubPresence;
  private readonly push: PushTargets;
  private readonly versions: UpdateOrder;
  private readonly callFrames: HubCallFrames;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.registry = new SessionRegistry(ctx.storage.sql);
    this.updates = new UpdateLog(ctx.storage.sql);
    this.sockets = new HubSockets(ctx);
    this.order = new ChatOrder(ctx.storage.sql, env.DB, hubFanoutMaxMembers(env), this.updates);
    this.push = new PushTargets(ctx.storage.sql);
    this.versions = new UpdateOrder(ctx.storage.sql);
    this.presence = new HubPresence(ctx.storage.sql, env.DB, (frame, watchers) => announcePresence(env, frame, watchers));
    this.callFrames = new HubCallFrames(env, this.sockets, () => this.presence.userId());
  }

  /** One page of the user's chat list, in order (see ChatOrder): up to `limit + 1` entries. */
  chatPage(userId: string, filter: { archived: boolean; hidden: boolean }, limit: number, after: ChatOrderKey | null) {
    return this.order.page(userId, filter, limit, after);
  }

  /** The Worker read a page's chats from D1 and found these disagreeing with the order: D1 wins. */
  healChatOrder(facts: ChatOrderFact[]): void {
    this.order.heal(facts);
  }

  /**
   * Accept a realtime socket the Worker authenticated (user and session in headers only it can
   * set); a session that ended is refused (401), like the chat sockets.
   */
  override async fetch(request: Request): Promise<Response> {
    const sessionId = request.headers.get("x-session-id");
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !sessionId) {
      return new Response("expected a WebSocket upgrade from the API Worker", { status: 400 });
    }
    if (this.registry.endedReason(sessionId, Date.now())) {
      const error = { code: "session_revoked", message: "This session has ended; sign in again" };
      return Response.json({ error }, { status: 401 });
    }
    const open = this.sockets.mayOpen(sessionId);
    if (!open.ok) {
      const message = `Too many realtime sockets opened; try again in ${open.retryAfter} s`;
      return Response.json({ error: { code: "rate_limited", message, details: { retryAfter: open.retryAfter } } }, { status: 429 });
    }
    const pair = new WebSocketPair();
    this.sockets.accept(pair[1], { sessionId, userId: request.headers.get("x-user-id") ?? undefined, connectedAt: Date.now() });
    this.sockets.send(pair[1], { type: "hello", updateSeq: this.updates.lastUpdateSeq() });
    await this.reconcilePresence(request.headers.get("x-user-id"));
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const frame = this.sockets.read(ws, data);
    if (!frame) return;
    if (isCallFrame(frame)) return this.callFrames.handle(ws, frame);
    this.sockets.answer(ws, frame, this.updates);
  }

  /** A call's room tells some of this user's devices about the call (live only, never logged); answers the sockets reached. */
  async tellCallDevices(frame: CallFrame, target: CallFrameTarget = {}): Promise<number> {
    return this.sockets.sendToDevices(JSON.stringify(frame), target);
  }

  /** Whether the session holds a realtime socket (a call's room checks that its joined devices are still there). */
  async hasLiveSession(sessionId: string): Promise<boolean> {
    return this.sockets.hasOpenSocket(sessionId);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      await this.reconcilePresence(null, ws);
    } finally {
      try {
        ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
      } catch {
        // already closed
      }
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.reconcilePresence(null, ws);
  }

  /** A contact's presence changed: a live frame to this user's devices (not logged). */
  async tellDevices(change: PresenceChange): Promise<void> {
    this.sockets.broadcastText(JSON.stringify({ type: "presence", changes: [change] }));
  }

  /**
   * Log an update for the user's devices and send it to every realtime socket (RPC from rooms and
   * the Worker). With a room's `push` hint (chat activity), devices without a live socket may be
   * notified. Updates older than one already told about the same chat are dropped (update-order.ts).
   */
  async publish(update: HubUpdate, push?: PushHint, userId?: string): Promise<number> {
    // An update that lost a race with a newer one about the same chat is not told.
    if (this.versions.stale(update)) return this.updates.lastUpdateSeq();
    if (update.type === "chat.removed") this.versions.forget(update.chatId);
    const { type, ...payload } = update;
    const at = Date.now();
    this.order.apply(update, at);
    const text = this.updates.append(type, payload, at);
    this.sockets.broadcastText(text);
    const seq = this.updates.lastUpdateSeq();
    if (seq % 256 === 0) this.updates.prune();
    if (push && userId && update.type === "chat.activity") this.notify(userId, update, push, at);
    return seq;
  }

  /** Queue a notification for each of the user's targets whose session holds no live socket. */
  private notify(userId: string, update: Extract<HubUpdate, { type: "chat.activity" }>, push: PushHint, at: number): void {
    const targets = this.push.list();
    if (targets.length === 0) return;
    const notification = notificationFor(userId, update, push, this.push.settings(), at);
    const jobs: PushJob[] = notification ? pushJobs(userId, notification, targets, this.sockets.liveSessions()) : [];
    if (jobs.length === 0) return;
    // Queued in the background: the room's fan-out does not wait for the queue.
    this.ctx.waitUntil(
      this.env.PUSH_QUEUE.sendBatch(jobs.map((body) => ({ body, contentType: "json" as const }))).then(
        () => undefined,
        (err) =>
          console.error(JSON.stringify({ level: "error", msg: "push enqueue failed", userId, chatId: update.chatId, error: String(err) })),
      ),
    );
  }

  /** Register a push target for a live session (null: the session ended). */
  async addPushTarget(sessionId: string, input: PushTargetInput): Promise<{ target: PushTarget; created: boolean } | null> {
    const at = Date.now();
    if (this.registry.endedReason(sessionId, at)) return null;
    return this.push.add(sessionId, input, at);
  }

  /** The user's push targets, newest first. */
  async listPushTargets(): Promise<PushTarget[]> {
    return this.push.list();
  }

  /** Forget a target (the user removed it, or its push service said it is gone); answers whether it existed. */
  async removePushTarget(id: string): Promise<boolean> {
    return this.push.remove(id);
  }

  /** The user's notification settings. */
  async pushSettings(): Promise<PushSettings> {
    return this.push.settings();
  }

  /**
   * Change some notification settings (the Worker sends the `notifications` of the user's
   * preferences after they changed, with the preferences' version; an older version than the one
   * applied is ignored). Answers them all.
   */
  async updatePushSettings(patch: Partial<PushSettings>, version?: number): Promise<PushSettings> {
    return this.push.updateSettings(patch, version);
  }

  /** A room is about to accept a socket of `sessionId`: record it, unless the session ended. */
  async register(sessionId: string, chatId: string): Promise<Registration> {
    const at = Date.now();
    const ended = this.registry.endedReason(sessionId, at) as SessionEndReason | null;
    if (ended) return { ok: false, reason: ended };
    this.registry.register(sessionId, chatId, at);
    await this.scheduleAlarm();
    return { ok: true };
  }

  /**
   * Sessions of `userId` ended: remember them until `rememberUntil` (the last moment one of their
   * access tokens could still be accepted) and close their sockets in every room. With
   * `wholeAccount` (suspension, ban, deletion) rooms close every socket of the user.
   * Returns how many rooms were told.
   */
  async endSessions(
    userId: string,
    sessionIds: string[],
    reason: SessionEndReason,
    rememberUntil: number,
    wholeAccount = false,
  ): Promise<number> {
    this.registry.markEnded(sessionIds, reason, rememberUntil);
    // An ended session's devices are never notified again.
    this.push.removeSessions(sessionIds, wholeAccount);
    await this.scheduleAlarm();
    const rooms = wholeAccount ? this.registry.rooms() : this.registry.roomsOf(sessionIds);
    const { code, text } = SESSION_END_CLOSE[reason];
    // Every device hears which sessions ended (the ended ones first, before their sockets close).
    for (const sessionId of sessionIds) await this.publish({ type: "session.ended", sessionId, reason });
    this.sockets.closeSessions(sessionIds, code, text, wholeAccount);
    await leaveCalls(this.env, userId, sessionIds, wholeAccount);
    await this.reconcilePresence(userId);
    await Promise.all(
      rooms.map((chatId) =>
        tellRoom(this.env, chatId, (room) => room.endSessions(userId, sessionIds, code, text, rememberUntil, wholeAccount)),
      ),
    );
    // Only once every room answered: a failed call leaves the registrations for a retry.
    if (wholeAccount) for (const chatId of rooms) this.registry.forgetRoom(chatId);
    else this.registry.forgetSessions(sessionIds);
    return rooms.length;
  }

  /**
   * Who may see whom online changed for `userIds` (privacy, contacts, blocks): every room where
   * this hub's user has sockets reloads those users' presence rules and tells its sockets.
   */
  async refreshPresence(userId: string, userIds: string[]): Promise<void> {
    const others = userIds.filter((id) => id !== userId);
    // Contacts' hubs are told in the background: a block or a privacy change does not wait for them.
    this.ctx.waitUntil(this.presence.rulesChanged(others.length > 0 ? others : null));
    await Promise.all(
      this.registry.rooms().map((chatId) =>
        tellRoom(this.env, chatId, async (room) => {
          const connected = await room.refreshPresence(userId, userIds);
          if (!connected) this.registry.forgetRoom(chatId);
        }),
      ),
    );
  }

  override async alarm(): Promise<void> {
    this.updates.prune();
    const presenceDue = await this.presence.reconcile(null, this.sockets.openCount(), Date.now());
    const next = earliest(this.registry.prune(Date.now()), presenceDue);
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  /**
   * Presence follows the open sockets (`closing`, if given, no longer counts); the user id comes
   * from the Worker's header on a new socket, else from what the hub stored.
   */
  private async reconcilePresence(userId: string | null, closing?: WebSocket): Promise<void> {
    await this.presence.reconcile(userId, this.sockets.openCount(closing), Date.now());
    await this.scheduleAlarm();
  }

  /** One alarm for both: the registry's next prune and presence's next step, whichever is first. */
  private async scheduleAlarm(): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    const presenceDue = this.presence.nextDue();
    if (current !== null && (presenceDue === null || current <= presenceDue)) return;
    const next = earliest(current ?? this.registry.prune(Date.now()), presenceDue);
    if (next !== null && next !== current) await this.ctx.storage.setAlarm(next);
  }
}

const earliest = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
