import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { roomFor } from "../src/rooms/client";
import { C, cid, createGroup, MISSING, openChatSocket, send, sendRaw } from "./chat-helpers";
import { api, expectError, expectInvalid, signUp } from "./helpers";
import { at, close, options, poll, retract, sendPoll, view, vote, voted } from "./poll-helpers";

/** Polls: sending (REST and socket), bad input, voting and retracting, what each viewer sees. */

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
