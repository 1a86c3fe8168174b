import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { roomFor, unwrap } from "../src/rooms/client";
import { C, cid, createChannel, createGroup, MISSING, openChatSocket, send, sendRaw } from "./chat-helpers";
import { api, expectError, expectInvalid, signUp, type TestUser } from "./helpers";
import { member, seedChat, seedUsers } from "./room-helpers";

/** Polls: sending, voting, retracting, closing (by hand and by the alarm), what each viewer sees, events. */

const options = (...texts: string[]) => texts.map((text) => ({ text }));
const sendPoll = (u: TestUser, chatId: string, poll: Record<string, unknown>) =>
  sendRaw(u, chatId, { clientMessageId: cid(), type: "poll", poll });
async function poll(u: TestUser, chatId: string, extra: Record<string, unknown> = {}) {
  const res = await sendPoll(u, chatId, { question: "Lunch?", options: options("pizza", "sushi", "salad"), ...extra });
  expect(res.status, res.text).toBe(201);
  return res.body.message;
}
const at = (chatId: string, messageId: string, tail = "") => `${C}/${chatId}/messages/${messageId}${tail}`;
const vote = (u: TestUser, chatId: string, messageId: string, optionIds: string[]) =>
  api("POST", at(chatId, messageId, "/votes"), { token: u.accessToken, body: { optionIds } });
const retract = (u: TestUser, chatId: string, messageId: string) =>
  api("DELETE", at(chatId, messageId, "/votes"), { token: u.accessToken });
const close = (u: TestUser, chatId: string, messageId: string) =>
  api("POST", at(chatId, messageId, "/close-poll"), { token: u.accessToken });
const view = async (u: TestUser, chatId: string, messageId: string) => {
  const res = await api("GET", at(chatId, messageId), { token: u.accessToken });
  expect(res.status, res.text).toBe(200);
  return res.body.message.poll;
};
const voted = async (u: TestUser, chatId: string, messageId: string, optionIds: string[]) => {
  const res = await vote(u, chatId, messageId, optionIds);
  expect(res.status, res.text).toBe(200);
  return res.body.message.poll;
};
const events = async (u: TestUser, chatId: string) =>
  (await api("GET", `${C}/${chatId}/events?after=0`, { token: u.accessToken })).body.events as any[];

