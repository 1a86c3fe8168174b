import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { lineQuery, myCallsPageQuery } from "../src/calls/history";
import { createDb } from "../src/db/client";
import { createBot } from "./bot-helpers";
import { CALLS, callNotices, callRows, startCall, startCallRaw } from "./call-helpers";
import { C, createChannel, createDirect, createGroup, MISSING, ok, queryPlan, send } from "./chat-helpers";
import { api, expectError, expectInvalid, signUp, type TestUser } from "./helpers";

/**
 * The calls REST API: starting a call (inputs, chats it works in, sizes), the record in D1 and the
 * chat's system message, my calls keyset-paginated, one call, answering over REST, fresh ICE
 * servers, and 404 for every call that is not mine.
 */

const callCount = async (chatId: string) =>
  env.DB.prepare("SELECT count(*) AS n FROM calls WHERE chat_id = ?").bind(chatId).first<number>("n");
const hangUp = (u: TestUser, callId: string) => api("POST", `${CALLS}/${callId}/hangup`, { token: u.accessToken });

describe("POST /calls", () => {
  it("starts a call in a direct chat: the record, the view and ICE servers", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    const body = await startCall(alice, chat.id, "video");
    expect(body.call).toEqual({
      id: expect.any(String),
      chatId: chat.id,
      callerId: alice.id,
      kind: "video",
      media: "mesh",
      status: "ringing",
      participants: [
        { userId: alice.id, state: "joined", sessionId: alice.sessionId, joinedAt: body.call.startedAt, leftAt: null },
        { userId: bob.id, state: "ringing", sessionId: null, joinedAt: null, leftAt: null },
      ],
      startedAt: expect.any(String),
      ringUntil: new Date(Date.parse(body.call.startedAt) + 45_000).toISOString(),
      answeredAt: null,
      endedAt: null,
      durationSeconds: 0,
    });
    expect(body.iceServers.length).toBeGreaterThan(0);
    expect(Date.parse(body.turnExpiresAt)).toBeGreaterThan(Date.now());
    const { call, participants } = await callRows(body.call.id);
    expect(call).toMatchObject({ chat_id: chat.id, caller_id: alice.id, kind: "video", media: "mesh", status: "ringing", ended_at: null });
    expect(participants[bob.id]).toMatchObject({ state: "ringing", joined_at: null });
    expect((await ok(await hangUp(alice, body.call.id))).call.status).toBe("missed");
  });

  it("refuses bad input, changing nothing", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    const post = (body: unknown) => api("POST", CALLS, { token: alice.accessToken, body });
    expectInvalid(await post({ chatId: chat.id }), "body.kind");
    expectInvalid(await post({ chatId: chat.id, kind: "screen" }), "body.kind");
    expectInvalid(await post({ chatId: "nope", kind: "audio" }), "body.chatId");
    expectInvalid(await post({ chatId: chat.id, kind: "audio", calleeIds: [bob.id] }), "body");
    expectError(
      await api("POST", CALLS, { token: alice.accessToken, raw: "{", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(await api("POST", CALLS, { body: { chatId: chat.id, kind: "audio" } }), 401, "unauthorized");
    expect(await callCount(chat.id)).toBe(0);
  });

  it("answers 404 for a chat I am not in and for unknown chats; channels and frozen chats have no calls", async () => {
    const [alice, bob, eve] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    expectError(await startCallRaw(eve, chat.id), 404, "not_found");
    expectError(await startCallRaw(alice, MISSING), 404, "not_found");
    const channel = await createChannel(alice, [bob]);
    expectError(await startCallRaw(alice, channel.id), 400, "calls_unsupported");
    const group = await createGroup(alice, [bob]);
    await ok(await api("POST", `${C}/${group.id}/freeze`, { token: alice.accessToken }));
    expectError(await startCallRaw(alice, group.id), 403, "chat_frozen");
    for (const id of [chat.id, channel.id, group.id]) expect(await callCount(id)).toBe(0);
  });

  it("needs the sendMessages permission in a group; bots cannot call", async () => {
    const [owner, muted] = await Promise.all([signUp(), signUp()]);
    const group = await createGroup(owner, [muted]);
    await ok(
      await api("PATCH", `${C}/${group.id}/members/${muted.id}`, {
        token: owner.accessToken,
        body: { permissions: { sendMessages: false } },
      }),
    );
    expectError(await startCallRaw(muted, group.id), 403, "permission_denied");
    const bot = await createBot(owner);
    const asBot = await api("POST", CALLS, { headers: { authorization: `Bot ${bot.token}` }, body: { chatId: group.id, kind: "audio" } });
    expectError(asBot, 403, "bot_not_allowed");
    expect(await callCount(group.id)).toBe(0);
  });

  it("rings a group peer to peer up to 8 people; beyond, without an SFU, 422 sfu_not_configured", async () => {
    const people = await Promise.all(Array.from({ length: 9 }, () => signUp()));
    const [owner, ...others] = people as [TestUser, ...TestUser[]];
    const eight = await createGroup(owner, others.slice(0, 7));
    const { call } = await startCall(owner, eight.id);
    expect(call).toMatchObject({ media: "mesh", status: "ringing" });
    expect(call.participants).toHaveLength(8);
    expect(call.participants.slice(1).every((p: any) => p.state === "ringing")).toBe(true);
    // The record shows them as the call's room does: the caller, then the callees in one order.
    expect((await ok(await api("GET", `${CALLS}/${call.id}`, { token: owner.accessToken }))).call.participants).toEqual(call.participants);
    await ok(await hangUp(owner, call.id));
    const nine = await createGroup(owner, others);
    const refused = expectError(await startCallRaw(owner, nine.id), 422, "sfu_not_configured");
    expect(refused.details).toEqual({ max: 8 });
    expect(await callCount(nine.id)).toBe(0);
  });

  it("limits each user to 10 starts a minute", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    for (let i = 0; i < 10; i++) {
      const { call } = await startCall(alice, chat.id);
      await ok(await hangUp(alice, call.id));
    }
    const limited = expectError(await startCallRaw(alice, chat.id), 429, "rate_limited");
    expect(limited.details.retryAfter).toBeGreaterThan(0);
    expect(await callCount(chat.id)).toBe(10);
    // Bob's budget is his own.
    expect((await startCall(bob, chat.id)).call.status).toBe("ringing");
  });
});

