import { describe, expect, it } from "vitest";
import { C, openChatSocket, send, shadowBannedGroup } from "./chat-helpers";
import { api, type TestUser } from "./helpers";
import { at, close, poll, retract, view, voted } from "./poll-helpers";

/**
 * What a shadow-banned member does to others' messages (reactions, poll votes, pins) counts for
 * them alone: others' counts, lists, frames and replay never show it, while the member's own
 * view (REST, live frames, replay) always does.
 */

const events = async (u: TestUser, chatId: string) =>
  (await api("GET", `${C}/${chatId}/events?after=0&limit=1000`, { token: u.accessToken })).body.events as any[];

describe("shadow bans and reactions", () => {
  it("a shadow-banned member's reactions count for them alone: not in others' counts, lists, frames or replay", async () => {
    const { owner, b, c, chat } = await shadowBannedGroup();
    const m = await send(owner, chat.id, "react here");
    const [bSocket, cSocket] = await Promise.all([openChatSocket(b, chat.id), openChatSocket(c, chat.id)]);
    const react = (u: TestUser, emoji: string, method = "PUT") =>
      api(method, `${C}/${chat.id}/messages/${m.id}/reactions/${encodeURIComponent(emoji)}`, { token: u.accessToken });

    const mine = await react(b, "👍");
    expect(mine.status, mine.text).toBe(200);
    expect(mine.body.reactions).toEqual([{ emoji: "👍", count: 1, me: true }]);
    const theirs = await react(c, "🎉");
    expect(theirs.body.reactions).toEqual([{ emoji: "🎉", count: 1, me: true }]);

    const seenBy = async (u: TestUser) =>
      (await api("GET", `${C}/${chat.id}/messages/${m.id}`, { token: u.accessToken })).body.message.reactions;
    expect(await seenBy(owner)).toEqual([{ emoji: "🎉", count: 1, me: false }]);
    expect(await seenBy(b)).toEqual(
      expect.arrayContaining([
        { emoji: "👍", count: 1, me: true },
        { emoji: "🎉", count: 1, me: false },
      ]),
    );
    const listed = async (u: TestUser) =>
      (await api("GET", `${C}/${chat.id}/messages/${m.id}/reactions`, { token: u.accessToken })).body.items.map((r: any) => r.userId);
    expect(await listed(owner)).toEqual([c.id]);
    expect((await listed(b)).sort()).toEqual([b.id, c.id].sort());

    // Live: c's socket only ever hears of c's own reaction.
    const frame = await cSocket.next("reactions", (f) => f.messageId === m.id);
    expect(frame.reactions).toEqual([{ emoji: "🎉", count: 1 }]);
    expect(cSocket.frames.filter((f) => f.type === "reactions").flatMap((f) => f.reactions.map((r: any) => r.emoji))).not.toContain("👍");
    // b gets the public frame, then one with the counts as b sees them: b's 👍 never vanishes.
    await bSocket.next("reactions", (f) => f.reactions.length === 2);
    const bFrames = bSocket.frames.filter((f) => f.type === "reactions");
    expect(bFrames.at(-1)!.reactions).toEqual(
      expect.arrayContaining([
        { emoji: "👍", count: 1 },
        { emoji: "🎉", count: 1 },
      ]),
    );
    // Replay: the shadow reaction's event is the banned member's alone.
    const kinds = (u: TestUser) => events(u, chat.id).then((es) => es.filter((e) => e.type === "reaction.added").map((e) => e.userId));
    expect(await kinds(owner)).toEqual([c.id]);
    expect(await kinds(b)).toEqual([b.id, c.id]);
    expect((await react(b, "👍", "DELETE")).status).toBe(204);
    bSocket.close();
    cSocket.close();
  });
});