describe("sending polls", () => {
  it("over REST: server-assigned option ids, defaults anonymous with results hidden until one votes", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await poll(a, chat.id);
    expect(m).toMatchObject({ type: "poll", text: null });
    expect(m.poll).toEqual({
      question: "Lunch?",
      options: [
        { id: "0", text: "pizza", votes: null, voters: null },
        { id: "1", text: "sushi", votes: null, voters: null },
        { id: "2", text: "salad", votes: null, voters: null },
      ],
      multipleChoice: false,
      anonymous: true,
      hideResultsUntilVoted: true,
      resultsVisible: false,
      totalVoters: 0,
      myVotes: [],
      quiz: false,
      correctOptionId: null,
      explanation: null,
      closed: false,
      closesAt: null,
      closedAt: null,
    });
    // Other messages carry no poll.
    expect((await send(a, chat.id)).poll).toBeNull();
    const list = await api("GET", `${C}/${chat.id}/messages`, { token: b.accessToken });
    expect(list.body.items.find((x: any) => x.id === m.id).poll.question).toBe("Lunch?");
  });

  it("over the socket: message.send with messageType poll; others get it in message.new", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const [sa, sb] = [await openChatSocket(a, chat.id), await openChatSocket(b, chat.id)];
    const ack = await sa.request({
      type: "message.send",
      clientMessageId: cid(),
      messageType: "poll",
      poll: { question: "Which?", options: options("x", "y"), multipleChoice: true },
    });
    expect(ack).toMatchObject({ type: "ack", message: { type: "poll", poll: { question: "Which?", multipleChoice: true } } });
    const seen = await sb.next("message.new", (f) => f.message.id === ack.message.id);
    expect(seen.message.poll.options.map((o: any) => o.id)).toEqual(["0", "1"]);
    const bad = await sa.request({
      type: "message.send",
      clientMessageId: cid(),
      messageType: "poll",
      poll: { question: "?", options: options("x") },
    });
    expect(bad).toMatchObject({ type: "error", code: "validation_failed", details: [{ path: "poll.options" }] });
    sa.close();
    sb.close();
  });

  it("refuses bad polls with the field at fault", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const q = { question: "Q?" };
    const eleven = options(...Array.from({ length: 11 }, (_, i) => `o${i}`));
    expectInvalid(await sendPoll(a, chat.id, { ...q, options: options("only") }), "body.poll.options");
    expectInvalid(await sendPoll(a, chat.id, { ...q, options: eleven }), "body.poll.options");
    expectInvalid(await sendPoll(a, chat.id, { ...q, options: options("same", "Same") }), "body.poll.options.1.text");
    expectInvalid(
      await sendPoll(a, chat.id, { ...q, options: options("a", "b"), quiz: { correctOption: 0 }, multipleChoice: true }),
      "body.poll.multipleChoice",
    );
    expectInvalid(
      await sendPoll(a, chat.id, { ...q, options: options("a", "b"), quiz: { correctOption: 2 } }),
      "body.poll.quiz.correctOption",
    );
    expectInvalid(
      await sendPoll(a, chat.id, { ...q, options: options("a", "b"), closesAt: new Date(Date.now() - 1000).toISOString() }),
      "body.poll.closesAt",
    );
    expectInvalid(
      await sendPoll(a, chat.id, { ...q, options: options("a", "b"), closesAt: new Date(Date.now() + 400 * 86400_000).toISOString() }),
      "body.poll.closesAt",
    );
    expectInvalid(await sendPoll(a, chat.id, { question: "", options: options("a", "b") }), "body.poll.question");
    expectInvalid(await sendRaw(a, chat.id, { clientMessageId: cid(), type: "poll" }), "body.poll");
    expectInvalid(
      await sendRaw(a, chat.id, { clientMessageId: cid(), type: "poll", text: "hi", poll: { ...q, options: options("a", "b") } }),
      "body.text",
    );
    expectInvalid(
      await sendRaw(a, chat.id, { clientMessageId: cid(), type: "text", text: "hi", poll: { ...q, options: options("a", "b") } }),
      "body.poll",
    );
    // A poll has no text to edit.
    const m = await poll(a, chat.id);
    expectInvalid(await api("PATCH", at(chat.id, m.id), { token: a.accessToken, body: { text: "x" } }), "text");
  });
});