describe("records and system messages", () => {
  it("a finished call is a system message in the chat's history, in order with the messages around it", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    const before = await send(alice, chat.id, "calling you");
    const { call } = await startCall(alice, chat.id);
    await ok(await api("POST", `${CALLS}/${call.id}/accept`, { token: bob.accessToken }));
    await ok(await hangUp(bob, call.id));
    const after = await send(bob, chat.id, "good talk");
    const history = await ok(await api("GET", `${C}/${chat.id}/messages`, { token: bob.accessToken }));
    const items = history.items.filter((m: any) => m.seq >= before.seq);
    expect(items.map((m: any) => m.type)).toEqual(["text", "system", "text"]);
    expect(items[1]).toMatchObject({ senderId: null, text: null, seq: before.seq + 1 });
    expect(items[1].system).toEqual({
      event: "call",
      actorId: alice.id,
      callId: call.id,
      kind: "audio",
      status: "ended",
      durationSeconds: 0,
    });
    expect(items[2].id).toBe(after.id);
    expect(await callNotices(alice, chat.id)).toHaveLength(1);
  });
});

describe("GET /calls and GET /calls/{callId}", () => {
  it("lists my calls newest first, a page at a time, and nobody else's", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(), signUp(), signUp()]);
    const withBob = await createDirect(alice, bob);
    const withCarol = await createDirect(carol, alice);
    const ids: string[] = [];
    for (const [caller, chat] of [
      [alice, withBob],
      [carol, withCarol],
      [bob, withBob],
    ] as const) {
      const { call } = await startCall(caller, chat.id);
      ids.push(call.id);
      await ok(await hangUp(caller, call.id));
    }
    const first = await ok(await api("GET", `${CALLS}?limit=2`, { token: alice.accessToken }));
    expect(first.items.map((c: any) => c.id)).toEqual([ids[2], ids[1]]);
    expect(first.items[0]).toMatchObject({ callerId: bob.id, status: "missed", chatId: withBob.id });
    expect(first.items[0].participants.map((p: any) => [p.userId, p.state])).toEqual([
      [bob.id, "left"],
      [alice.id, "missed"],
    ]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await ok(await api("GET", `${CALLS}?limit=2&cursor=${first.nextCursor}`, { token: alice.accessToken }));
    expect(second.items.map((c: any) => c.id)).toEqual([ids[0]]);
    expect(second.nextCursor).toBeNull();
    const bobs = await ok(await api("GET", CALLS, { token: bob.accessToken }));
    expect(bobs.items.map((c: any) => c.id)).toEqual([ids[2], ids[0]]);
    expectError(await api("GET", `${CALLS}?cursor=not-a-cursor`, { token: alice.accessToken }), 400, "invalid_cursor");
    expectInvalid(await api("GET", `${CALLS}?limit=0`, { token: alice.accessToken }), "query.limit");
    expectError(await api("GET", CALLS), 401, "unauthorized");
  });

  it("reads a page on my (user, call) index and each call by its key, and my line on the line index: never a SCAN", async () => {
    const db = createDb(env.DB);
    const page = (await queryPlan(myCallsPageQuery(db, MISSING, MISSING, 21))).join("\n");
    expect(page).toMatch(/SEARCH call_participants USING (COVERING )?INDEX call_participants_user_idx \(user_id=\? AND call_id<\?\)/);
    expect(page).toMatch(/SEARCH calls USING INDEX sqlite_autoindex_calls_1 \(id=\?\)/);
    expect(page).not.toMatch(/SCAN|TEMP B-TREE/);
    const line = (await queryPlan(lineQuery(db, MISSING))).join("\n");
    expect(line).toMatch(/SEARCH call_participants USING (COVERING )?INDEX call_participants_line_uq \(user_id=\?\)/);
  });

  it("shows one of my calls; anyone else's call, and unknown or malformed ids, answer 404 or 400", async () => {
    const [alice, bob, eve] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    const { call } = await startCall(alice, chat.id, "video");
    for (const u of [alice, bob]) {
      expect((await ok(await api("GET", `${CALLS}/${call.id}`, { token: u.accessToken }))).call).toMatchObject({
        id: call.id,
        status: "ringing",
      });
    }
    expectError(await api("GET", `${CALLS}/${call.id}`, { token: eve.accessToken }), 404, "not_found");
    expectError(await api("GET", `${CALLS}/${MISSING}`, { token: alice.accessToken }), 404, "not_found");
    expectInvalid(await api("GET", `${CALLS}/123`, { token: alice.accessToken }), "params.callId");
    // Nor can anyone else answer, decline, leave it or get its ICE servers; nothing changes.
    for (const path of ["accept", "reject", "hangup"]) {
      expectError(await api("POST", `${CALLS}/${call.id}/${path}`, { token: eve.accessToken }), 404, "not_found");
    }
    expectError(await api("GET", `${CALLS}/${call.id}/ice-servers`, { token: eve.accessToken }), 404, "not_found");
    expect((await callRows(call.id)).call!.status).toBe("ringing");
    await ok(await hangUp(alice, call.id));
  });
});

