import { env } from "cloudflare:workers";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { iceServerEntries } from "../src/calls/config";
import { iceServersFor } from "../src/calls/ice-servers";
import { CALLS, startCall } from "./call-helpers";
import { createDirect, ok } from "./chat-helpers";
import { api, signUp } from "./helpers";

/**
 * ICE servers and TURN credentials. The credentials are checked here the way a TURN server
 * (coturn's `use-auth-secret`) checks them, with an HMAC-SHA1 from @noble/hashes, not the app's
 * Web Crypto code: the username is `<expiry>:<user id>`, the credential base64(HMAC-SHA1(secret,
 * username)), and the expiry is the configured lifetime away. The secret itself is never sent.
 */

afterEach(() => {
  vi.useRealTimers();
});

/** The TURN secret the tests run with (vitest.config.ts). */
const SECRET = env.TURN_SECRET!;
/** What a TURN server computes for a username. */
const expectedCredential = (secret: string, username: string) =>
  btoa(String.fromCharCode(...hmac(sha1, utf8ToBytes(secret), utf8ToBytes(username))));

/** The entries of ICE_SERVERS as wrangler.toml sets them for development and tests. */
const CONFIGURED = JSON.parse(env.ICE_SERVERS!) as { urls: string[] }[];

describe("ICE servers in call answers", () => {
  it("STUN as configured, TURN with credentials for this user that expire after an hour, checked by an HMAC of our own", async () => {
    const [alice, bob] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(alice, bob);
    const before = Math.floor(Date.now() / 1000);
    const started = await startCall(alice, chat.id, "video");
    const after = Math.floor(Date.now() / 1000);
    expect(started.iceServers.map((s: any) => s.urls)).toEqual(CONFIGURED.map((e) => e.urls));
    const stun = started.iceServers.find((s: any) => s.urls[0].startsWith("stun:"));
    expect(stun).toEqual({ urls: CONFIGURED[0]!.urls });
    const turn = started.iceServers.find((s: any) => s.urls[0].startsWith("turn:"));
    const [expiry, userId] = turn.username.split(":");
    expect(userId).toBe(alice.id);
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 3600);
    expect(Number(expiry)).toBeLessThanOrEqual(after + 3600);
    expect(turn.credential).toBe(expectedCredential(SECRET, turn.username));
    expect(turn.credential).not.toBe(expectedCredential(`${SECRET}x`, turn.username));
    expect(started.turnExpiresAt).toBe(new Date(Number(expiry) * 1000).toISOString());

    // The callee gets credentials of their own on answering, and fresh ones on asking.
    const accepted = await ok(await api("POST", `${CALLS}/${started.call.id}/accept`, { token: bob.accessToken }));
    const bobTurn = accepted.iceServers.find((s: any) => s.urls[0].startsWith("turn:"));
    expect(bobTurn.username.split(":")[1]).toBe(bob.id);
    expect(bobTurn.credential).toBe(expectedCredential(SECRET, bobTurn.username));
    const fresh = await ok(await api("GET", `${CALLS}/${started.call.id}/ice-servers`, { token: bob.accessToken }));
    const freshTurn = fresh.iceServers.find((s: any) => s.urls[0].startsWith("turn:"));
    expect(freshTurn.credential).toBe(expectedCredential(SECRET, freshTurn.username));
    for (const text of [JSON.stringify(started), JSON.stringify(accepted), JSON.stringify(fresh)]) expect(text).not.toContain(SECRET);
    await api("POST", `${CALLS}/${started.call.id}/hangup`, { token: alice.accessToken });
  });

  it("the lifetime follows TURN_CREDENTIAL_TTL_SECONDS (60 s to a day), and the expiry is in the username the HMAC covers", async () => {
    const at = Date.parse("2031-05-04T03:02:01.500Z");
    const base = { ICE_SERVERS: env.ICE_SERVERS, TURN_SECRET: "another-secret", ENVIRONMENT: "development" };
    const short = await iceServersFor({ ...base, TURN_CREDENTIAL_TTL_SECONDS: "120" }, "user-1", at);
    const turn = short.iceServers.find((s) => s.username)!;
    expect(turn.username).toBe(`${Math.floor(at / 1000) + 120}:user-1`);
    expect(turn.credential).toBe(expectedCredential("another-secret", turn.username!));
    expect(short.turnExpiresAt).toBe("2031-05-04T03:04:01.000Z");
    // A changed expiry no longer matches the credential: the server would refuse it.
    const forged = `${Math.floor(at / 1000) + 999_999}:user-1`;
    expect(turn.credential).not.toBe(expectedCredential("another-secret", forged));
    for (const ttl of ["59", "86401", "1.5", "soon"]) {
      const odd = await iceServersFor({ ...base, TURN_CREDENTIAL_TTL_SECONDS: ttl }, "user-1", at);
      expect(odd.turnExpiresAt).toBe(new Date((Math.floor(at / 1000) + 3600) * 1000).toISOString());
    }
  });
});

describe("configuration", () => {
  it("ICE_SERVERS must be a JSON array of {urls}; credentials are never configured", () => {
    expect(iceServerEntries({ ICE_SERVERS: undefined })).toEqual([{ urls: ["stun:stun.cloudflare.com:3478"] }]);
    expect(iceServerEntries({ ICE_SERVERS: '[{"urls":"stun:a.example:3478"}]' })).toEqual([{ urls: ["stun:a.example:3478"] }]);
    for (const bad of [
      "not json",
      '{"urls":"stun:a.example"}',
      '[{"urls":"https://a.example"}]',
      '[{"urls":"turn:a.example","username":"u","credential":"long-lived"}]',
    ]) {
      expect(() => iceServerEntries({ ICE_SERVERS: bad })).toThrow(/ICE_SERVERS/);
    }
  });

  it("outside development without TURN_SECRET, TURN servers are left out (STUN stays)", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const served = await iceServersFor({ ICE_SERVERS: env.ICE_SERVERS, ENVIRONMENT: "production", JWT_SECRET: "x".repeat(40) }, "user-1");
    expect(served.iceServers).toEqual([{ urls: CONFIGURED[0]!.urls }]);
  });
});
