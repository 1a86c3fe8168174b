import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  acked,
  anotherDevice,
  CALLS,
  callFrame,
  callNotices,
  callRows,
  directWithDevices,
  firstDevice,
  refused,
  runCallAlarmAt,
  startCall,
  timeOutRinging,
} from "./call-helpers";
import { createDirect, createGroup } from "./chat-helpers";
import { api, signUp } from "./helpers";

/**
 * Call signaling over the realtime sockets (src/calls/, through each user's hub): invitations to
 * every device of every callee, answers on one device stopping the others, declines, busy lines,
 * the ring timeout by the call's alarm, hang-ups, ended sessions, and offers, answers and ICE
 * candidates passed between two real sockets of the call, and nobody else's.
 */

afterEach(() => {
  vi.useRealTimers();
});

/** Frames of `type` a socket received so far, after a ping round trip (everything sent before it has arrived). */
async function framesAfterBarrier(device: { socket: any }, type: string) {
  await device.socket.request({ type: "ping" });
  return device.socket.frames.filter((f: any) => f.type === type);
}

describe("ringing", () => {
  it("call.invite reaches every device of every callee, and nobody else's", async () => {
    const [alice, bob, carol, dave] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
    const chat = await createGroup(alice, [bob, carol]);
    const [aPhone, bPhone, bLaptop, cPhone, dPhone] = await Promise.all([
      firstDevice(alice),
      firstDevice(bob),
      anotherDevice(bob),
      firstDevice(carol),
      firstDevice(dave),
    ]);
    const { call } = await startCall(alice, chat.id, "video");
    expect(call).toMatchObject({ chatId: chat.id, callerId: alice.id, kind: "video", media: "mesh", status: "ringing" });
    for (const device of [bPhone, bLaptop, cPhone]) {
      const invite = await device.socket.next("call.invite", (f: any) => f.callId === call.id);
      expect(invite.call).toMatchObject({ id: call.id, chatId: chat.id, callerId: alice.id, kind: "video", status: "ringing" });
      expect(invite.updateSeq).toBeUndefined();
      const states = Object.fromEntries(invite.call.participants.map((p: any) => [p.userId, p.state]));
      expect(states).toEqual({ [alice.id]: "joined", [bob.id]: "ringing", [carol.id]: "ringing" });
    }
    expect(await framesAfterBarrier(aPhone, "call.invite")).toEqual([]);
    expect(await framesAfterBarrier(dPhone, "call.invite")).toEqual([]);
    const { participants } = await callRows(call.id);
    expect(participants[alice.id]).toMatchObject({ state: "joined", session_id: alice.sessionId });
    expect(participants[bob.id]).toMatchObject({ state: "ringing", session_id: null });
    for (const d of [aPhone, bPhone, bLaptop, cPhone, dPhone]) d.socket.close();
  });

  it("answering on one device stops the callee's other devices and tells the caller where to signal", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const [bLaptop, aLaptop] = await Promise.all([anotherDevice(bob), anotherDevice(alice)]);
    const { call } = await startCall(alice, chat.id);
    await db.socket.next("call.invite", (f: any) => f.callId === call.id);
    await bLaptop.socket.next("call.invite", (f: any) => f.callId === call.id);

    const ack = await acked(callFrame(db, { type: "call.accept", callId: call.id }));
    expect(ack.call).toMatchObject({ id: call.id, status: "active" });
    expect(ack.call.participants.find((p: any) => p.userId === bob.id)).toMatchObject({ state: "joined", sessionId: bob.sessionId });
    expect(ack.iceServers.length).toBeGreaterThan(0);
    const stop = await bLaptop.socket.next("call.ringing_stopped", (f: any) => f.callId === call.id);
    expect(stop).toEqual({ type: "call.ringing_stopped", callId: call.id, reason: "accepted_elsewhere" });
    expect(await framesAfterBarrier(db, "call.ringing_stopped")).toEqual([]);
    const accepted = await da.socket.next("call.accept", (f: any) => f.callId === call.id);
    expect(accepted.from).toEqual({ userId: bob.id, sessionId: bob.sessionId });
    // Only the caller's device in the call hears it, not their other devices.
    expect(await framesAfterBarrier(aLaptop, "call.accept")).toEqual([]);

    // Again from the same device: nothing changes; from another: refused.
    expect((await acked(callFrame(db, { type: "call.accept", callId: call.id }))).call.status).toBe("active");
    await refused(callFrame(bLaptop, { type: "call.accept", callId: call.id }), "already_joined");
    const { call: row, participants } = await callRows(call.id);
    expect(row).toMatchObject({ status: "active" });
    expect(row!.answered_at).toBeGreaterThanOrEqual(row!.started_at);
    expect(participants[bob.id]).toMatchObject({ state: "joined", session_id: bob.sessionId });
    await acked(callFrame(da, { type: "call.hangup", callId: call.id }));
    for (const d of [da, db, bLaptop, aLaptop]) d.socket.close();
  });

  it("declining ends a direct call as rejected on every device, with a system message", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const bLaptop = await anotherDevice(bob);
    const { call } = await startCall(alice, chat.id, "video");
    await db.socket.next("call.invite");
    const ack = await acked(callFrame(db, { type: "call.reject", callId: call.id }));
    expect(ack.call).toMatchObject({ status: "rejected", durationSeconds: 0 });
    expect(await da.socket.next("call.reject", (f: any) => f.callId === call.id)).toMatchObject({ from: { userId: bob.id } });
    for (const d of [da, db, bLaptop]) {
      expect(await d.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "rejected", durationSeconds: 0 });
    }
    expect(await bLaptop.socket.next("call.ringing_stopped")).toMatchObject({ reason: "rejected_elsewhere" });
    const { call: row, participants } = await callRows(call.id);
    expect(row).toMatchObject({ status: "rejected", duration_seconds: 0, answered_at: null });
    expect(participants[bob.id]!.state).toBe("rejected");
    expect(participants[alice.id]!.state).toBe("left");
    const [notice] = await callNotices(bob, chat.id);
    expect(notice.system).toMatchObject({ event: "call", actorId: alice.id, callId: call.id, kind: "video", status: "rejected" });
    // Declining again changes nothing; the REST route says the same.
    expect((await acked(callFrame(db, { type: "call.reject", callId: call.id }))).call.status).toBe("rejected");
    for (const d of [da, db, bLaptop]) d.socket.close();
  });
});

