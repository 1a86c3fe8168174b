import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { roomFor, unwrap } from "../src/rooms/client";
import { C, cid, createChannel, createGroup, openChatSocket } from "./chat-helpers";
import { api, expectError, signUp } from "./helpers";
import { close, events, options, poll, retract, view, vote, voted } from "./poll-helpers";
import { member, seedChat, seedUsers } from "./room-helpers";

/** Polls: closing (by hand and by the alarm), where polls live, events, exact counts under concurrency. */

describe("closing", () => {
  it("the creator or an admin closes; others get 403; closing again changes nothing; votes then get 409", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const byB = await poll(b, chat.id);
    await voted(c, chat.id, byB.id, ["1"]);
    expectError(await close(c, chat.id, byB.id), 403, "permission_denied");
    const closed = await close(b, chat.id, byB.id);
    expect(closed.status, closed.text).toBe(200);
    expect(closed.body.message.poll).toMatchObject({ closed: true, closedAt: expect.any(String), resultsVisible: true });
    expect((await close(b, chat.id, byB.id)).status).toBe(200);
    expectError(await vote(a, chat.id, byB.id, ["0"]), 409, "poll_closed");
    expectError(await retract(c, chat.id, byB.id), 409, "poll_closed");
    // Once closed everyone sees the results.
    expect((await view(a, chat.id, byB.id)).options[1].votes).toBe(1);

    const byC = await poll(c, chat.id);
    expect((await close(a, chat.id, byC.id)).body.message.poll.closed).toBe(true); // the owner
    const promoted = await api("PATCH", `${C}/${chat.id}/members/${b.id}`, { token: a.accessToken, body: { role: "admin" } });
    expect(promoted.status, promoted.text).toBe(200);
    const another = await poll(c, chat.id);
    expect((await close(b, chat.id, another.id)).body.message.poll.closed).toBe(true); // an admin
    expect((await events(a, chat.id)).filter((e) => e.type === "poll.closed").map((e) => e.messageId)).toEqual([
      byB.id,
      byC.id,
      another.id,
    ]);
  });

  it("closesAt closes the poll by the room's alarm, with a poll.closed event", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const closesAt = new Date(Date.now() + 3600_000).toISOString();
    const m = await poll(a, chat.id, { closesAt });
    expect(m.poll).toMatchObject({ closesAt, closed: false });
    await voted(b, chat.id, m.id, ["2"]);
    const room = roomFor(env, chat.id);
    // The first alarm flushes the summary; the room then sleeps until the poll's close time.
    expect(await runDurableObjectAlarm(room)).toBe(true);
    const past = Date.now() - 1000;
    const alarm = await runInDurableObject(room, async (_r: ChatRoom, state) => {
      state.storage.sql.exec("UPDATE polls SET closes_at = ?", past);
      return state.storage.getAlarm();
    });
    expect(alarm).toBe(Date.parse(closesAt));
    // Past its close time it is closed for votes at once, before the alarm ran.
    expectError(await vote(a, chat.id, m.id, ["0"]), 409, "poll_closed");
    expect(await runDurableObjectAlarm(room)).toBe(true);
    const after = await view(a, chat.id, m.id);
    // It closed at its close time, however late the alarm ran.
    expect(after).toMatchObject({
      closed: true,
      closesAt: new Date(past).toISOString(),
      closedAt: new Date(past).toISOString(),
      totalVoters: 1,
    });
    const closedEvents = (await events(b, chat.id)).filter((e) => e.type === "poll.closed");
    expect(closedEvents).toEqual([
      expect.objectContaining({
        messageId: m.id,
        seq: m.seq,
        totalVoters: 1,
        options: [
          { id: "0", votes: 0 },
          { id: "1", votes: 0 },
          { id: "2", votes: 1 },
        ],
      }),
    ]);
  });
});

