import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { roomFor, unwrap } from "../src/rooms/client";
import { connectRoom, member, seedChat, seedUsers } from "./room-helpers";

describe("room sockets: frames", () => {
  it("greets with hello, acks sends and fans out message.new to every socket", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const sa = await connectRoom(chatId, a!);
    const sb = await connectRoom(chatId, b!);
    expect(sb.frames[0]).toMatchObject({ type: "hello", chatId, lastSeq: 0, lastEventSeq: 0 });
    expect([...sb.frames[0].online].sort()).toEqual([a, b].sort());
    const ack = await sa.request({ type: "message.send", clientMessageId: "k1", text: "  hi there  " });
    expect(ack).toMatchObject({ type: "ack", duplicate: false, message: { seq: 1, senderId: a, text: "hi there", type: "text" } });
    const got = await sb.next("message.new");
    expect(got).toMatchObject({ type: "message.new", eventSeq: 1, message: { id: ack.message.id, seq: 1 } });
    // The sender's other sockets hear it too; a retry is acknowledged with the same message.
    expect((await sa.next("message.new")).message.id).toBe(ack.message.id);
    const retry = await sa.request({ type: "message.send", clientMessageId: "k1", text: "hi there" });
    expect(retry).toMatchObject({ duplicate: true, message: { id: ack.message.id } });
    sa.close();
    sb.close();
  });

  it("answers invalid frames with an error and keeps the socket open", async () => {
    const [a] = await seedUsers(1);
    const { chatId } = await seedChat("group", [[a!, "owner"]]);
    const s = await connectRoom(chatId, a!);
    s.send("{not json");
    expect(await s.next("error", (f) => f.code === "malformed_json")).toBeTruthy();
    s.send({ type: "no.such.frame", id: "x1" });
    expect(await s.next("error", (f) => f.id === "x1")).toMatchObject({ code: "validation_failed" });
    expect(await s.request({ type: "message.send", clientMessageId: "c", text: "" })).toMatchObject({
      type: "error",
      code: "validation_failed",
    });
    expect(await s.request({ type: "message.send", clientMessageId: "c", text: "x".repeat(4097) })).toMatchObject({
      code: "validation_failed",
    });
    expect(await s.request({ type: "read", seq: -1 })).toMatchObject({ code: "validation_failed" });
    expect(await s.request({ type: "message.send", clientMessageId: "c", text: "ok", extra: true })).toMatchObject({
      code: "validation_failed",
    });
    // Still open and working.
    expect(await s.request({ type: "ping" })).toMatchObject({ type: "ack", pong: true });
    expect(s.closed).toBeNull();
    s.close();
  });

  it("closes with 1009 after a frame over 64 KiB", async () => {
    const [a] = await seedUsers(1);
    const { chatId } = await seedChat("group", [[a!, "owner"]]);
    const s = await connectRoom(chatId, a!);
    s.send({ type: "message.send", clientMessageId: "big", text: "x".repeat(70 * 1024) });
    const error = await s.next("error", (f) => f.code === "frame_too_large");
    expect(error.message).toContain("65536");
    expect((await s.closedWith()).code).toBe(1009);
  });

  it("completes the closing handshake when a client closes", async () => {
    const [a] = await seedUsers(1);
    const { chatId } = await seedChat("group", [[a!, "owner"]]);
    const s = await connectRoom(chatId, a!);
    s.ws.close(1000, "done");
    expect((await s.closedWith()).code).toBe(1000);
  });

  it("answers a bare ping with pong without the room", async () => {
    const [a] = await seedUsers(1);
    const { chatId } = await seedChat("group", [[a!, "owner"]]);
    const s = await connectRoom(chatId, a!);
    s.send('{"type":"ping"}');
    expect(await s.next("pong")).toEqual({ type: "pong" });
    s.close();
  });
});

