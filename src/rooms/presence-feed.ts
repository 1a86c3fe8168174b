import type { PresenceRules } from "./presence";
import type { RoomSockets } from "./sockets";

/** Each socket gets at most one presence frame per this interval. */
export const PRESENCE_INTERVAL_MS = 1_000;
/**
 * A mass disconnect (many sockets closing at once) is let settle before anyone is told: while at
 * least OFFLINE_BURST offline changes are pending and the last one came less than a presence
 * interval ago, the flush waits, at most OFFLINE_MAX_WAIT_MS after the first pending change. The
 * sockets closing in the burst then get no presence frame ahead of their Close frame.
 */
export const OFFLINE_BURST = 8;
export const OFFLINE_MAX_WAIT_MS = 3_000;
/**
 * A flush sends to this many sockets, then yields, so Close events already queued run first and
 * their sockets drop out: a socket closing during a flush gets at most one slice's worth of waste.
 */
export const FLUSH_SLICE = 64;

interface PendingChange {
  online: boolean;
  /** Who may see the user changed: viewers who may not are told `online: false`. */
  rulesChanged: boolean;
}

const yieldTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Presence, coalesced: changes wait until a second has passed since the last flush (the first
 * change after a quiet second goes out on the next turn of the event loop), then every open socket
 * gets one frame `presence {changes: [{userId, online}, …]}` with the changes its viewer may see.
 * So 1,000 sockets opening at once cost about one frame per socket per second, not one per
 * socket per opening (O(N²)); a mass disconnect settles first (OFFLINE_BURST), and a flush goes
 * out in slices (FLUSH_SLICE) so closing sockets are skipped. Viewers who may see every change
 * share one serialized frame. A user's own presence is never sent to their own sockets. The
 * latest state of a user wins within a flush; a user who went offline keeps their rule until the
 * flush that tells the viewers who could see them. One flush at a time, so frames stay in order.
 */
export class PresenceFeed {
  private readonly pending = new Map<string, PendingChange>();
  private lastFlushAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing = false;
  private offlinePending = 0;
  private lastOfflineAt = 0;
  private pendingSince = 0;

  constructor(
    private readonly sockets: RoomSockets,
    private readonly rules: PresenceRules,
  ) {}

  /** `userId` came online or went offline here. */
  changed(userId: string, online: boolean): void {
    this.queue(userId, { online, rulesChanged: this.pending.get(userId)?.rulesChanged ?? false });
  }

  /** Who may see `userId` online changed (their rule was reloaded). */
  rulesChanged(userId: string): void {
    this.queue(userId, { online: this.sockets.isOnline(userId), rulesChanged: true });
  }

  private queue(userId: string, change: PendingChange): void {
    const at = Date.now();
    if (this.pending.size === 0) this.pendingSince = at;
    if (this.pending.get(userId)?.online === false) this.offlinePending -= 1;
    if (!change.online) {
      this.offlinePending += 1;
      this.lastOfflineAt = at;
    }
    this.pending.set(userId, change);
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.flushing || this.pending.size === 0) return;
    const wait = Math.max(0, this.lastFlushAt + PRESENCE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => void this.flush(), wait);
  }

  /** Send what is pending, one frame per open socket at most, in slices. */
  async flush(): Promise<void> {
    this.timer = null;
    const at = Date.now();
    const settling = this.offlinePending >= OFFLINE_BURST && at - this.pendingSince < OFFLINE_MAX_WAIT_MS;
    if (settling && at - this.lastOfflineAt < PRESENCE_INTERVAL_MS) {
      this.timer = setTimeout(() => void this.flush(), Math.min(PRESENCE_INTERVAL_MS, this.pendingSince + OFFLINE_MAX_WAIT_MS - at));
      return;
    }
    this.lastFlushAt = at;
    if (this.pending.size === 0) return;
    const changes = [...this.pending];
    this.pending.clear();
    this.offlinePending = 0;
    this.flushing = true;
    try {
      let everything: string | null = null;
      const targets = this.sockets.openSockets();
      for (let i = 0; i < targets.length; i += FLUSH_SLICE) {
        if (i > 0) await yieldTurn();
        for (const ws of targets.slice(i, i + FLUSH_SLICE)) {
          if (!this.sockets.isOpen(ws)) continue; // closed while earlier slices went out
          const viewer = this.sockets.info(ws)?.userId;
          if (!viewer) continue;
          const shown = this.visibleTo(viewer, changes);
          if (shown.length === 0) continue;
          if (shown.length === changes.length) {
            everything ??= JSON.stringify({ type: "presence", changes: shown });
            this.sockets.sendText(ws, everything);
          } else this.sockets.send(ws, { type: "presence", changes: shown });
        }
      }
      for (const [userId, change] of changes) {
        if (!change.online && !this.sockets.isOnline(userId)) this.rules.delete(userId);
      }
    } finally {
      this.flushing = false;
      this.arm();
    }
  }

  /** The changes `viewer` may see (never their own); a hidden user whose rule changed shows as offline. */
  private visibleTo(viewer: string, changes: [string, PendingChange][]): { userId: string; online: boolean }[] {
    const shown: { userId: string; online: boolean }[] = [];
    for (const [userId, change] of changes) {
      if (userId === viewer) continue;
      if (this.rules.visible(userId, viewer)) shown.push({ userId, online: change.online });
      else if (change.rulesChanged) shown.push({ userId, online: false });
    }
    return shown;
  }
}
