import { afterEach, describe, expect, it, vi } from "vitest";
import { C, createChannel, createDirect, createGroup, send } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";

/** Search everywhere: chats by name and description, my messages across my chats, people, all at once. */

const S = "/api/v1/search";
const get = (u: TestUser, path: string, query: Record<string, string | number>) =>
  api("GET", `${S}${path}?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`, { token: u.accessToken });

afterEach(() => vi.useRealTimers());

describe("GET /search/chats", () => {
  it("finds my chats first, then public ones, never private chats I am not in; renames re-index", async () => {
    const [me, other] = await Promise.all([signUp(), signUp()]);
    const mine = await createGroup(me, [], { name: "Hiking club" });
    const publicOne = await createChannel(other);
    await api("PATCH", `${C}/${publicOne.id}`, {
      token: other.accessToken,
      body: { name: "Trail news", description: "Weekly hiking routes", isPublic: true },
    });
    await createGroup(other, [], { name: "Hiking secrets" });
    await createDirect(me, other);

    const res = await get(me, "/chats", { q: "hik" });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((c: any) => [c.id, c.member])).toEqual([
      [mine.id, true],
      [publicOne.id, false],
    ]);
    expect(res.body.items[1]).toMatchObject({ type: "channel", name: "Trail news", isPublic: true, description: "Weekly hiking routes" });

    await api("PATCH", `${C}/${mine.id}`, { token: me.accessToken, body: { name: "Climbing club" } });
    expect((await get(me, "/chats", { q: "climb" })).body.items.map((c: any) => c.id)).toEqual([mine.id]);
    expect((await get(me, "/chats", { q: "hiking club" })).body.items).toEqual([]);

    const chess = await createGroup(me, [], { name: "Chess club" });
    const first = await get(me, "/chats", { q: "club", limit: 1 });
    const second = await get(me, "/chats", { q: "club", limit: 1, cursor: first.body.nextCursor });
    expect([...first.body.items, ...second.body.items].map((c: any) => c.id).sort()).toEqual([mine.id, chess.id].sort());
    expect(second.body.nextCursor).toBeNull();
    expectError(await get(me, "/chats", { q: "!!!" }), 400, "validation_failed");
  });
});

describe("GET /search/messages", () => {
  it("merges my matches from all my chats by score, each with its chat; one chat with chatId, paginated", async () => {
    const [me, friend, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const chats = [await createGroup(me, [friend]), await createGroup(friend, [me]), await createDirect(me, friend)];
    for (const [i, chat] of chats.entries()) await send(friend, chat.id, `launch plan ${i}`);
    const elsewhere = await createGroup(stranger);
    await send(stranger, elsewhere.id, "launch plan nobody else sees");

    const res = await get(me, "/messages", { q: "launch" });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ searchedChats: 3, timedOutChats: 0, moreChats: false, nextCursor: null });
    expect(res.body.items.map((h: any) => h.chatId).sort()).toEqual(chats.map((c) => c.id).sort());
    for (const hit of res.body.items) expect(hit.message.chatId).toBe(hit.chatId);
    expect(res.body.items.map((h: any) => h.score)).toEqual([...res.body.items.map((h: any) => h.score)].sort((a, b) => b - a));

    const one = await get(me, "/messages", { q: "launch", chatId: chats[0]!.id, limit: 1 });
    expect(one.body.items.map((h: any) => h.message.text)).toEqual(["launch plan 0"]);
    expect(one.body.nextCursor).toBeNull();
    expectError(await get(me, "/messages", { q: "launch", chatId: elsewhere.id }), 404, "not_found");
    expectError(await get(me, "/messages", { q: '"unclosed' }), 400, "invalid_query");
  });

  it("asks only my 20 most recently active chats and says there were more", async () => {
    const me = await signUp();
    const oldest = await createGroup(me);
    await send(me, oldest.id, "needle in the oldest chat");
    // Every later chat was created (its activity time) after that message: the oldest is left out.
    for (let i = 0; i < 20; i++) await send(me, (await createGroup(me)).id, "hay");
    const res = await get(me, "/messages", { q: "needle OR hay", limit: 50 });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ searchedChats: 20, moreChats: true });
    expect(res.body.items.map((h: any) => h.message.text)).not.toContain("needle in the oldest chat");
    expect(res.body.items).toHaveLength(20);
  });
});

describe("GET /search", () => {
  it("answers people, chats and messages together, or only the types asked", async () => {
    const [me, friend] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(me, [friend], { name: `Orbit ${friend.username}` });
    await send(friend, chat.id, `ping ${friend.username}`);
    const all = await get(me, "", { q: friend.username });
    expect(all.status, all.text).toBe(200);
    expect(all.body.users.map((u: any) => u.id)).toEqual([friend.id]);
    expect(all.body.chats.map((c: any) => c.id)).toEqual([chat.id]);
    expect(all.body.messages.items.map((h: any) => h.message.text)).toEqual([`ping ${friend.username}`]);

    const chatsOnly = await get(me, "", { q: friend.username, types: "chats" });
    expect(Object.keys(chatsOnly.body)).toEqual(["chats"]);
    expectError(await get(me, "", { q: "x", types: "users,planets" }), 400, "validation_failed");
    expect((await get(me, "/users", { q: friend.username })).body.items.map((u: any) => u.id)).toEqual([friend.id]);
  });

  it("limits searches per user: the 31st within a minute is 429", async () => {
    const me = await signUp();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.floor(Date.now() / 60_000) * 60_000 + 1_000);
    for (let i = 0; i < 30; i++) expect((await get(me, "/chats", { q: "anything" })).status).toBe(200);
    const limited = await get(me, "/chats", { q: "anything" });
    expectError(limited, 429, "rate_limited");
  });
});
