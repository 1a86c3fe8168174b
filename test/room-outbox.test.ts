import { describe, expect, it } from "vitest";
import { Outbox } from "../src/rooms/outbox";

/** A stand-in socket that records what the outbox sends it. */
function fakeSocket(): { ws: WebSocket; sent: unknown[] } {
  const sent: unknown[] = [];
  const ws = { send: (text: string) => sent.push(JSON.parse(text)) } as unknown as WebSocket;
  return { ws, sent };
}

/** Let queued microtasks run (the outbox flushes a quiet turn's frames in one). */
const endOfTurn = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe("Outbox: events coalesce, answers do not wait", () => {
  it("sends a quiet turn's frames at its end, one batch per socket, in order", async () => {
    const a = fakeSocket();
    const b = fakeSocket();
    const outbox = new Outbox();
    outbox.push(a.ws, JSON.stringify({ type: "message.new", seq: 1 }));
    outbox.push(b.ws, JSON.stringify({ type: "message.new", seq: 1 }));
    outbox.push(a.ws, JSON.stringify({ type: "message.replies", seq: 1 }));
    expect(a.sent).toEqual([]);
    await endOfTurn();
    expect(a.sent).toEqual([
      {
        type: "batch",
        frames: [
          { type: "message.new", seq: 1 },
          { type: "message.replies", seq: 1 },
        ],
      },
    ]);
    expect(b.sent).toEqual([{ type: "message.new", seq: 1 }]);
  });

  it("sends an answer at once after its message's broadcast, instead of waiting out the burst window", async () => {
    const sender = fakeSocket();
    const other = fakeSocket();
    const outbox = new Outbox();
    outbox.push(sender.ws, JSON.stringify({ type: "message.new", seq: 1 }));
    outbox.push(other.ws, JSON.stringify({ type: "message.new", seq: 1 }));
    await endOfTurn();
    // The broadcast just left: an event now would wait for the window; the ack is no event.
    outbox.reply(sender.ws, JSON.stringify({ type: "ack", id: "f1" }));
    expect(sender.sent).toEqual([
      { type: "message.new", seq: 1 },
      { type: "ack", id: "f1" },
    ]);
    outbox.push(other.ws, JSON.stringify({ type: "typing", userId: "u" }));
    await endOfTurn();
    expect(other.sent).toEqual([{ type: "message.new", seq: 1 }]);
    outbox.flush(); // the window closes
    expect(other.sent).toEqual([
      { type: "message.new", seq: 1 },
      { type: "typing", userId: "u" },
    ]);
  });

  it("queues an answer behind the frames still waiting for its socket, so it never overtakes an event", async () => {
    const sender = fakeSocket();
    const outbox = new Outbox();
    outbox.push(sender.ws, JSON.stringify({ type: "message.new", seq: 1 }));
    outbox.reply(sender.ws, JSON.stringify({ type: "ack", id: "f1" }));
    expect(sender.sent).toEqual([]);
    await endOfTurn();
    expect(sender.sent).toEqual([
      {
        type: "batch",
        frames: [
          { type: "message.new", seq: 1 },
          { type: "ack", id: "f1" },
        ],
      },
    ]);
  });

  it("gives each socket its own frames when a burst's batches share some: the same frames, the same batch; others, their own", async () => {
    const [a, b, c, d] = [fakeSocket(), fakeSocket(), fakeSocket(), fakeSocket()];
    const outbox = new Outbox();
    const m1 = JSON.stringify({ type: "message.new", seq: 1 });
    const m2 = JSON.stringify({ type: "message.new", seq: 2 });
    for (const s of [a, b, c, d]) outbox.push(s.ws, m1);
    for (const s of [a, b, d]) outbox.push(s.ws, m2);
    outbox.push(c.ws, JSON.stringify({ type: "typing", userId: "u" })); // c waits for other frames
    outbox.push(d.ws, JSON.stringify({ type: "message.new", seq: 2 })); // the same text built again: the same frame
    await endOfTurn();
    const batch = (...frames: unknown[]) => [{ type: "batch", frames }];
    expect(a.sent).toEqual(batch({ type: "message.new", seq: 1 }, { type: "message.new", seq: 2 }));
    expect(b.sent).toEqual(a.sent);
    expect(c.sent).toEqual(batch({ type: "message.new", seq: 1 }, { type: "typing", userId: "u" }));
    expect(d.sent).toEqual(batch({ type: "message.new", seq: 1 }, { type: "message.new", seq: 2 }, { type: "message.new", seq: 2 }));

    // The next flush builds its batches afresh.
    outbox.push(a.ws, m1);
    outbox.push(a.ws, JSON.stringify({ type: "typing", userId: "v" }));
    outbox.flush();
    expect(a.sent.at(-1)).toEqual({
      type: "batch",
      frames: [
        { type: "message.new", seq: 1 },
        { type: "typing", userId: "v" },
      ],
    });
  });

  it("queues a broadcast once: every socket that gets only the window's broadcasts is sent the same text", async () => {
    const [a, b, c] = [fakeSocket(), fakeSocket(), fakeSocket()];
    const texts: string[] = [];
    for (const s of [a, b, c]) (s.ws as unknown as { send: (t: string) => void }).send = (t) => texts.push(t);
    const outbox = new Outbox();
    const all = [a.ws, b.ws, c.ws];
    outbox.broadcast(all, JSON.stringify({ type: "message.new", seq: 1 }));
    outbox.broadcast(all, JSON.stringify({ type: "message.new", seq: 2 }));
    await endOfTurn();
    expect(texts).toHaveLength(3);
    expect(new Set(texts).size).toBe(1);
    expect(JSON.parse(texts[0]!)).toEqual({
      type: "batch",
      frames: [
        { type: "message.new", seq: 1 },
        { type: "message.new", seq: 2 },
      ],
    });
  });

  it("keeps each socket's order when broadcasts, a left-out socket and frames of its own mix in one window", async () => {
    const [a, b, c] = [fakeSocket(), fakeSocket(), fakeSocket()];
    const outbox = new Outbox();
    const all = [a.ws, b.ws, c.ws];
    outbox.broadcast(all, JSON.stringify({ type: "message.new", seq: 1 }));
    outbox.reply(a.ws, JSON.stringify({ type: "ack", id: "f1" })); // behind the broadcast a waits for
    outbox.broadcast(all, JSON.stringify({ type: "typing", userId: "b" }), b.ws); // not to b
    outbox.push(c.ws, JSON.stringify({ type: "reactions", seq: 1 }));
    await endOfTurn();
    expect(a.sent).toEqual([
      {
        type: "batch",
        frames: [
          { type: "message.new", seq: 1 },
          { type: "ack", id: "f1" },
          { type: "typing", userId: "b" },
        ],
      },
    ]);
    expect(b.sent).toEqual([{ type: "message.new", seq: 1 }]);
    expect(c.sent).toEqual([
      {
        type: "batch",
        frames: [
          { type: "message.new", seq: 1 },
          { type: "typing", userId: "b" },
          { type: "reactions", seq: 1 },
        ],
      },
    ]);
  });

  it("sends a socket that opened within the window only what was broadcast after it opened, its hello first", async () => {
    const [a, late] = [fakeSocket(), fakeSocket()];
    const outbox = new Outbox();
    outbox.broadcast([a.ws], JSON.stringify({ type: "message.new", seq: 1 }));
    outbox.reply(late.ws, JSON.stringify({ type: "hello", lastSeq: 1 })); // nothing waits for it: at once
    outbox.broadcast([a.ws, late.ws], JSON.stringify({ type: "message.new", seq: 2 }));
    await endOfTurn();
    expect(late.sent).toEqual([
      { type: "hello", lastSeq: 1 },
      { type: "message.new", seq: 2 },
    ]);
    expect(a.sent).toEqual([
      {
        type: "batch",
        frames: [
          { type: "message.new", seq: 1 },
          { type: "message.new", seq: 2 },
        ],
      },
    ]);
  });

  it("sends a socket about to close what waits for it at once, and nothing of the window twice", async () => {
    const [a, b] = [fakeSocket(), fakeSocket()];
    const outbox = new Outbox();
    const all = [a.ws, b.ws];
    outbox.broadcast(all, JSON.stringify({ type: "message.new", seq: 1 }));
    outbox.push(a.ws, JSON.stringify({ type: "error", code: "member_removed" }));
    outbox.flushSocket(a.ws);
    expect(a.sent).toEqual([
      {
        type: "batch",
        frames: [
          { type: "message.new", seq: 1 },
          { type: "error", code: "member_removed" },
        ],
      },
    ]);
    outbox.flushSocket(b.ws);
    expect(b.sent).toEqual([{ type: "message.new", seq: 1 }]);
    await endOfTurn();
    expect(a.sent).toHaveLength(1);
    expect(b.sent).toHaveLength(1);
  });

  it("gives each of many sockets its own frame in order between broadcasts (a presence frame each, an encrypted message's own envelope)", async () => {
    const sockets = Array.from({ length: 40 }, fakeSocket);
    const all = sockets.map((s) => s.ws);
    const outbox = new Outbox();
    outbox.broadcast(all, JSON.stringify({ type: "message.new", seq: 1 }));
    for (const [i, s] of sockets.entries()) outbox.push(s.ws, JSON.stringify({ type: "presence", n: i }));
    outbox.broadcast(all, JSON.stringify({ type: "message.new", seq: 2 }), sockets[7]!.ws);
    await endOfTurn();
    sockets.forEach((s, i) => {
      const frames = [{ type: "message.new", seq: 1 }, { type: "presence", n: i }, ...(i === 7 ? [] : [{ type: "message.new", seq: 2 }])];
      expect(s.sent).toEqual([{ type: "batch", frames }]);
    });
  });
});
