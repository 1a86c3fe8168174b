import type { PresenceRules } from "./presence";
import type { RoomSockets } from "./sockets";

/** Each socket gets at most one presence frame per this interval. */
export const PRESENCE_INTERVAL_MS = 1_000;

interface PendingChange {
  online: boolean;
  /** Who may see the user changed: viewers who may not are told `online: false`. */
  rulesChanged: boolean;
}

/**
 * Presence, coalesced: changes wait until a second has passed since the last flush (the first
 * change after a quiet second goes out on the next turn of the event loop), then every socket gets
 * one frame `presence {changes: [{userId, online}, …]}` with the changes its viewer may see. So
 * 1,000 sockets opening at once cost about one frame per socket per second, not one per socket per
 * opening (O(N²)). A user's own presence is never sent to their own sockets. The latest state
 * of a user wins within a flush; a user who went offline keeps their rule until the flush that
 * tells the viewers who could see them.
 */
export class PresenceFeed {
  private readonly pending = new Map<string, PendingChange>();
  private lastFlushAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

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
    this.pending.set(userId, change);
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlushAt + PRESENCE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Send what is pending, one frame per socket at most. */
  flush(): void {
    this.timer = null;
    this.lastFlushAt = Date.now();
    if (this.pending.size === 0) return;
    const changes = [...this.pending];
    this.pending.clear();
    for (const ws of this.sockets.openSockets()) {
      const viewer = this.sockets.info(ws)?.userId;
      if (!viewer) continue;
      const shown: { userId: string; online: boolean }[] = [];
      for (const [userId, change] of changes) {
        if (userId === viewer) continue;
        if (this.rules.visible(userId, viewer)) shown.push({ userId, online: change.online });
        else if (change.rulesChanged) shown.push({ userId, online: false });
      }
      if (shown.length > 0) this.sockets.send(ws, { type: "presence", changes: shown });
    }
    for (const [userId, change] of changes) {
      if (!change.online && !this.sockets.isOnline(userId)) this.rules.delete(userId);
    }
  }
}