describe("busy", () => {
  it("someone already in a call answers busy; a caller already in one cannot start another", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(), signUp(), signUp()]);
    const { chat: bc, da: bPhone, db: cPhone } = await directWithDevices(bob, carol);
    const first = await startCall(carol, bc.id);
    await acked(callFrame(bPhone, { type: "call.accept", callId: first.call.id }));

    const ab = await createDirect(alice, bob);
    const aPhone = await firstDevice(alice);
    const { call } = await startCall(alice, ab.id);
    expect(call.status).toBe("busy");
    expect(call.participants.find((p: any) => p.userId === bob.id).state).toBe("busy");
    expect(await aPhone.socket.next("call.busy", (f: any) => f.callId === call.id)).toMatchObject({ userId: bob.id });
    expect(await aPhone.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "busy" });
    expect((await framesAfterBarrier(bPhone, "call.invite")).filter((f: any) => f.callId === call.id)).toEqual([]);
    expect((await callRows(call.id)).call).toMatchObject({ status: "busy", ended_at: expect.any(Number) });
    const [notice] = await callNotices(alice, ab.id);
    expect(notice.system).toMatchObject({ callId: call.id, status: "busy" });
    // The first call is untouched.
    expect((await callRows(first.call.id)).call!.status).toBe("active");

    // Carol, in the call with Bob, cannot start another.
    const ca = await createDirect(carol, alice);
    const again = await api("POST", CALLS, { token: carol.accessToken, body: { chatId: ca.id, kind: "audio" } });
    expect(again.status, again.text).toBe(409);
    expect(again.body.error.code).toBe("already_in_call");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM calls WHERE chat_id = ?").bind(ca.id).first("n")).toBe(0);
    await acked(callFrame(cPhone, { type: "call.hangup", callId: first.call.id }));
    for (const d of [aPhone, bPhone, cPhone]) d.socket.close();
  });

  it("a device may answer busy itself (a call on another app): the call ends busy", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const { call } = await startCall(alice, chat.id);
    await db.socket.next("call.invite");
    expect((await acked(callFrame(db, { type: "call.busy", callId: call.id }))).call.status).toBe("busy");
    expect(await da.socket.next("call.busy", (f: any) => f.callId === call.id)).toMatchObject({ userId: bob.id });
    expect(await da.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "busy" });
    // Bob's line is free again: he can call Alice.
    expect((await startCall(bob, chat.id)).call.status).toBe("ringing");
    for (const d of [da, db]) d.socket.close();
  });
});

