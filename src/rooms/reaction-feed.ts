import type { RoomSockets } from "./sockets";
import type { RoomStore } from "./store";
import type { MessageReaction } from "./types";

/** Rooms with more open sockets than this are large: their reaction frames go out at most once per REACTIONS_INTERVAL_MS. */
export const LARGE_ROOM_SOCKETS = 100;
/** In a large room, sockets get at most one flush of reaction frames per this interval. */
export const REACTIONS_INTERVAL_MS = 1_000;
/** In a small room (≤ LARGE_ROOM_SOCKETS sockets), at most one flush per this interval. */
export const SMALL_ROOM_INTERVAL_MS = 250;

/** What the feed needs from the room: storage, the sockets, and a timer. */
export interface ReactionFeedDeps {
  store: RoomStore;
  sockets: Pick<RoomSockets, "openSockets" | "broadcastText" | "sendToUser">;
  /** Call `flush()` at `at` (once, however many changes ask: the room's timers). */
  schedule(at: number): void;
  /** The clock (Date.now unless a test brings its own). */
  now?: () => number;
}

/**
 * Reactions reach sockets coalesced. Each change is logged as an event (replayed exactly) but not
 * sent on its own; instead a flush sends every socket one frame per message whose reactions
 * changed since the last flush, with the current counts:
 * `{type: "reactions", messageId, seq, reactions: [{emoji, count}], lastEventSeq}`. The first
 * change after a quiet interval is flushed at once (it leaves with the write's turn); later ones
 * wait until the interval since the last flush has passed (REACTIONS_INTERVAL_MS in a large
 * room, SMALL_ROOM_INTERVAL_MS in a small one), so 50 members reacting to one message at once
 * cost each socket about one frame per interval, not 50. Counts carry no `me` (one frame text is
 * shared by every socket). Before any other logged event goes out live, what is pending is
 * flushed first, in the same turn (so it rides in the same socket batch): a socket that has
 * received eventSeq (or `lastEventSeq`) N has every reaction change up to N, and a client may
 * `sync` from there without missing one. A shadow-banned member whose reactions are on a message
 * gets a second frame for it right after, with the counts as they see them (their own included).
 */
export class ReactionFeed {
  /** Seqs whose reactions changed since the last flush. */
  private readonly pending = new Set<number>();
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  /**
   * The event log's end when the latest pending change was committed: what a flushed frame says as
   * `lastEventSeq`. Not the log's end at flush time: a flush ahead of another event runs once that
   * event is logged, and a client resuming from its seq would skip it.
   */
  private horizon = 0;

  constructor(private readonly deps: ReactionFeedDeps) {}

  /** The reactions of the message at `seq` changed (committed). */
  changed(seq: number): void {
    this.pending.add(seq);
    this.horizon = this.deps.store.lastEventSeq();
    const due = this.lastFlushAt + this.interval();
    if (this.now() >= due) this.flush();
    else this.deps.schedule(due);
  }

  /** A logged event is about to go out live: pending reaction frames go first. */
  beforeEvent(): void {
    if (this.pending.size > 0) this.flush();
  }

  /** Whether reaction frames are waiting for their interval. */
  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** Send what is pending if its interval has passed (the alarm: it may fire early, for typing or the summary). */
  flushDue(): void {
    if (this.now() >= this.lastFlushAt + this.interval()) this.flush();
  }

  /** Send what is pending now: one frame per changed message (deleted or cleared ones are skipped). */
  flush(): void {
    if (this.pending.size === 0) return;
    const { store, sockets } = this.deps;
    const seqs = [...this.pending].sort((a, b) => a - b);
    this.pending.clear();
    this.lastFlushAt = this.now();
    const summaries = store.reactions.summaries(seqs, null);
    const shadowReactors = store.reactions.shadowReactors(seqs);
    const lastEventSeq = this.horizon;
    const frame = (seq: number, messageId: string, summary: MessageReaction[]) => ({
      type: "reactions",
      messageId,
      seq,
      reactions: summary.map(({ emoji, count }) => ({ emoji, count })),
      lastEventSeq,
    });
    for (const seq of seqs) {
      const row = store.findBySeq(seq);
      if (!row || row.deleted_at != null) continue;
      sockets.broadcastText(JSON.stringify(frame(seq, row.id, summaries.get(seq) ?? [])));
      for (const userId of shadowReactors.get(seq) ?? []) {
        if (sockets.openSockets(userId).length > 0) sockets.sendToUser(userId, frame(seq, row.id, store.reactions.summary(seq, userId)));
      }
    }
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  private interval(): number {
    return this.deps.sockets.openSockets().length > LARGE_ROOM_SOCKETS ? REACTIONS_INTERVAL_MS : SMALL_ROOM_INTERVAL_MS;
  }
}
