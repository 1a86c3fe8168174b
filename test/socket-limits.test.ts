import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { hubFor } from "../src/hubs/client";
import { HUB_SOCKET_OPENS, MAX_HUB_SOCKETS_PER_SESSION } from "../src/hubs/protocol";
import { TokenBuckets } from "../src/lib/token-buckets";
import { roomFor, unwrap } from "../src/rooms/client";
import { FLOOD_MAX_DROPPED, FRAME_BURST, FRAME_REFILL_PER_SECOND } from "../src/rooms/frame-budget";
import { CLOSE, MAX_SOCKETS_PER_USER, SOCKET_OPENS } from "../src/rooms/protocol";
import { SEND_BURST } from "../src/rooms/send-limiter";
import { createGroup, upgradeChat } from "./chat-helpers";
import { signUp } from "./helpers";
import { openRealtime, secondDevice, upgradeRealtime } from "./hub-helpers";
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

  it("limits how often a user opens sockets to a chat: the burst, then 429 with Retry-After until the budget refills", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const open = () =>
      room.fetch("http://room/ws", { headers: { Upgrade: "websocket", "x-user-id": a!, "x-session-id": crypto.randomUUID() } });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const at = Date.now();
      vi.setSystemTime(at);
      const sockets = [];
      for (let i = 0; i < SOCKET_OPENS.burst; i++) {
        const res = await open();
        expect(res.status).toBe(101);
        res.webSocket!.accept();
        sockets.push(new TestSocket(res.webSocket!));
      }
      // Past the cap the oldest closed with 4008; past the burst the upgrade is refused before the room asks anything.
      expect(await sockets[0]!.closedWith()).toMatchObject({ code: CLOSE.tooManySockets });
      const refused = await open();
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as any).error).toMatchObject({ code: "rate_limited", details: { retryAfter: 5 } });
      // Another member's budget is their own.
      expect((await connectRoom(chatId, b!)).closed).toBeNull();
      // One open comes back every 5 s.
      vi.setSystemTime(at + 1_000 / SOCKET_OPENS.refillPerSecond);
      const again = await open();
      expect(again.status).toBe(101);
      again.webSocket!.accept();
      expect((await open()).status).toBe(429);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("socket upgrades the Worker refuses itself", () => {
  it("remembers a room's 429 until its Retry-After: the next upgrade is refused without reaching the room", async () => {
    const [owner, member, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(owner, [member]);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const at = Date.now();
      vi.setSystemTime(at);
      const opened = [];
      for (let i = 0; i < SOCKET_OPENS.burst; i++) {
        const res = await upgradeChat(chat.id, member.accessToken);
        expect(res.status).toBe(101);
        res.webSocket!.accept();
        opened.push(res.webSocket!);
      }
      const byRoom = await upgradeChat(chat.id, member.accessToken);
      expect(byRoom.status).toBe(429);
      expect(byRoom.headers.get("retry-after")).toBe("5");
      // Setup: the same token in the header, which the room refuses too, is remembered apart from the query's.
      expect((await upgradeChat(chat.id, "", { Authorization: `Bearer ${member.accessToken}` })).status).toBe(429);
      // The room forgets its budgets when evicted, so only the Worker's memory can refuse this one.
      await evictDurableObject(roomFor(env, chat.id));
      const byWorker = await upgradeChat(chat.id, member.accessToken);
      expect(byWorker.status).toBe(429);
      expect(byWorker.headers.get("retry-after")).toBe("5");
      expect(((await byWorker.json()) as any).error).toMatchObject({ code: "rate_limited", details: { retryAfter: 5 } });
      // One key per credential however the header spells it: padding or the scheme's case make no new one.
      const respelled = await upgradeChat(chat.id, "", { Authorization: `  BEARER   ${member.accessToken} ` });
      expect(respelled.status).toBe(429);
      // A plain request is still told to upgrade first, a stranger's before membership is read.
      expect((await upgradeChat(chat.id, member.accessToken, { Upgrade: "" })).status).toBe(426);
      expect((await upgradeChat(chat.id, stranger.accessToken, { Upgrade: "" })).status).toBe(426);
      expect((await upgradeChat(chat.id, stranger.accessToken)).status).toBe(404);
      // The memory is read before the token is verified, keyed by the credential itself: an altered
      // token matches nothing and is refused as what it is.
      const altered = `${member.accessToken.slice(0, -2)}${member.accessToken.endsWith("AA") ? "BB" : "AA"}`;
      expect((await upgradeChat(chat.id, altered)).status).toBe(401);
      // Another member is not affected.
      expect((await upgradeChat(chat.id, owner.accessToken)).status).toBe(101);
      // Once the Retry-After passed, the upgrade reaches the room again.
      vi.setSystemTime(at + 5_000);
      expect((await upgradeChat(chat.id, member.accessToken)).status).toBe(101);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("realtime sockets: limits", () => {
  it(`keeps at most ${MAX_HUB_SOCKETS_PER_SESSION} sockets per session (4008), and limits how often they open (429)`, async () => {
    const user = await signUp();
    // A frozen clock: on a slow machine a token could refill while the burst is opened.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now());
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const sockets = [];
    for (let i = 0; i < HUB_SOCKET_OPENS.burst; i++) sockets.push((await openRealtime(user.accessToken)).socket);
    for (const s of sockets.slice(0, HUB_SOCKET_OPENS.burst - MAX_HUB_SOCKETS_PER_SESSION)) {
      expect(await s.closedWith()).toMatchObject({ code: CLOSE.tooManySockets });
    }
    const newest = sockets.at(-1)!;
    expect(await newest.request({ type: "ping" })).toMatchObject({ type: "ack", pong: true });
    const refused = await upgradeRealtime(user.accessToken);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as any).error).toMatchObject({ code: "rate_limited", details: { retryAfter: expect.any(Number) } });
    // The hub forgets its budgets when evicted: only the Worker's memory refuses the next one.
    await evictDurableObject(hubFor(env, user.id));
    const byWorker = await upgradeRealtime(user.accessToken);
    expect(byWorker.status).toBe(429);
    expect(byWorker.headers.get("retry-after")).toBe(refused.headers.get("retry-after"));
    expect(((await byWorker.json()) as any).error.message).toMatch(/^Refused a moment ago/);
    // Another device of the same account has its own budget.
    const other = await secondDevice(user);
    expect((await openRealtime(other.tokens.accessToken)).socket.closed).toBeNull();
  });
});

describe("token buckets", () => {
  it("refill at their rate, answer the wait in whole seconds, and forget keys that filled up again", () => {
    const buckets = new TokenBuckets({ burst: 2, refillPerSecond: 0.25 });
    expect([buckets.take("a", 0), buckets.take("a", 0), buckets.take("a", 0)]).toEqual([
      { ok: true },
      { ok: true },
      { ok: false, retryAfter: 4 },
    ]);
    expect(buckets.take("a", 3_000)).toEqual({ ok: false, retryAfter: 1 });
    expect(buckets.take("a", 4_000)).toEqual({ ok: true });
    for (let i = 0; i < 1_000; i++) buckets.take(`k${i}`, 10_000);
    expect(buckets.size).toBe(1_001); // none had refilled, so none was forgotten
    // Once a thousand keys are held, the next take forgets every bucket that refilled (here all of them).
    expect(buckets.take("late", 20_000)).toEqual({ ok: true });
    expect(buckets.size).toBe(1);
  });
});