describe("the ring timeout (the call's alarm)", () => {
  it("nobody answering within 45 s makes a missed call, with a system message", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const { call } = await startCall(alice, chat.id, "video");
    await db.socket.next("call.invite");
    // Early: the alarm does nothing yet.
    expect(await runCallAlarmAt(call.id, Date.parse(call.startedAt) + 44_000)).toBe(true);
    expect((await callRows(call.id)).call!.status).toBe("ringing");
    expect(await timeOutRinging(call)).toBe(true);
    vi.useRealTimers();
    for (const d of [da, db]) {
      expect(await d.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "missed", durationSeconds: 0 });
    }
    const { call: row, participants } = await callRows(call.id);
    expect(row).toMatchObject({ status: "missed", answered_at: null });
    expect(participants[bob.id]!.state).toBe("missed");
    const [notice] = await callNotices(alice, chat.id);
    expect(notice).toMatchObject({ senderId: null, type: "system" });
    expect(notice.system).toMatchObject({ event: "call", callId: call.id, kind: "video", status: "missed", durationSeconds: 0 });
    // Bob's line is free again.
    expect((await startCall(bob, chat.id)).call.status).toBe("ringing");
    for (const d of [da, db]) d.socket.close();
  });

  it("in a group call that goes on, those who did not answer missed it; the others hear who", async () => {
    const [alice, bob, carol] = await Promise.all([signUp(), signUp(), signUp()]);
    const chat = await createGroup(alice, [bob, carol]);
    const [da, db, dc] = await Promise.all([firstDevice(alice), firstDevice(bob), firstDevice(carol)]);
    const { call } = await startCall(alice, chat.id);
    await dc.socket.next("call.invite");
    await acked(callFrame(db, { type: "call.accept", callId: call.id }));
    await timeOutRinging(call);
    vi.useRealTimers();
    expect(await dc.socket.next("call.ringing_stopped", (f: any) => f.callId === call.id)).toMatchObject({ reason: "timeout" });
    for (const d of [da, db]) {
      expect(await d.socket.next("call.missed", (f: any) => f.callId === call.id)).toMatchObject({ userIds: [carol.id] });
    }
    const { call: row, participants } = await callRows(call.id);
    expect(row!.status).toBe("active");
    expect(participants[carol.id]!.state).toBe("missed");
    // Carol may still join the call that goes on.
    expect((await acked(callFrame(dc, { type: "call.accept", callId: call.id }))).call.status).toBe("active");
    expect(await da.socket.next("call.accept", (f: any) => f.from.userId === carol.id)).toBeTruthy();
    for (const d of [da, db, dc]) await acked(callFrame(d, { type: "call.hangup", callId: call.id }));
    expect((await callRows(call.id)).call!.status).toBe("ended");
    for (const d of [da, db, dc]) d.socket.close();
  });
});

