import { describe, expect, it } from "vitest";
import { LARGE_ROOM_SOCKETS, REACTIONS_INTERVAL_MS, ReactionFeed, SMALL_ROOM_INTERVAL_MS } from "../src/rooms/reaction-feed";
import type { RoomStore } from "../src/rooms/store";

/** The coalescing rule of reaction frames, on a fake clock, store and sockets. */
function feedWith(sockets: number) {
  let now = 1_000_000;
  let eventSeq = 42;
  const sent: any[] = [];
  const scheduled: number[] = [];
  const counts = new Map<number, number>();
  const deleted = new Set<number>();
  const store = {
    reactions: {
      summaries: (seqs: number[]) => new Map(seqs.map((s) => [s, [{ emoji: "👍", count: counts.get(s) ?? 0, me: false }]])),
      shadowReactors: () => new Map(),
    },
    lastEventSeq: () => eventSeq,
    findBySeq: (seq: number) => ({ seq, id: `m${seq}`, deleted_at: deleted.has(seq) ? 1 : null }),
  } as unknown as RoomStore;
  const feed = new ReactionFeed({
    store,
    sockets: {
      openSockets: () => Array.from({ length: sockets }) as WebSocket[],
      broadcastText: (text) => sent.push(JSON.parse(text)),
      sendToUser: (userId, frame) => sent.push({ to: userId, ...frame }),
    },
    schedule: (at) => scheduled.push(at),
    now: () => now,
  });
  // A reaction change is logged (one event), then the feed hears of it.
  const react = (seq: number) => {
    counts.set(seq, (counts.get(seq) ?? 0) + 1);
    eventSeq++;
    feed.changed(seq);
  };
  /** Another event is logged; it goes out live after the feed flushed what was pending. */
  const logOther = () => {
    eventSeq++;
    feed.beforeEvent();
    return eventSeq;
  };
  return { feed, sent, scheduled, react, logOther, deleted, advance: (ms: number) => (now += ms), at: () => now };
}

describe("ReactionFeed", () => {
  it("sends the first change at once, then at most one frame per message per interval with the latest counts", () => {
    const t = feedWith(LARGE_ROOM_SOCKETS + 1);
    t.react(1);
    expect(t.sent).toEqual([{ type: "reactions", messageId: "m1", seq: 1, reactions: [{ emoji: "👍", count: 1 }], lastEventSeq: 43 }]);
    for (let i = 0; i < 49; i++) t.react(1);
    t.react(2);
    expect(t.sent).toHaveLength(1);
    expect(t.scheduled.at(-1)).toBe(t.at() + REACTIONS_INTERVAL_MS);
    t.feed.flushDue(); // the alarm, early: not yet
    expect(t.sent).toHaveLength(1);
    t.advance(REACTIONS_INTERVAL_MS);
    t.feed.flushDue();
    expect(t.sent.slice(1).map((f) => [f.seq, f.reactions[0].count])).toEqual([
      [1, 50],
      [2, 1],
    ]);
    // Quiet for an interval: the next change goes out at once again.
    t.advance(REACTIONS_INTERVAL_MS);
    t.react(1);
    expect(t.sent).toHaveLength(4);
  });

  it("uses the short interval in small rooms, flushes ahead of other events, and skips deleted messages", () => {
    const t = feedWith(LARGE_ROOM_SOCKETS);
    t.react(1);
    t.react(1);
    expect(t.scheduled.at(-1)).toBe(t.at() + SMALL_ROOM_INTERVAL_MS);
    t.feed.beforeEvent();
    expect(t.sent.map((f) => f.reactions[0].count)).toEqual([1, 2]);
    t.feed.beforeEvent(); // nothing pending: nothing sent
    expect(t.sent).toHaveLength(2);
    t.advance(SMALL_ROOM_INTERVAL_MS);
    t.deleted.add(3);
    t.react(3);
    expect(t.sent).toHaveLength(2);
    expect(t.feed.hasPending).toBe(false);
  });

  it("says the log's end as of the changes it carries, never an event sent after it", () => {
    const t = feedWith(2);
    t.react(1); // sent at once
    t.react(1); // waits for the interval
    const next = t.logOther(); // flushed first, then this event goes out
    const flushed = t.sent.at(-1);
    expect(flushed).toMatchObject({ seq: 1, reactions: [{ count: 2 }] });
    expect(flushed.lastEventSeq).toBe(next - 1);
  });
});
