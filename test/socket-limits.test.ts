import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { unwrap } from "../src/rooms/client";
import { FLOOD_MAX_DROPPED, FRAME_BURST, FRAME_REFILL_PER_SECOND } from "../src/rooms/frame-budget";
import { CLOSE, MAX_SOCKETS_PER_USER } from "../src/rooms/protocol";
import { SEND_BURST } from "../src/rooms/send-limiter";
import { connectRoom, seedChat, seedUsers, TestSocket } from "./room-helpers";

describe("room sockets: limits", () => {
  it(`keeps at most ${MAX_SOCKETS_PER_USER} sockets per user per chat: the oldest closes with 4008`, async () => {
    const [a, b, c] = await seedUsers(3);
    const { chatId } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
      [c!, "member"],
    ]);
    const other = await connectRoom(chatId, b!);
    const sockets = [];
    for (let i = 0; i < MAX_SOCKETS_PER_USER; i++) sockets.push(await connectRoom(chatId, a!));
    expect(sockets.every((s) => s.closed === null)).toBe(true);
    const newest = await connectRoom(chatId, a!);
    expect(await sockets[0]!.closedWith()).toMatchObject({ code: CLOSE.tooManySockets });
    for (const s of [...sockets.slice(1), newest]) expect(await s.request({ type: "ping" })).toMatchObject({ type: "ack" });
    // Another user's socket is not affected, and the user did not go offline for them.
    expect(other.closed).toBeNull();
    await connectRoom(chatId, c!);
    expect(await other.nextPresence(c!, true)).toBeTruthy();
    expect(other.presenceOf(a!)).toEqual([{ userId: a, online: true }]);
  });

  it("drops a flood past the frame budget with one error, then closes the socket with 1008", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const flooder = await connectRoom(chatId, a!);
    const bystander = await connectRoom(chatId, b!);
    const total = FRAME_BURST + FLOOD_MAX_DROPPED + 50;
    const started = Date.now();
    for (let i = 0; i < total; i++) flooder.send({ type: "ping", id: `f${i}` });
    expect((await flooder.closedWith()).code).toBe(CLOSE.policyViolation);
    const elapsedSeconds = (Date.now() - started) / 1000;
    const acks = flooder.frames.filter((f) => f.type === "ack");
    const errors = flooder.frames.filter((f) => f.type === "error");
    // The burst was served, plus what the budget refilled while the flood was read (a loaded
    // machine reads slower); past it, one coalesced warning, not one error per frame.
    expect(acks.length).toBeGreaterThanOrEqual(FRAME_BURST);
    expect(acks.length).toBeLessThanOrEqual(FRAME_BURST + Math.ceil(elapsedSeconds * FRAME_REFILL_PER_SECOND) + 1);
    expect(acks.length).toBeLessThan(total - FLOOD_MAX_DROPPED);
    expect(errors).toEqual([expect.objectContaining({ code: "rate_limited", details: { retryAfter: expect.any(Number) } })]);
    expect(errors[0].id).toBeUndefined();
    // The other member is unaffected; the flooder's user went offline for them.
    expect(await bystander.request({ type: "message.send", clientMessageId: "after-flood", text: "fine" })).toMatchObject({ type: "ack" });
    expect(await bystander.nextPresence(a!, false)).toBeTruthy();
    expect(unwrap(await room.history(b!, { limit: 10 })).items.map((m) => m.text)).toEqual(["fine"]);
    // Reconnecting to flood again is refused for a while; other members connect as usual.
    const again = await room.fetch("http://room/ws", {
      headers: { Upgrade: "websocket", "x-user-id": a!, "x-session-id": crypto.randomUUID() },
    });
    expect(again.status).toBe(429);
    expect(((await again.json()) as any).error).toMatchObject({ code: "rate_limited", details: { retryAfter: expect.any(Number) } });
    expect((await connectRoom(chatId, b!)).closed).toBeNull();
  });

  it("answers an unexpected failure with an `internal` error frame, logs it with the request id, keeps the socket", async () => {
    const [a] = await seedUsers(1);
    const { room } = await seedChat("group", [[a!, "owner"]]);
    const res = await room.fetch("http://room/ws", {
      headers: { Upgrade: "websocket", "x-user-id": a!, "x-session-id": crypto.randomUUID(), "x-request-id": "req-sock-1" },
    });
    const s = new TestSocket(res.webSocket!);
    res.webSocket!.accept();
    await s.next("hello");
    // Break the room's event log so the next send fails half-way.
    await runInDurableObject(room, (_instance, state) => state.storage.sql.exec("DROP TABLE events"));
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const answer = await s.request({ type: "message.send", clientMessageId: "boom", text: "never stored" });
      expect(answer).toMatchObject({ type: "error", code: "internal" });
      expect(answer.message).not.toContain("events");
      const line = logged.mock.calls.map((c) => String(c[0])).find((l) => l.includes("socket frame failed"));
      expect(JSON.parse(line!)).toMatchObject({ level: "error", requestId: "req-sock-1", userId: a, frame: "message.send" });
    } finally {
      logged.mockRestore();
    }
    expect(await s.request({ type: "ping" })).toMatchObject({ type: "ack", pong: true });
    expect(s.closed).toBeNull();
    // The failed send left nothing behind: the message insert was rolled back with the event.
    const count = await runInDurableObject(
      room,
      (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages").one().n,
    );
    expect(count).toBe(0);
    s.close();
  });
});

describe("room limits survive eviction", () => {
  it("slow mode", async () => {
    const [a, b] = await seedUsers(2);
    const { room } = await seedChat(
      "group",
      [
        [a!, "owner"],
        [b!, "member"],
      ],
      { slowModeSeconds: 60 },
    );
    unwrap(await room.send({ userId: b!, clientMessageId: "s1", type: "text", text: "first" }));
    await evictDurableObject(room);
    const second = await room.send({ userId: b!, clientMessageId: "s2", type: "text", text: "second" });
    expect(second).toMatchObject({ ok: false, error: { status: 429, code: "slow_mode" } });
  });

  it("the per-member send budget", async () => {
    const [a] = await seedUsers(1);
    const { room } = await seedChat("group", [[a!, "owner"]]);
    for (let i = 0; i < SEND_BURST; i++) unwrap(await room.send({ userId: a!, clientMessageId: `b${i}`, type: "text", text: `m${i}` }));
    await evictDurableObject(room);
    const over = await room.send({ userId: a!, clientMessageId: "over", type: "text", text: "one too many" });
    expect(over).toMatchObject({ ok: false, error: { status: 429, code: "rate_limited" } });
  });
});