describe("hanging up", () => {
  it("either side ends a direct call; the duration runs from the answer", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    for (const [leaver, other, leaverUser] of [
      [db, da, bob],
      [da, db, alice],
    ] as const) {
      const { call } = await startCall(alice, chat.id);
      await db.socket.next("call.invite", (f: any) => f.callId === call.id);
      const accepted = await acked(callFrame(db, { type: "call.accept", callId: call.id }));
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.parse(accepted.call.answeredAt) + 93_500);
      const hung = await acked(callFrame(leaver, { type: "call.hangup", callId: call.id }));
      vi.useRealTimers();
      expect(hung.call).toMatchObject({ status: "ended", durationSeconds: 93 });
      expect(await other.socket.next("call.hangup", (f: any) => f.callId === call.id)).toMatchObject({
        from: { userId: leaverUser.id, sessionId: leaverUser.sessionId },
      });
      expect(await other.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({
        status: "ended",
        durationSeconds: 93,
      });
      expect((await callRows(call.id)).call).toMatchObject({ status: "ended", duration_seconds: 93 });
      const notice = (await callNotices(alice, chat.id)).find((m) => m.system.callId === call.id);
      expect(notice.system).toMatchObject({ status: "ended", durationSeconds: 93, actorId: alice.id });
      // Idempotent.
      expect((await acked(callFrame(leaver, { type: "call.hangup", callId: call.id }))).call.status).toBe("ended");
    }
    for (const d of [da, db]) d.socket.close();
  });

  it("the caller giving up before an answer makes a missed call; the callee's devices stop ringing", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const { call } = await startCall(alice, chat.id);
    await db.socket.next("call.invite");
    const ack = await acked(callFrame(da, { type: "call.hangup", callId: call.id }));
    expect(ack.call.status).toBe("missed");
    expect(await db.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "missed" });
    await refused(callFrame(db, { type: "call.accept", callId: call.id }), "call_ended");
    for (const d of [da, db]) d.socket.close();
  });

  it("ending the session a call is bound to drops that device from the call at once", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const { call } = await startCall(alice, chat.id);
    await acked(callFrame(db, { type: "call.accept", callId: call.id }));
    expect((await api("POST", "/api/v1/auth/logout", { token: bob.accessToken })).status).toBe(204);
    expect(await da.socket.next("call.hangup", (f: any) => f.callId === call.id)).toMatchObject({ from: { userId: bob.id } });
    expect(await da.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "ended" });
    expect((await callRows(call.id)).participants[bob.id]).toMatchObject({ state: "left", session_id: null });
    da.socket.close();
  });

  it("a joined device without a realtime socket at two liveness checks has left the call", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const { call } = await startCall(alice, chat.id);
    await acked(callFrame(db, { type: "call.accept", callId: call.id }));
    db.socket.close();
    await db.socket.closedWith();
    const t = Date.now();
    await runCallAlarmAt(call.id, t + 60_000);
    expect((await callRows(call.id)).call!.status).toBe("active");
    await runCallAlarmAt(call.id, t + 120_000);
    vi.useRealTimers();
    expect(await da.socket.next("call.ended", (f: any) => f.callId === call.id)).toMatchObject({ status: "ended" });
    expect((await callRows(call.id)).participants[bob.id]!.state).toBe("left");
    da.socket.close();
  });
});

