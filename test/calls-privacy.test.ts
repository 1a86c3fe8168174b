import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createBot } from "./bot-helpers";
import { acked, CALLS, callFrame, callRows, directWithDevices, startCall, startCallRaw } from "./call-helpers";
import { C, createDirect, createGroup, ok } from "./chat-helpers";
import { api, expectError, expectInvalid, signUp, type TestUser } from "./helpers";

/**
 * Who may call whom: the `calls` privacy setting (everyone, contacts, nobody), blocks either way,
 * bans, bots, and accounts that are suspended or gone; and an account suspended mid-call leaves it.
 */

const setCallsPrivacy = async (u: TestUser, calls: string) =>
  ok(await api("PUT", "/api/v1/users/me/privacy", { token: u.accessToken, body: { calls } }));
const callCount = async (chatId: string) =>
  env.DB.prepare("SELECT count(*) AS n FROM calls WHERE chat_id = ?").bind(chatId).first<number>("n");

describe("the calls privacy setting", () => {
  it("everyone, contacts (the callee has the caller in their contacts) or nobody", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    expect((await ok(await api("GET", "/api/v1/users/me/privacy", { token: bob.accessToken }))).privacy.calls).toBe("everyone");

    expect((await setCallsPrivacy(bob, "nobody")).privacy.calls).toBe("nobody");
    expectError(await startCallRaw(alice, chat.id), 403, "calls_not_allowed");
    await setCallsPrivacy(bob, "contacts");
    expectError(await startCallRaw(alice, chat.id), 403, "calls_not_allowed");
    expect(await callCount(chat.id)).toBe(0);
    // Alice having Bob in her contacts is not enough: Bob must have Alice in his.
    await ok(await api("POST", "/api/v1/users/me/contacts", { token: alice.accessToken, body: { userId: bob.id } }), 201);
    expectError(await startCallRaw(alice, chat.id), 403, "calls_not_allowed");
    await ok(await api("POST", "/api/v1/users/me/contacts", { token: bob.accessToken, body: { userId: alice.id } }), 201);
    const { call } = await startCall(alice, chat.id);
    await api("POST", `${CALLS}/${call.id}/hangup`, { token: alice.accessToken });
    // The caller's own setting does not stop them calling out.
    await setCallsPrivacy(alice, "nobody");
    await setCallsPrivacy(bob, "everyone");
    expect((await startCall(alice, chat.id)).call.status).toBe("ringing");
    expectInvalid(await api("PUT", "/api/v1/users/me/privacy", { token: bob.accessToken, body: { calls: "friends" } }), "body.calls");
  });
});

describe("blocks", () => {
  it("a block either way stops calls in a direct chat, both ways", async () => {
    const [alice, bob, carol, dave] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
    const ab = await createDirect(alice, bob);
    await ok(await api("POST", "/api/v1/users/me/blocked", { token: bob.accessToken, body: { userId: alice.id } }), 201);
    expectError(await startCallRaw(alice, ab.id), 403, "blocked");
    expectError(await startCallRaw(bob, ab.id), 403, "blocked");
    expect(await callCount(ab.id)).toBe(0);
    const cd = await createDirect(carol, dave);
    await ok(await api("POST", "/api/v1/users/me/blocked", { token: carol.accessToken, body: { userId: dave.id } }), 201);
    expectError(await startCallRaw(carol, cd.id), 403, "blocked");
    expectError(await startCallRaw(dave, cd.id), 403, "blocked");
    // Unblocking lets calls through again.
    expect((await api("DELETE", `/api/v1/users/me/blocked/${dave.id}`, { token: carol.accessToken })).status).toBe(204);
    expect((await startCall(dave, cd.id)).call.status).toBe("ringing");
  });

  it("a group call leaves out members a block, their privacy, a suspension or being a bot keeps out; with nobody left, 403", async () => {
    const [owner, friend, blocker, blocked, private_, suspended] = await Promise.all([
      signUp(),
      signUp(),
      signUp(),
      signUp(),
      signUp(),
      signUp(),
    ]);
    const bot = await createBot(owner);
    const group = await createGroup(owner, [friend, blocker, blocked, private_, suspended]);
    await ok(await api("POST", `${C}/${group.id}/members`, { token: owner.accessToken, body: { userIds: [bot.id] } }));
    await ok(await api("POST", "/api/v1/users/me/blocked", { token: blocker.accessToken, body: { userId: owner.id } }), 201);
    await ok(await api("POST", "/api/v1/users/me/blocked", { token: owner.accessToken, body: { userId: blocked.id } }), 201);
    await setCallsPrivacy(private_, "nobody");
    await env.DB.prepare("UPDATE users SET status = 'suspended' WHERE id = ?").bind(suspended.id).run();
    const { call } = await startCall(owner, group.id);
    expect(call.participants.map((p: any) => p.userId)).toEqual([owner.id, friend.id]);
    expect(Object.keys((await callRows(call.id)).participants).sort()).toEqual([owner.id, friend.id].sort());
    await api("POST", `${CALLS}/${call.id}/hangup`, { token: owner.accessToken });

    const lonely = await createGroup(owner, [blocker, private_]);
    expectError(await startCallRaw(owner, lonely.id), 403, "calls_not_allowed");
    expect(await callCount(lonely.id)).toBe(0);
  });
});

describe("bans, bots and accounts that are gone", () => {
  it("a banned member cannot call (no longer a member: 404); a shadow-banned one gets 403", async () => {
    const [owner, banned, shadowed, other] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
    const group = await createGroup(owner, [banned, shadowed, other]);
    await ok(await api("POST", `${C}/${group.id}/bans`, { token: owner.accessToken, body: { userId: banned.id } }), 201);
    expectError(await startCallRaw(banned, group.id), 404, "not_found");
    await ok(await api("POST", `${C}/${group.id}/bans`, { token: owner.accessToken, body: { userId: shadowed.id, shadow: true } }), 201);
    expectError(await startCallRaw(shadowed, group.id), 403, "calls_not_allowed");
    expect(await callCount(group.id)).toBe(0);
  });

  it("a direct chat's peer who is a bot, suspended or deleted cannot be called", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(), signUp(), signUp()]);
    const bot = await createBot(alice);
    const withBot = await createDirect(alice, { ...alice, id: bot.id } as TestUser);
    expectError(await startCallRaw(alice, withBot.id), 403, "calls_not_allowed");
    const ab = await createDirect(alice, bob);
    await env.DB.prepare("UPDATE users SET status = 'suspended' WHERE id = ?").bind(bob.id).run();
    expectError(await startCallRaw(alice, ab.id), 403, "calls_not_allowed");
    const ac = await createDirect(alice, carol);
    await env.DB.prepare("UPDATE users SET status = 'deleted' WHERE id = ?").bind(carol.id).run();
    expectError(await startCallRaw(alice, ac.id), 403, "peer_deleted");
  });

  it("an account suspended mid-call leaves it at once (its sessions end)", async () => {
    const [alice, bob, admin] = await Promise.all([signUp(), signUp(), signUp()]);
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.id).run();
    const { chat, da, db } = await directWithDevices(alice, bob);
    const { call } = await startCall(alice, chat.id);
    await acked(callFrame(db, { type: "call.accept", callId: call.id }));
    await ok(await api("POST", `/api/v1/admin/users/${bob.id}/suspend`, { token: admin.accessToken, body: { reason: "spam" } }));
    expect(await da.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "ended" });
    const rows = await callRows(call.id);
    expect(rows.call!.status).toBe("ended");
    expect(rows.participants[bob.id]).toMatchObject({ state: "left", session_id: null });
    da.socket.close();
  });
});
