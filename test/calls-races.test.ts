import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callRoomFor } from "../src/calls/client";
import { SIGNAL_BURST, SignalBudget } from "../src/calls/signal-budget";
import { hubFor } from "../src/hubs/client";
import { acked, anotherDevice, callFrame, callRows, directWithDevices, firstDevice, startCall, startCallRaw } from "./call-helpers";
import { createDirect, createGroup } from "./chat-helpers";
import { signUp } from "./helpers";

/**
 * What must hold when things happen at once or objects restart: one line per person under racing
 * calls, one device per person under racing answers, a busy member in a group call, state that
 * survives the eviction of the call's room and the hubs, and the signaling budget.
 */

describe("races", () => {
  it("two people calling each other at once get one call: the other start finds its caller on a line", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    const [fromAlice, fromBob] = await Promise.all([startCallRaw(alice, chat.id), startCallRaw(bob, chat.id)]);
    const statuses = [fromAlice.status, fromBob.status].sort();
    expect(statuses).toEqual([201, 409]);
    const refusedOne = fromAlice.status === 409 ? fromAlice : fromBob;
    expect(refusedOne.body.error.code).toBe("already_in_call");
    const { results } = await env.DB.prepare("SELECT id, status FROM calls WHERE chat_id = ?").bind(chat.id).all();
    expect(results).toEqual([{ id: (fromAlice.status === 201 ? fromAlice : fromBob).body.call.id, status: "ringing" }]);
    const lines = await env.DB.prepare(
      "SELECT user_id, state FROM call_participants WHERE user_id IN (?, ?) AND state IN ('ringing', 'joined') ORDER BY state",
    )
      .bind(alice.id, bob.id)
      .all();
    expect(lines.results).toHaveLength(2);
  });

  it("two devices answering at once: one joins, the other hears already_joined", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const laptop = await anotherDevice(bob);
    const { call } = await startCall(alice, chat.id);
    await Promise.all([db.socket.next("call.invite"), laptop.socket.next("call.invite")]);
    const answers = await Promise.all([
      callFrame(db, { type: "call.accept", callId: call.id }),
      callFrame(laptop, { type: "call.accept", callId: call.id }),
    ]);
    expect(answers.map((a) => a.type).sort()).toEqual(["ack", "error"]);
    expect(answers.find((a) => a.type === "error").code).toBe("already_joined");
    const winner = answers[0].type === "ack" ? db : laptop;
    expect((await callRows(call.id)).participants[bob.id]).toMatchObject({ state: "joined", session_id: winner.sessionId });
    for (const d of [da, db, laptop]) d.socket.close();
  });

  it("a member on another line is busy in a group call; the others ring, and the caller hears who is busy", async () => {
    const [alice, bob, carol, dave] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
    const elsewhere = await createDirect(dave, carol);
    await startCall(dave, elsewhere.id);
    const group = await createGroup(alice, [bob, carol]);
    const [da, dbob] = await Promise.all([firstDevice(alice), firstDevice(bob)]);
    const { call } = await startCall(alice, group.id);
    expect(Object.fromEntries(call.participants.map((p: any) => [p.userId, p.state]))).toEqual({
      [alice.id]: "joined",
      [bob.id]: "ringing",
      [carol.id]: "busy",
    });
    expect(await da.socket.next("call.busy", (f: any) => f.callId === call.id)).toMatchObject({ userId: carol.id });
    expect(await dbob.socket.next("call.invite", (f: any) => f.callId === call.id)).toBeTruthy();
    for (const d of [da, dbob]) d.socket.close();
  });
});

describe("restarts", () => {
  it("a call survives the eviction of its room and of both hubs: signaling and hanging up go on", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const { call } = await startCall(alice, chat.id, "video");
    await acked(callFrame(db, { type: "call.accept", callId: call.id }));
    for (const stub of [callRoomFor(env, call.id), hubFor(env, alice.id), hubFor(env, bob.id)]) await evictDurableObject(stub);
    const toBob = { userId: bob.id, sessionId: bob.sessionId };
    expect(await acked(callFrame(da, { type: "call.offer", callId: call.id, to: toBob, sdp: "v=0\r\n" }))).toMatchObject({ delivered: 1 });
    expect(await db.socket.next("call.offer", (f: any) => f.callId === call.id)).toMatchObject({ from: { userId: alice.id } });
    // The state came back from storage: Alice is still in the call on this device.
    expect((await acked(callFrame(da, { type: "call.accept", callId: call.id }))).call.status).toBe("active");
    expect((await acked(callFrame(db, { type: "call.hangup", callId: call.id }))).call.status).toBe("ended");
    expect(await da.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "ended" });
    for (const d of [da, db]) d.socket.close();
  });
});

describe("the signaling budget", () => {
  it("lets a burst through, refuses past it with 429 and a retry time, and refills with time", () => {
    const budget = new SignalBudget();
    const t = 1_000_000;
    for (let i = 0; i < SIGNAL_BURST; i++) budget.spend("u", t);
    expect(() => budget.spend("u", t)).toThrowError(expect.objectContaining({ status: 429, code: "rate_limited" }));
    budget.spend("other", t);
    // 100 ms refill two frames.
    budget.spend("u", t + 100);
    budget.spend("u", t + 100);
    expect(() => budget.spend("u", t + 100)).toThrowError(expect.objectContaining({ code: "rate_limited" }));
  });
});
