import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { acked, CALLS, callFrame, firstDevice, startCall } from "./call-helpers";
import { createGroup, ok } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";

/**
 * Calls of more than 8 people go through the SFU (Cloudflare Realtime's API, here a stand-in that
 * answers like it at SFU_API_URL): devices open sessions, publish and receive tracks through
 * /calls/{id}/sfu/…, each only on its own sessions and only this call's tracks, and the app's SFU
 * secret never leaves the server.
 */

const SFU = {
  SFU_PROVIDER: "cloudflare",
  SFU_APP_ID: "app-123",
  SFU_APP_SECRET: "sfu-secret-abcdef",
  SFU_API_URL: "https://sfu.example.test/v1",
};
const OFFER = { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" };
const ANSWER = { type: "answer", sdp: "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" };

interface SfuRequest {
  method: string;
  url: string;
  authorization: string | null;
  body: any;
}
let requests: SfuRequest[] = [];
let sessions = 0;
/** The stand-in's next answer instead of its usual one, once. */
let failNext: { status: number; body: unknown } | null = null;

beforeAll(() => {
  Object.assign(env, SFU);
});
afterAll(() => {
  for (const key of Object.keys(SFU)) delete (env as any)[key];
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Stand in for Cloudflare Realtime: new sessions, tracks (echoed with mids), renegotiation. */
function fakeSfu() {
  requests = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    const body = request.method === "GET" ? null : await request.text().then((t) => (t ? JSON.parse(t) : null));
    requests.push({ method: request.method, url: request.url, authorization: request.headers.get("authorization"), body });
    if (failNext) {
      const { status, body: answer } = failNext;
      failNext = null;
      return Response.json(answer, { status });
    }
    const path = new URL(request.url).pathname;
    if (path.endsWith("/sessions/new"))
      return Response.json({ sessionId: `sess${++sessions}`, sessionDescription: ANSWER }, { status: 201 });
    if (path.endsWith("/tracks/new")) {
      const tracks = body.tracks.map((t: any, i: number) => ({ mid: t.mid ?? String(i), trackName: t.trackName, sessionId: t.sessionId }));
      return Response.json({
        requiresImmediateRenegotiation: body.tracks.some((t: any) => t.location === "remote"),
        sessionDescription: ANSWER,
        tracks,
      });
    }
    if (path.endsWith("/renegotiate")) return Response.json({});
    return Response.json({ errorCode: "not_found" }, { status: 404 });
  });
}

/** A group of 10 (more than a mesh holds) and its SFU call, answered by `joiners`. */
async function sfuCall() {
  const people = await Promise.all(Array.from({ length: 10 }, () => signUp()));
  const [caller, bob, carol, ...rest] = people as [TestUser, TestUser, TestUser, ...TestUser[]];
  const group = await createGroup(caller, [bob, carol, ...rest]);
  const { call } = await startCall(caller, group.id, "video");
  return { call, caller, bob, carol };
}

const sfuPath = (callId: string, rest: string) => `${CALLS}/${callId}/sfu/${rest}`;

describe("SFU calls", () => {
  it("a call of 10 goes through the SFU; sessions and tracks pass to it with the app's secret, which no answer shows", async () => {
    fakeSfu();
    const { call, caller, bob, carol } = await sfuCall();
    expect(call).toMatchObject({ media: "sfu", status: "ringing" });
    expect(call.participants).toHaveLength(10);
    const bobDevice = await firstDevice(bob);
    expectError(await api("POST", sfuPath(call.id, "sessions"), { token: bob.accessToken, body: {} }), 409, "not_in_call");
    await acked(callFrame(bobDevice, { type: "call.accept", callId: call.id }));

    const opened = await ok(
      await api("POST", sfuPath(call.id, "sessions"), { token: caller.accessToken, body: { sessionDescription: OFFER } }),
      201,
    );
    expect(opened).toEqual({ sessionId: "sess1", sessionDescription: ANSWER });
    expect(requests[0]).toEqual({
      method: "POST",
      url: "https://sfu.example.test/v1/apps/app-123/sessions/new",
      authorization: "Bearer sfu-secret-abcdef",
      body: { sessionDescription: OFFER },
    });

    const published = await ok(
      await api("POST", sfuPath(call.id, `sessions/${opened.sessionId}/tracks`), {
        token: caller.accessToken,
        body: {
          sessionDescription: OFFER,
          tracks: [
            { location: "local", mid: "0", trackName: "mic" },
            { location: "local", mid: "1", trackName: "cam" },
          ],
        },
      }),
    );
    expect(published.tracks.map((t: any) => t.trackName)).toEqual(["mic", "cam"]);
    expect(requests[1]).toMatchObject({
      method: "POST",
      url: `https://sfu.example.test/v1/apps/app-123/sessions/${opened.sessionId}/tracks/new`,
    });
    const announced = await bobDevice.socket.next("call.tracks", (f: any) => f.callId === call.id);
    expect(announced).toEqual({
      type: "call.tracks",
      callId: call.id,
      from: { userId: caller.id, sessionId: caller.sessionId },
      tracks: [
        { sessionId: opened.sessionId, trackName: "mic" },
        { sessionId: opened.sessionId, trackName: "cam" },
      ],
    });

    // Bob receives them on a session of his own, then answers the SFU's renegotiation.
    const bobs = await ok(await api("POST", sfuPath(call.id, "sessions"), { token: bob.accessToken, body: {} }), 201);
    expect(requests.at(-1)!.body).toBeNull();
    const pulled = await ok(
      await api("POST", sfuPath(call.id, `sessions/${bobs.sessionId}/tracks`), {
        token: bob.accessToken,
        body: { tracks: [{ location: "remote", sessionId: opened.sessionId, trackName: "mic" }] },
      }),
    );
    expect(pulled.requiresImmediateRenegotiation).toBe(true);
    await ok(
      await api("PUT", sfuPath(call.id, `sessions/${bobs.sessionId}/renegotiate`), {
        token: bob.accessToken,
        body: { sessionDescription: ANSWER },
      }),
    );
    expect(requests.at(-1)).toMatchObject({ method: "PUT", body: { sessionDescription: ANSWER } });
    expect((await ok(await api("GET", sfuPath(call.id, "tracks"), { token: bob.accessToken }))).tracks).toEqual([
      { userId: caller.id, sessionId: opened.sessionId, trackName: "mic" },
      { userId: caller.id, sessionId: opened.sessionId, trackName: "cam" },
    ]);
    for (const r of [opened, published, pulled]) expect(JSON.stringify(r)).not.toContain(SFU.SFU_APP_SECRET);

    // Nobody touches another's session, pulls from outside the call, or reaches a call not theirs.
    const sent = requests.length;
    expectError(
      await api("POST", sfuPath(call.id, `sessions/${opened.sessionId}/tracks`), {
        token: bob.accessToken,
        body: { tracks: [{ location: "local", mid: "0", trackName: "x" }] },
      }),
      404,
      "not_found",
    );
    const foreign = await api("POST", sfuPath(call.id, `sessions/${bobs.sessionId}/tracks`), {
      token: bob.accessToken,
      body: { tracks: [{ location: "remote", sessionId: "some-other-calls-session", trackName: "mic" }] },
    });
    expect(expectError(foreign, 403, "track_not_in_call").details).toEqual({ sessionId: "some-other-calls-session" });
    expectError(await api("GET", sfuPath(call.id, "tracks"), { token: carol.accessToken }), 409, "not_in_call");
    const stranger = await signUp();
    expectError(await api("POST", sfuPath(call.id, "sessions"), { token: stranger.accessToken, body: {} }), 404, "not_found");
    expect(requests.length).toBe(sent);

    // Once the caller leaves, their tracks are no longer the call's.
    await ok(await api("POST", `${CALLS}/${call.id}/hangup`, { token: caller.accessToken }));
    expect((await ok(await api("GET", sfuPath(call.id, "tracks"), { token: bob.accessToken }))).tracks).toEqual([]);
    expectError(
      await api("POST", sfuPath(call.id, `sessions/${bobs.sessionId}/tracks`), {
        token: bob.accessToken,
        body: { tracks: [{ location: "remote", sessionId: opened.sessionId, trackName: "cam" }] },
      }),
      403,
      "track_not_in_call",
    );
    bobDevice.socket.close();
  });

  it("an SFU that refuses answers 502 sfu_error with its code; one that does not answer, 503", async () => {
    fakeSfu();
    const { call, caller } = await sfuCall();
    failNext = { status: 400, body: { errorCode: "invalid_request_body", errorDescription: "bad sdp" } };
    const refused = expectError(await api("POST", sfuPath(call.id, "sessions"), { token: caller.accessToken, body: {} }), 502, "sfu_error");
    expect(refused.details).toEqual({ status: 400, errorCode: "invalid_request_body", errorDescription: "bad sdp" });
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.mocked(globalThis.fetch).mockRejectedValueOnce(new TypeError("network down"));
    expectError(await api("POST", sfuPath(call.id, "sessions"), { token: caller.accessToken, body: {} }), 503, "sfu_unavailable");
    // Neither opened a session for the caller: four more still may.
    for (let i = 0; i < 4; i++) await ok(await api("POST", sfuPath(call.id, "sessions"), { token: caller.accessToken, body: {} }), 201);
    expectError(await api("POST", sfuPath(call.id, "sessions"), { token: caller.accessToken, body: {} }), 409, "too_many_sfu_sessions");
  });

  it("a peer-to-peer call has no SFU routes", async () => {
    fakeSfu();
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const group = await createGroup(alice, [bob]);
    const { call } = await startCall(alice, group.id);
    expect(call.media).toBe("mesh");
    expectError(await api("POST", sfuPath(call.id, "sessions"), { token: alice.accessToken, body: {} }), 409, "not_sfu_call");
    expect(requests).toEqual([]);
  });
});