describe("voting", () => {
  it("single choice: one option, no second vote until retracted; results hidden until I vote", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const m = await poll(a, chat.id);
    expectInvalid(await vote(b, chat.id, m.id, ["0", "1"]), "body.optionIds");
    expectInvalid(await vote(b, chat.id, m.id, ["7"]), "body.optionIds");
    expectInvalid(await vote(b, chat.id, m.id, []), "body.optionIds");
    const mine = await voted(b, chat.id, m.id, ["1"]);
    expect(mine).toMatchObject({ resultsVisible: true, totalVoters: 1, myVotes: ["1"] });
    expect(mine.options.map((o: any) => o.votes)).toEqual([0, 1, 0]);
    expectError(await vote(b, chat.id, m.id, ["0"]), 409, "already_voted");
    // c has not voted: sees the total, not the counts; the creator sees the results.
    expect(await view(c, chat.id, m.id)).toMatchObject({
      resultsVisible: false,
      totalVoters: 1,
      myVotes: [],
      options: [{ votes: null }, { votes: null }, { votes: null }],
    });
    expect((await view(a, chat.id, m.id)).options[1].votes).toBe(1);

    const back = await retract(b, chat.id, m.id);
    expect(back.status, back.text).toBe(200);
    expect(back.body.message.poll).toMatchObject({ totalVoters: 0, myVotes: [], resultsVisible: false });
    expect((await retract(b, chat.id, m.id)).status).toBe(200); // nothing to take back
    expect((await voted(b, chat.id, m.id, ["0"])).myVotes).toEqual(["0"]);
  });

  it("multiple choice counts each voter once in totalVoters", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const m = await poll(a, chat.id, { multipleChoice: true, hideResultsUntilVoted: false });
    expect(m.poll.options.map((o: any) => o.votes)).toEqual([0, 0, 0]);
    await voted(b, chat.id, m.id, ["0", "2", "2"]);
    const seen = await voted(c, chat.id, m.id, ["2"]);
    expect(seen).toMatchObject({ totalVoters: 2, myVotes: ["2"] });
    expect(seen.options.map((o: any) => o.votes)).toEqual([1, 0, 2]);
    expect((await view(b, chat.id, m.id)).myVotes).toEqual(["0", "2"]);
  });

  it("public polls show voters once results are visible; anonymous ones never", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const pub = await poll(a, chat.id, { anonymous: false });
    await voted(b, chat.id, pub.id, ["0"]);
    expect((await view(c, chat.id, pub.id)).options[0].voters).toBeNull();
    const both = await voted(c, chat.id, pub.id, ["0"]);
    expect(both.options[0].voters.sort()).toEqual([b.id, c.id].sort());
    expect(both.options[1].voters).toEqual([]);
    const anon = await poll(a, chat.id);
    const seen = await voted(b, chat.id, anon.id, ["0"]);
    expect(seen.options[0]).toMatchObject({ votes: 1, voters: null });
  });

  it("quiz: the answer shows once I answered (and to its creator); answers are final", async () => {
    const [a, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b, c]);
    const m = await poll(a, chat.id, { quiz: { correctOption: 2, explanation: "greens" } });
    expect(m.poll).toMatchObject({ quiz: true, correctOptionId: null, explanation: null, multipleChoice: false });
    expect(await view(a, chat.id, m.id)).toMatchObject({ correctOptionId: "2", explanation: "greens" });
    expect(await view(b, chat.id, m.id)).toMatchObject({ correctOptionId: null, explanation: null });
    expect(await voted(b, chat.id, m.id, ["1"])).toMatchObject({ correctOptionId: "2", explanation: "greens", myVotes: ["1"] });
    expectError(await retract(b, chat.id, m.id), 403, "quiz_vote_final");
    expect((await view(c, chat.id, m.id)).correctOptionId).toBeNull();
    await close(a, chat.id, m.id);
    expect((await view(c, chat.id, m.id)).correctOptionId).toBe("2");
  });

  it("refuses strangers (404), other messages (400), deleted polls (404) and frozen chats (403)", async () => {
    const [a, b, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const m = await poll(a, chat.id);
    expectError(await vote(stranger, chat.id, m.id, ["0"]), 404, "not_found");
    expectError(await close(stranger, chat.id, m.id), 404, "not_found");
    expectError(await vote(b, chat.id, MISSING, ["0"]), 404, "not_found");
    const text = await send(a, chat.id);
    expectError(await vote(b, chat.id, text.id, ["0"]), 400, "not_a_poll");
    expect((await api("POST", `${C}/${chat.id}/freeze`, { token: a.accessToken })).status).toBe(200);
    expectError(await vote(b, chat.id, m.id, ["0"]), 403, "chat_frozen");
    expect((await api("POST", `${C}/${chat.id}/unfreeze`, { token: a.accessToken })).status).toBe(200);
    await voted(b, chat.id, m.id, ["0"]);
    expect((await api("DELETE", at(chat.id, m.id), { token: a.accessToken })).status).toBe(204);
    expectError(await vote(b, chat.id, m.id, ["1"]), 404, "not_found");
    expect((await api("GET", at(chat.id, m.id), { token: b.accessToken })).body.message).toMatchObject({ deleted: true, poll: null });
    // The votes went with it.
    const left = await runInDurableObject(
      roomFor(env, chat.id),
      async (_r: ChatRoom, state) => state.storage.sql.exec("SELECT count(*) AS n FROM poll_votes").one().n,
    );
    expect(left).toBe(0);
  });
});

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
    const alarm = await runInDurableObject(room, async (_r: ChatRoom, state) => {
      state.storage.sql.exec("UPDATE polls SET closes_at = ?", Date.now() - 1000);
      return state.storage.getAlarm();
    });
    expect(alarm).toBe(Date.parse(closesAt));
    // Past its close time it is closed for votes at once, before the alarm ran.
    expectError(await vote(a, chat.id, m.id, ["0"]), 409, "poll_closed");
    expect(await runDurableObjectAlarm(room)).toBe(true);
    const after = await view(a, chat.id, m.id);
    expect(after).toMatchObject({ closed: true, closedAt: expect.any(String), totalVoters: 1 });
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
