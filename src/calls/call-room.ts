import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import { hubFor } from "../hubs/client";
import type { CallRelayFrame } from "../hubs/protocol";
import { AppError, notFound } from "../lib/errors";
import { type RpcResult, rpcResult } from "../lib/rpc-result";
import { deliverFrames, postCallNotice } from "./call-effects";
import { abandonCall, recordNewCall, recordStep } from "./call-records";
import * as machine from "./call-state";
import { type CallState, isOver, type StartCallInput, type Step } from "./call-state";
import { LIVENESS_INTERVAL_MS, NOTICE_RETRY_MS, RING_TIMEOUT_MS } from "./config";
import type { CallDevice, CallServerFrame } from "./frames";
import { checkSfuRequest, emptySfuState, type PublishedTrack, pruneSfuState, type SfuRequest, type SfuState } from "./sfu-state";
import { SignalBudget } from "./signal-budget";
import { type CallView, callView } from "./views";

export type { StartCallInput };

/** What the room keeps in its storage. */
interface StoredCall {
  call: CallState;
  /** The chat's system message about the finished call was written (or cannot be). */
  noticeDone: boolean;
  noticeAttempts: number;
  /** Joined users whose device held no realtime socket at the last liveness check. */
  absent: string[];
  /** SFU calls: whose SFU sessions these are, and what was published on them. */
  sfu: SfuState;
}

/** Attempts at the chat's system message about a finished call before giving up (logged). */
const MAX_NOTICE_ATTEMPTS = 5;

/**
 * One per call (addressed by the call id): the one authority on the call while it lasts. Every
 * change (answer, decline, hang-up, the ring timeout, an ended session, a vanished device) runs
 * here one at a time through the state machine (call-state.ts), is written to D1 (the record, and
 * each person's line: call-records.ts), and is then told to the devices concerned through each
 * user's hub. Signaling between two devices of the call passes here too, so only devices in the
 * call reach each other. The alarm ends ringing after 45 s, checks while the call is active that
 * its devices are still connected, and retries the chat's system message about the finished call.
 */
export class CallRoom extends DurableObject<Bindings> {
  private stored: StoredCall | null | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly budget = new SignalBudget();

  /** Start the call (the caller is in, callees ring or are busy); `409 already_in_call` if the caller's line is taken. */
  async start(input: StartCallInput): Promise<RpcResult<CallView>> {
    return rpcResult(() =>
      this.serialized(async () => {
        if (await this.load()) throw new AppError(409, "conflict", "This call already exists");
        const at = Date.now();
        const id = input.callId;
        const calleeIds = [...new Set(input.calleeIds)].filter((userId) => userId !== input.callerId).sort();
        const { ringing } = await recordNewCall(
          this.env.DB,
          machine.initialState(input, [], new Set(), at),
          input.callerSessionId,
          calleeIds,
        );
        const state = machine.initialState(input, calleeIds, ringing, at);
        const step = machine.started(state);
        try {
          await recordStep(this.env.DB, state, step);
          await this.save({ call: state, noticeDone: false, noticeAttempts: 0, absent: [], sfu: emptySfuState() });
        } catch (err) {
          // The lines are claimed in D1 but this room holds no call to free them: free them now.
          await abandonCall(this.env.DB, id, at).catch((e) =>
            console.error(JSON.stringify({ level: "error", msg: "abandoned call kept its lines", callId: id, error: String(e) })),
          );
          throw err;
        }
        await this.after(step);
        return callView(state, state.participants);
      }),
    );
  }

  /** `userId` answers on `sessionId` (see call-state.ts accept). */
  async accept(userId: string, sessionId: string): Promise<RpcResult<CallView>> {
    return rpcResult(() => this.apply((state, at) => machine.accept(state, userId, sessionId, at)));
  }

  /** `userId` declines, or says busy, from `sessionId`. */
  async decline(userId: string, sessionId: string, answer: "rejected" | "busy"): Promise<RpcResult<CallView>> {
    return rpcResult(() => this.apply((state, at) => machine.decline(state, userId, answer, sessionId, at)));
  }

  /** `userId` leaves the call (from any of their sessions). */
  async hangUp(userId: string, sessionId: string): Promise<RpcResult<CallView>> {
    return rpcResult(() => this.apply((state, at) => machine.hangUp(state, userId, sessionId, at)));
  }