describe("room sockets: typing, receipts, presence", () => {
  it("broadcasts typing to others and expires it after 6 s through the alarm", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const sa = await connectRoom(chatId, a!);
    const sb = await connectRoom(chatId, b!);
    await sa.request({ type: "typing.start" });
    const typing = await sb.next("typing", (f) => f.typing === true);
    expect(typing.userId).toBe(a);
    expect(Date.parse(typing.expiresAt) - Date.now()).toBeGreaterThan(4000);
    expect(sa.frames.some((f) => f.type === "typing")).toBe(false);
    // Let the 6 s pass without waiting: move the expiry into the past, then run the alarm.
    await runInDurableObject(room, (_i, state) => state.storage.sql.exec("UPDATE typing SET expires_at = 0"));
    await runDurableObjectAlarm(room);
    expect(await sb.next("typing", (f) => f.typing === false)).toMatchObject({ userId: a });
    // typing.stop and sending both end typing at once.
    await sa.request({ type: "typing.start" });
    const mark = sb.frames.length;
    await sa.request({ type: "typing.stop" });
    expect(await sb.next("typing", (f) => f.typing === false, mark)).toMatchObject({ userId: a });
    sa.close();
    sb.close();
  });

  it("broadcasts read and delivered receipts, monotonic, and hides reads of members who turned receipts off", async () => {
    const [a, b, c] = await seedUsers(3);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
      [c!, "member"],
    ]);
    unwrap(await room.membersChanged({ updated: [member(c!, "member", false)] }));
    const sa = await connectRoom(chatId, a!);
    const sb = await connectRoom(chatId, b!);
    const sc = await connectRoom(chatId, c!);
    for (let i = 0; i < 3; i++) await sa.request({ type: "message.send", clientMessageId: `r${i}`, text: `m${i}` });
    expect(await sb.request({ type: "delivered", seq: 3 })).toMatchObject({ type: "ack", seq: 3, unread: 3 });
    expect(await sa.next("receipt", (f) => f.kind === "delivered")).toMatchObject({ userId: b, seq: 3 });
    expect(await sb.request({ type: "read", seq: 2 })).toMatchObject({ seq: 2, unread: 1 });
    expect(await sa.next("receipt", (f) => f.kind === "read" && f.userId === b)).toMatchObject({ seq: 2, eventSeq: expect.any(Number) });
    expect(await sb.request({ type: "read", seq: 1 })).toMatchObject({ seq: 2 });
    // c reads with receipts off: c's own sockets learn it, nobody else does.
    expect(await sc.request({ type: "read", seq: 3 })).toMatchObject({ seq: 3, unread: 0 });
    expect(await sc.next("receipt", (f) => f.userId === c)).toMatchObject({ kind: "read", seq: 3 });
    await sa.request({ type: "ping" });
    expect(sa.frames.some((f) => f.type === "receipt" && f.userId === c && f.kind === "read")).toBe(false);
    const first = unwrap(await room.history(a!, { limit: 1, after: 0 })).items[0]!;
    expect(unwrap(await room.receipts(a!, first.id))).toEqual({ read: [b], delivered: expect.arrayContaining([b, c]) });
    sa.close();
    sb.close();
    sc.close();
  });

  it("announces presence on a member's first socket and after their last one closes", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const sa = await connectRoom(chatId, a!);
    const b1 = await connectRoom(chatId, b!);
    expect(await sa.nextPresence(b!)).toEqual({ userId: b, online: true });
    const b2 = await connectRoom(chatId, b!);
    b1.close();
    await b2.request({ type: "ping" });
    b2.close();
    expect(await sa.nextPresence(b!, false)).toBeTruthy();
    // Closing one of two sockets changed nothing others could see.
    expect(sa.presenceOf(b!)).toEqual([
      { userId: b, online: true },
      { userId: b, online: false },
    ]);
    sa.close();
  });
});

describe("room sockets: presence under a mass disconnect", () => {
  it("lets the burst settle: the one who stays learns every departure in at most two frames", async () => {
    const users = await seedUsers(13);
    const [stayer, ...leavers] = users as string[];
    const { chatId } = await seedChat("group", [[stayer!, "owner"], ...leavers.map((u) => [u, "member"] as [string, "member"])]);
    const stay = await connectRoom(chatId, stayer!);
    const sockets = [];
    for (const u of leavers) sockets.push(await connectRoom(chatId, u));
    for (const u of leavers) await stay.nextPresence(u, true);
    const since = stay.frames.length;
    for (const ws of sockets) ws.close();
    for (const u of leavers) expect(await stay.nextPresence(u, false, since)).toEqual({ userId: u, online: false });
    const frames = stay.frames.slice(since).filter((f: any) => f.type === "presence");
    // The first departure may go out at once (after a quiet second); the rest wait for the burst to end.
    expect(frames.length).toBeLessThanOrEqual(2);
    stay.close();
  });
});