describe("answering over REST", () => {
  it("accept binds the calling session; reject and hang-up act like the frames; ICE servers while it lasts", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    const first = await startCall(alice, chat.id);
    const accepted = await ok(await api("POST", `${CALLS}/${first.call.id}/accept`, { token: bob.accessToken }));
    expect(accepted.call.status).toBe("active");
    expect(accepted.call.participants[1]).toMatchObject({ userId: bob.id, state: "joined", sessionId: bob.sessionId });
    expect(accepted.iceServers.length).toBeGreaterThan(0);
    const fresh = await ok(await api("GET", `${CALLS}/${first.call.id}/ice-servers`, { token: bob.accessToken }));
    expect(Object.keys(fresh).sort()).toEqual(["iceServers", "turnExpiresAt"]);
    expectError(await api("POST", `${CALLS}/${first.call.id}/reject`, { token: bob.accessToken }), 409, "not_ringing");
    expect((await ok(await hangUp(alice, first.call.id))).call.status).toBe("ended");
    expectError(await api("GET", `${CALLS}/${first.call.id}/ice-servers`, { token: bob.accessToken }), 409, "call_ended");
    expectError(await api("POST", `${CALLS}/${first.call.id}/accept`, { token: bob.accessToken }), 409, "call_ended");

    const second = await startCall(bob, chat.id, "video");
    const rejected = await ok(await api("POST", `${CALLS}/${second.call.id}/reject`, { token: alice.accessToken }));
    expect(rejected.call).toMatchObject({ status: "rejected", endedAt: expect.any(String) });
    expect((await callRows(second.call.id)).participants[alice.id]!.state).toBe("rejected");
    expect((await callNotices(alice, chat.id)).map((m) => m.system.status)).toEqual(["ended", "rejected"]);
  });
});