describe("where polls live", () => {
  it("channel subscribers vote though they cannot post", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const channel = await createChannel(a, [b]);
    const m = await poll(a, channel.id, { hideResultsUntilVoted: false });
    expect((await voted(b, channel.id, m.id, ["0"])).options[0].votes).toBe(1);
  });

  it("clearing the history erases polls and votes", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await poll(a, chat.id);
    await voted(b, chat.id, m.id, ["0"]);
    expect((await api("POST", `${C}/${chat.id}/truncate`, { token: a.accessToken })).status).toBe(200);
    expectError(await vote(a, chat.id, m.id, ["0"]), 404, "not_found");
    const left = await runInDurableObject(
      roomFor(env, chat.id),
      async (_r: ChatRoom, state) =>
        state.storage.sql.exec("SELECT (SELECT count(*) FROM polls) + (SELECT count(*) FROM poll_votes) AS n").one().n,
    );
    expect(left).toBe(0);
  });
});

describe("events", () => {
  it("poll.updated goes out live and is replayed; counts only when results are visible to everyone", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const hidden = await poll(a, chat.id);
    const open = await poll(a, chat.id, { hideResultsUntilVoted: false });
    const sc = await openChatSocket(c, chat.id);
    await voted(b, chat.id, hidden.id, ["0"]);
    const live = await sc.next("poll.updated", (f) => f.messageId === hidden.id);
    expect(live).toMatchObject({ seq: hidden.seq, totalVoters: 1, closed: false, options: null, eventSeq: expect.any(Number) });
    expect(JSON.stringify(live)).not.toContain(b.id);
    await voted(b, chat.id, open.id, ["1"]);
    const counted = await sc.next("poll.updated", (f) => f.messageId === open.id);
    expect(counted.options).toEqual([
      { id: "0", votes: 0 },
      { id: "1", votes: 1 },
      { id: "2", votes: 0 },
    ]);
    await retract(b, chat.id, open.id);
    const replayed = (await events(c, chat.id)).filter((e) => e.type === "poll.updated");
    expect(replayed.map((e) => [e.messageId, e.totalVoters])).toEqual([
      [hidden.id, 1],
      [open.id, 1],
      [open.id, 0],
    ]);
    const sync = await sc.request({ type: "sync", afterEventSeq: live.eventSeq - 1 });
    expect(sync.type).toBe("ack");
    expect(sc.frames.filter((f) => f.type === "poll.updated" && f.eventSeq === live.eventSeq)).toHaveLength(2);
    sc.close();
  });
});

describe("concurrency", () => {
  it("30 voters at once are 30 votes; one voter voting 5 times at once votes once", async () => {
    const users = await seedUsers(31);
    const { chatId, room } = await seedChat(
      "group",
      users.map((id, i) => [id, i === 0 ? "owner" : "member"]),
    );
    unwrap(await room.membersChanged({ added: users.map((id, i) => member(id, i === 0 ? "owner" : "member")) }));
    const { message } = unwrap(
      await room.send({
        userId: users[0]!,
        clientMessageId: cid(),
        type: "poll",
        poll: { question: "?", options: options("a", "b"), multipleChoice: true },
      }),
    );
    const results = await Promise.all(users.slice(1).map((id, i) => room.vote(id, message.id, [String(i % 2)])));
    expect(results.filter((r) => r.ok)).toHaveLength(30);
    const seen = unwrap(await room.getMessage(users[0]!, message.id)).poll!;
    expect(seen.totalVoters).toBe(30);
    expect(seen.options.map((o) => o.votes)).toEqual([15, 15]);

    const again = await Promise.all(Array.from({ length: 5 }, () => room.vote(users[1]!, message.id, ["0", "1"])));
    expect(again.filter((r) => !r.ok).map((r) => (r as any).error.code)).toEqual(Array(5).fill("already_voted"));
    const retried = await Promise.all(Array.from({ length: 5 }, () => room.retractVote(users[1]!, message.id)));
    expect(retried.every((r) => r.ok)).toBe(true);
    const twice = await Promise.all(Array.from({ length: 5 }, () => room.vote(users[1]!, message.id, ["0", "1"])));
    expect(twice.filter((r) => r.ok)).toHaveLength(1);
    expect(unwrap(await room.getMessage(users[0]!, message.id)).poll!.totalVoters).toBe(30);
    void chatId;
  });
});