  /** Sessions of `userId` ended: the call loses the device it is bound to among them. */
  async sessionsEnded(userId: string, sessionIds: string[], wholeAccount: boolean): Promise<RpcResult<CallView>> {
    return rpcResult(() => this.apply((state, at) => machine.sessionsEnded(state, userId, sessionIds, wholeAccount, at)));
  }

  /**
   * Pass an offer, answer or ICE candidate from one device in the call to another: both must be
   * joined, on exactly these sessions (`409 not_in_call`, `409 peer_not_in_call`), and the sender
   * within its signaling budget (`429 rate_limited`). Answers how many of the peer's sockets it reached.
   */
  async relay(from: CallDevice, frame: CallRelayFrame): Promise<RpcResult<{ delivered: number }>> {
    return rpcResult(() =>
      this.withCall(async ({ call: state }) => {
        const sender = state.participants.find((p) => p.userId === from.userId);
        if (!sender) throw notFound("Call");
        if (isOver(state)) throw new AppError(409, "call_ended", "This call is over");
        if (sender.state !== "joined" || sender.sessionId !== from.sessionId) {
          throw new AppError(409, "not_in_call", "This device is not in the call: accept it first");
        }
        const peer = state.participants.find((p) => p.userId === frame.to.userId);
        if (peer?.state !== "joined" || peer.sessionId !== frame.to.sessionId) {
          throw new AppError(409, "peer_not_in_call", "That device is not in the call");
        }
        this.budget.spend(from.userId, Date.now());
        const { id: _id, to: _to, ...signal } = frame;
        const out = { ...signal, from: { userId: from.userId, sessionId: from.sessionId } } as CallServerFrame;
        const delivered = await hubFor(this.env, peer.userId).tellCallDevices(out, { sessionId: peer.sessionId });
        return { delivered };
      }),
    );
  }

  /** Whether `userId` may do `request` on this SFU call (see sfu-state.ts checkSfuRequest). */
  async sfuCheck(userId: string, request: SfuRequest): Promise<RpcResult<null>> {
    return rpcResult(() =>
      this.withCall(async (stored) => {
        checkSfuRequest(stored.call, stored.sfu, userId, request);
        return null;
      }),
    );
  }

  /** `userId` opened SFU session `sfuSessionId` for this call (checked with `opening` just before). */
  async sfuSessionOpened(userId: string, sfuSessionId: string): Promise<RpcResult<null>> {
    return rpcResult(() =>
      this.withCall(async (stored) => {
        checkSfuRequest(stored.call, stored.sfu, userId, { opening: true });
        const sessions = [...stored.sfu.sessions, { userId, sessionId: sfuSessionId }];
        await this.save({ ...stored, sfu: { ...stored.sfu, sessions } });
        return null;
      }),
    );
  }

  /**
   * `userId` published tracks on their SFU session: recorded, and announced to the other devices
   * in the call (`call.tracks`), which receive them from that session.
   */
  async sfuTracksPublished(userId: string, sfuSessionId: string, trackNames: string[]): Promise<RpcResult<null>> {
    return rpcResult(() =>
      this.withCall(async (stored) => {
        checkSfuRequest(stored.call, stored.sfu, userId, { sfuSessionId });
        const fresh = trackNames.filter((t) => !stored.sfu.tracks.some((x) => x.sessionId === sfuSessionId && x.trackName === t));
        const tracks = [...stored.sfu.tracks, ...fresh.map((trackName) => ({ userId, sessionId: sfuSessionId, trackName }))];
        await this.save({ ...stored, sfu: { ...stored.sfu, tracks } });
        const me = stored.call.participants.find((p) => p.userId === userId)!;
        const frame: CallServerFrame = {
          type: "call.tracks",
          callId: stored.call.id,
          from: { userId, sessionId: me.sessionId! },
          tracks: fresh.map((trackName) => ({ sessionId: sfuSessionId, trackName })),
        };
        const others = stored.call.participants.filter((p) => p.state === "joined" && p.userId !== userId && p.sessionId);
        const deliveries = others.map((p) => ({ userId: p.userId, target: { sessionId: p.sessionId! }, frame }));
        if (fresh.length > 0) await deliverFrames(this.env, deliveries);
        return null;
      }),
    );
  }

  /** The tracks published in this SFU call by the people in it (for a device that joins). */
  async sfuTracks(userId: string): Promise<RpcResult<PublishedTrack[]>> {
    return rpcResult(() =>
      this.withCall(async (stored) => {
        checkSfuRequest(stored.call, stored.sfu, userId, {});
        return stored.sfu.tracks;
      }),
    );
  }