describe("shadow bans and polls", () => {
  it("a shadow-banned member's vote counts for them alone, in views, frames, replay and the final result", async () => {
    const { owner, b, c, chat } = await shadowBannedGroup();
    const p = await poll(owner, chat.id, { anonymous: false, hideResultsUntilVoted: false });
    const [bSocket, cSocket] = await Promise.all([openChatSocket(b, chat.id), openChatSocket(c, chat.id)]);

    const bView = await voted(b, chat.id, p.id, ["0"]);
    expect(bView).toMatchObject({ totalVoters: 1, myVotes: ["0"] });
    expect(bView.options[0]).toMatchObject({ votes: 1, voters: [b.id] });
    const bLive = await bSocket.next("poll.updated", (f) => f.messageId === p.id);
    expect(bLive).toMatchObject({
      totalVoters: 1,
      options: [
        { id: "0", votes: 1 },
        { id: "1", votes: 0 },
        { id: "2", votes: 0 },
      ],
    });

    await voted(c, chat.id, p.id, ["1"]);
    const cLive = await cSocket.next("poll.updated", (f) => f.messageId === p.id);
    expect(cLive).toMatchObject({
      totalVoters: 1,
      options: [
        { id: "0", votes: 0 },
        { id: "1", votes: 1 },
        { id: "2", votes: 0 },
      ],
    });
    // c's socket never heard of b's vote.
    expect(cSocket.frames.filter((f) => f.type === "poll.updated")).toHaveLength(1);
    // b hears c's vote, then the same counts with b's own vote in them.
    const bAfter = await bSocket.next("poll.updated", (f) => f.totalVoters === 2);
    expect(bAfter.options).toEqual([
      { id: "0", votes: 1 },
      { id: "1", votes: 1 },
      { id: "2", votes: 0 },
    ]);

    const ownerView = await view(owner, chat.id, p.id);
    expect(ownerView).toMatchObject({ totalVoters: 1 });
    expect(ownerView.options.map((o: any) => [o.votes, o.voters])).toEqual([
      [0, []],
      [1, [c.id]],
      [0, []],
    ]);
    const bSees = await view(b, chat.id, p.id);
    expect(bSees).toMatchObject({ totalVoters: 2, myVotes: ["0"] });
    expect(bSees.options.map((o: any) => o.votes)).toEqual([1, 1, 0]);

    // The final result: everyone's without b; b's last word includes b.
    const closed = await close(owner, chat.id, p.id);
    expect(closed.status, closed.text).toBe(200);
    expect(closed.body.message.poll.totalVoters).toBe(1);
    const replay = async (u: TestUser) => (await events(u, chat.id)).filter((e) => e.type.startsWith("poll."));
    const ownerReplay = await replay(owner);
    expect(ownerReplay.map((e) => [e.type, e.totalVoters])).toEqual([
      ["poll.updated", 1],
      ["poll.closed", 1],
    ]);
    const bReplay = await replay(b);
    expect(bReplay.map((e) => [e.type, e.totalVoters])).toEqual([
      ["poll.updated", 1],
      ["poll.updated", 1],
      ["poll.updated", 2],
      ["poll.closed", 1],
      ["poll.closed", 2],
    ]);
    expect(bReplay.at(-1).options.map((o: any) => o.votes)).toEqual([1, 1, 0]);
    bSocket.close();
    cSocket.close();
  });

  it("a shadow-banned member's retraction is told to them alone", async () => {
    const { owner, b, c, chat } = await shadowBannedGroup();
    const p = await poll(owner, chat.id, { hideResultsUntilVoted: false });
    await voted(b, chat.id, p.id, ["2"]);
    const cSocket = await openChatSocket(c, chat.id);
    const res = await retract(b, chat.id, p.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.message.poll).toMatchObject({ totalVoters: 0, myVotes: [] });
    const last = await send(owner, chat.id, "after");
    await cSocket.next("message.new", (f) => f.message.id === last.id);
    expect(cSocket.frames.some((f) => f.type === "poll.updated")).toBe(false);
    expect((await events(c, chat.id)).some((e) => e.type === "poll.updated")).toBe(false);
    expect((await events(b, chat.id)).filter((e) => e.type === "poll.updated").map((e) => e.totalVoters)).toEqual([1, 0]);
    cSocket.close();
  });
});

describe("shadow bans and pins", () => {
  it("a shadow-banned member's pins are theirs alone; their unpin of others' pins changes nothing", async () => {
    const { owner, b, c, chat } = await shadowBannedGroup();
    await api("PATCH", `${C}/${chat.id}`, { token: owner.accessToken, body: { permissions: { pinMessages: true } } });
    const [m1, m2] = [await send(owner, chat.id, "one"), await send(owner, chat.id, "two")];
    const cSocket = await openChatSocket(c, chat.id);
    const pin = (u: TestUser, id: string, method = "POST") => api(method, at(chat.id, id, "/pin"), { token: u.accessToken });
    const pins = async (u: TestUser) =>
      (await api("GET", `${C}/${chat.id}/pins`, { token: u.accessToken })).body.items.map((p: any) => [p.message.text, p.pinnedBy]);

    const shadowPin = await pin(b, m1.id);
    expect(shadowPin.status, shadowPin.text).toBe(200);
    expect(shadowPin.body).toMatchObject({ pinnedBy: b.id });
    expect(await pins(b)).toEqual([["one", b.id]]);
    expect(await pins(c)).toEqual([]);
    expect(await pins(owner)).toEqual([]);

    // The owner pins m2; b cannot unpin it for everyone.
    expect((await pin(owner, m2.id)).status).toBe(200);
    expect((await pin(b, m2.id, "DELETE")).status).toBe(204);
    expect(await pins(owner)).toEqual([["two", owner.id]]);
    // A real pin replaces b's shadow pin of m1.
    expect((await pin(c, m1.id)).status).toBe(200);
    expect(await pins(owner)).toEqual([
      ["one", c.id],
      ["two", owner.id],
    ]);
    expect(await pins(b)).toEqual([
      ["one", c.id],
      ["two", owner.id],
    ]);

    const pinnedBy = (es: any[]) => es.filter((e) => e.type === "message.pinned").map((e) => e.pinnedBy);
    expect(pinnedBy(cSocket.frames)).toEqual([owner.id, c.id]);
    expect(pinnedBy(await events(owner, chat.id))).toEqual([owner.id, c.id]);
    expect(pinnedBy(await events(b, chat.id))).toEqual([b.id, owner.id, c.id]);
    expect((await events(c, chat.id)).some((e) => e.type === "message.unpinned")).toBe(false);
    cSocket.close();
  });
});