describe("offer, answer and ICE between two real sockets", () => {
  const OFFER = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
  const ANSWER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
  const CANDIDATE = { candidate: "candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host", sdpMid: "0", sdpMLineIndex: 0 };

  it("passes each frame to the addressed device only, in order, and refuses devices outside the call", async () => {
    const [alice, bob, eve] = await Promise.all([signUp(), signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const [bLaptop, de] = await Promise.all([anotherDevice(bob), firstDevice(eve)]);
    const { call } = await startCall(alice, chat.id, "video");
    await acked(callFrame(db, { type: "call.accept", callId: call.id }));
    const accepted = await da.socket.next("call.accept", (f: any) => f.callId === call.id);
    const toBob = accepted.from;
    const toAlice = { userId: alice.id, sessionId: alice.sessionId };

    expect(await acked(callFrame(da, { type: "call.offer", callId: call.id, to: toBob, sdp: OFFER }))).toMatchObject({ delivered: 1 });
    const offer = await db.socket.next("call.offer", (f: any) => f.callId === call.id);
    expect(offer).toEqual({ type: "call.offer", callId: call.id, from: toAlice, sdp: OFFER });
    await acked(callFrame(db, { type: "call.answer", callId: call.id, to: toAlice, sdp: ANSWER }));
    expect(await da.socket.next("call.answer", (f: any) => f.callId === call.id)).toEqual({
      type: "call.answer",
      callId: call.id,
      from: toBob,
      sdp: ANSWER,
    });
    for (let i = 0; i < 3; i++) {
      const candidate = { ...CANDIDATE, candidate: `${CANDIDATE.candidate} generation ${i}` };
      await acked(callFrame(da, { type: "call.ice", callId: call.id, to: toBob, candidate }));
      await acked(callFrame(db, { type: "call.ice", callId: call.id, to: toAlice, candidate }));
    }
    await acked(callFrame(da, { type: "call.ice", callId: call.id, to: toBob, candidate: { candidate: "" } }));
    const atBob = await framesAfterBarrier(db, "call.ice");
    expect(atBob.map((f: any) => f.candidate.candidate)).toEqual([0, 1, 2].map((i) => `${CANDIDATE.candidate} generation ${i}`).concat(""));
    expect(atBob.every((f: any) => f.from.userId === alice.id)).toBe(true);
    expect((await framesAfterBarrier(da, "call.ice")).length).toBe(3);
    // Bob's other device, and everyone else, hear nothing of it.
    for (const type of ["call.offer", "call.answer", "call.ice"]) expect(await framesAfterBarrier(bLaptop, type)).toEqual([]);
    expect(await framesAfterBarrier(de, "call.offer")).toEqual([]);

    await refused(callFrame(de, { type: "call.offer", callId: call.id, to: toBob, sdp: OFFER }), "not_found");
    await refused(callFrame(bLaptop, { type: "call.offer", callId: call.id, to: toAlice, sdp: OFFER }), "not_in_call");
    await refused(
      callFrame(da, { type: "call.offer", callId: call.id, to: { ...toBob, sessionId: bLaptop.sessionId }, sdp: OFFER }),
      "peer_not_in_call",
    );
    await refused(
      callFrame(da, { type: "call.offer", callId: call.id, to: { userId: eve.id, sessionId: eve.sessionId }, sdp: OFFER }),
      "peer_not_in_call",
    );
    await refused(callFrame(da, { type: "call.offer", callId: crypto.randomUUID(), to: toBob, sdp: OFFER }), "not_found");
    await acked(callFrame(db, { type: "call.hangup", callId: call.id }));
    await refused(callFrame(da, { type: "call.offer", callId: call.id, to: toBob, sdp: OFFER }), "call_ended");
    for (const d of [da, db, bLaptop, de]) d.socket.close();
  });

  it("takes SDP of realistic size, refuses invalid frames, and closes the socket for a frame over 64 KiB", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const { chat, da, db } = await directWithDevices(alice, bob);
    const { call } = await startCall(alice, chat.id, "video");
    await acked(callFrame(db, { type: "call.accept", callId: call.id }));
    const toBob = { userId: bob.id, sessionId: bob.sessionId };
    const bigSdp = `v=0\r\n${"a=candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host\r\n".repeat(600)}`.slice(0, 30_000);
    await acked(callFrame(da, { type: "call.offer", callId: call.id, to: toBob, sdp: bigSdp }));
    expect((await db.socket.next("call.offer")).sdp).toBe(bigSdp);
    const invalid = await refused(callFrame(da, { type: "call.offer", callId: call.id, to: toBob }), "validation_failed");
    expect(JSON.stringify(invalid.details)).toContain("sdp");
    await refused(callFrame(da, { type: "call.ice", callId: "not-a-uuid", to: toBob, candidate: { candidate: "" } }), "validation_failed");
    await refused(callFrame(da, { type: "call.accept", callId: call.id, extra: true }), "validation_failed");
    da.socket.send({ type: "call.offer", callId: call.id, to: toBob, sdp: "x".repeat(70_000) });
    expect((await da.socket.closedWith()).code).toBe(1009);
    await acked(callFrame(db, { type: "call.hangup", callId: call.id }));
    db.socket.close();
  });
});