  /** Ring timeout, liveness of the joined devices, and the retry of the chat's system message. */
  override async alarm(): Promise<void> {
    await this.serialized(async () => {
      const stored = await this.load();
      if (!stored) return;
      const at = Date.now();
      if (!isOver(stored.call) && at >= stored.call.startedAt + RING_TIMEOUT_MS) {
        await this.commit((state) => machine.ringTimedOut(state, at));
      }
      if (this.stored!.call.status === "active") await this.checkDevices();
      if (isOver(this.stored!.call) && !this.stored!.noticeDone) await this.postNotice();
      await this.schedule();
    });
  }

  /**
   * Joined devices that hold no realtime socket at two checks in a row (one to two minutes) have
   * left the call: a crashed app or a lost phone must not keep a call, and the line, forever.
   */
  private async checkDevices(): Promise<void> {
    const stored = this.stored!;
    const gone: string[] = [];
    const absent: string[] = [];
    for (const p of stored.call.participants) {
      if (p.state !== "joined" || !p.sessionId) continue;
      const sessionId = p.sessionId;
      // A hub that cannot be asked counts as connected: only a clear "no socket" drops a device.
      const live = await hubFor(this.env, p.userId)
        .hasLiveSession(sessionId)
        .catch(() => true);
      if (live) continue;
      if (stored.absent.includes(p.userId)) gone.push(p.userId);
      else absent.push(p.userId);
    }
    await this.save({ ...this.stored!, absent });
    for (const userId of gone) await this.commit((state, at) => machine.hangUp(state, userId, null, at));
  }

  /** Run `fn` on the stored call, serialized like every change (`404 not_found` for a call that never started here). */
  private withCall<T>(fn: (stored: StoredCall) => Promise<T>): Promise<T> {
    return this.serialized(async () => {
      const stored = await this.load();
      if (!stored) throw notFound("Call");
      return fn(stored);
    });
  }

  /** Run `fn` after every change before it has finished (one change at a time, also across awaits). */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<StoredCall | null> {
    if (this.stored === undefined) this.stored = (await this.ctx.storage.get<StoredCall>("call")) ?? null;
    return this.stored;
  }

  private async save(stored: StoredCall): Promise<void> {
    await this.ctx.storage.put("call", stored);
    this.stored = stored;
  }

  /** One step on the call, serialized: write it, tell the devices, answer the call as it is now. */
  private apply(fn: (state: CallState, at: number) => Step): Promise<CallView> {
    return this.withCall(async () => {
      const state = await this.commit(fn);
      return callView(state, state.participants);
    });
  }

  /** Run a step on a copy; once D1 took what changed, the copy becomes the state and the devices are told. */
  private async commit(fn: (state: CallState, at: number) => Step): Promise<CallState> {
    const stored = this.stored!;
    const next = structuredClone(stored.call);
    const step = fn(next, Date.now());
    if (step.changed.size > 0 || step.callChanged) {
      await recordStep(this.env.DB, next, step);
      const absent = stored.absent.filter((id) => !step.changed.has(id));
      await this.save({ ...stored, call: next, absent, sfu: pruneSfuState(next, stored.sfu) });
    }
    await this.after(step);
    return next;
  }

  /** Tell the devices; a call that just ended gets its system message in the chat. */
  private async after(step: Step): Promise<void> {
    await deliverFrames(this.env, step.deliveries);
    if (step.ended) await this.postNotice();
    await this.schedule();
  }

  /** The chat's system message about the finished call; the alarm retries a failure that may pass, a few times. */
  private async postNotice(): Promise<void> {
    const stored = this.stored!;
    const attempts = stored.noticeAttempts + 1;
    const done = (await postCallNotice(this.env, stored.call)) || attempts >= MAX_NOTICE_ATTEMPTS;
    await this.save({ ...stored, noticeDone: done, noticeAttempts: attempts });
  }

  /** The next alarm: the ring timeout while someone rings, a liveness check while active, a notice retry once over. */
  private async schedule(): Promise<void> {
    const stored = this.stored;
    if (!stored) return;
    const { call } = stored;
    const at = Date.now();
    let next: number | null = null;
    if (isOver(call)) {
      if (!stored.noticeDone) next = at + NOTICE_RETRY_MS;
    } else {
      if (call.participants.some((p) => p.state === "ringing")) next = call.startedAt + RING_TIMEOUT_MS;
      if (call.status === "active") next = Math.min(next ?? Number.POSITIVE_INFINITY, at + LIVENESS_INTERVAL_MS);
    }
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }
}