describe("room sockets: membership and recovery", () => {
  it("closes a removed member's sockets at once and refuses their frames", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId, room } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const sa = await connectRoom(chatId, a!);
    const sb = await connectRoom(chatId, b!);
    // D1 first, as the chats service does, then the room.
    await env.DB.prepare("DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?").bind(chatId, b!).run();
    unwrap(
      await room.membersChanged({ removed: [{ userId: b!, reason: "removed" }], notice: { event: "removed", actorId: a!, userIds: [b!] } }),
    );
    expect(await sb.closedWith()).toEqual({ code: 4001, reason: "removed from the chat" });
    expect(await sa.next("member.removed")).toMatchObject({ userId: b, reason: "removed" });
    expect((await sa.next("message.new", (f) => f.message.type === "system")).message.system).toMatchObject({
      event: "removed",
      userIds: [b],
    });
    const res = await roomFor(env, chatId).fetch("http://room/ws", {
      headers: { Upgrade: "websocket", "x-user-id": b!, "x-session-id": "s" },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: "member_removed" } });
    sa.close();
  });

  it("replays exactly the missed events to a client that reconnects with sync", async () => {
    const [a, b] = await seedUsers(2);
    const { chatId } = await seedChat("group", [
      [a!, "owner"],
      [b!, "member"],
    ]);
    const sa = await connectRoom(chatId, a!);
    let sb = await connectRoom(chatId, b!);
    await sa.request({ type: "message.send", clientMessageId: "s1", text: "one" });
    const seenUpTo = (await sb.next("message.new")).eventSeq;
    sb.close();
    const missed: number[] = [];
    for (let i = 2; i <= 4; i++)
      missed.push((await sa.request({ type: "message.send", clientMessageId: `s${i}`, text: `n${i}` })).message.seq);
    const edit = await sa.request({ type: "message.send", clientMessageId: "s5", text: "five" });
    sb = await connectRoom(chatId, b!);
    const start = sb.frames.length;
    const ack = await sb.request({ type: "sync", afterEventSeq: seenUpTo });
    const replay = sb.frames.slice(start).filter((f) => f.eventSeq !== undefined && f.type !== "presence");
    expect(replay.map((f) => f.eventSeq)).toEqual(replay.map((_, i) => seenUpTo + 1 + i));
    expect(replay.filter((f) => f.type === "message.new").map((f) => f.message.seq)).toEqual([...missed, edit.message.seq]);
    expect(ack).toMatchObject({ type: "ack", hasMore: false, tooFarBehind: false, lastEventSeq: replay.at(-1).eventSeq });
    // Asking again from the end gives nothing.
    const mark = sb.frames.length;
    await sb.request({ type: "sync", afterEventSeq: ack.lastEventSeq });
    expect(sb.frames.slice(mark).filter((f) => f.eventSeq !== undefined)).toEqual([]);
    sa.close();
    sb.close();
  });

  it("tells a client that is further behind than the kept events to reload", async () => {
    const [a] = await seedUsers(1);
    const { chatId, room } = await seedChat("group", [[a!, "owner"]]);
    const s = await connectRoom(chatId, a!);
    for (let i = 0; i < 3; i++) await s.request({ type: "message.send", clientMessageId: `t${i}`, text: "x" });
    await runInDurableObject(room, (_i, state) => state.storage.sql.exec("DELETE FROM events WHERE event_seq <= 3"));
    expect(await s.request({ type: "sync", afterEventSeq: 1 })).toMatchObject({ tooFarBehind: true });
    expect(unwrap(await room.events(a!, 1, 10))).toMatchObject({ tooFarBehind: true, events: [] });
    s.close();
  });

  it("keeps one order for every receiver when many members send at once", async () => {
    const users = await seedUsers(6);
    const { chatId } = await seedChat(
      "group",
      users.map((u, i) => [u, i === 0 ? "owner" : "member"] as [string, "owner" | "member"]),
    );
    const sockets = await Promise.all(users.map((u) => connectRoom(chatId, u)));
    const perSender = 10;
    await Promise.all(
      sockets.map((s, i) =>
        Promise.all(
          Array.from({ length: perSender }, (_, k) =>
            s.request({ type: "message.send", clientMessageId: `o${i}-${k}`, text: `${i}:${k}` }),
          ),
        ),
      ),
    );
    const total = users.length * perSender;
    for (const s of sockets) {
      await s.next("message.new", (f) => f.message.seq === total);
      const seqs = s.frames.filter((f) => f.type === "message.new").map((f) => f.message.seq);
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
    for (const s of sockets) s.close();
  });
});
