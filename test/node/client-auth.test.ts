import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as OTPAuth from "otpauth";
import { Upload } from "tus-js-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../bench/server.mjs";
import { ApiError, createClient, mediaIdFromUploadUrl, memoryTokenStorage, SignedOutError, type StoredTokens } from "../../client";
import { CLIENT_TYPES_FILE, renderClientTypes } from "../../scripts/client-types.mjs";
import { PASSWORD } from "./api";
import { countingFetch, signedUpClient } from "./client-helpers";

/**
 * The client library (client/) against a real `wrangler dev`: its generated types are current,
 * typed REST calls, sign-in with the 2FA step, one refresh shared by concurrent callers, what
 * ends a session, sign-out, and a tus upload through tus-js-client with the token helper.
 */

let server: Awaited<ReturnType<typeof startServer>>;
const REFRESH = "POST /api/v1/auth/refresh";

beforeAll(async () => {
  server = await startServer("client-auth", { port: 0, vars: { ARGON2_MEMORY_KIB: "64", ARGON2_ITERATIONS: "1" } });
});
afterAll(async () => {
  await server?.stop();
});

describe("client library: REST and auth", () => {
  it("has client/generated/api.d.ts as the served /openapi.json gives it (npm run client:types)", async () => {
    const document = await (await fetch(`${server.baseUrl}/openapi.json`)).json();
    expect(await renderClientTypes(document), "stale: run `npm run client:types` and commit client/generated/api.d.ts").toBe(
      readFileSync(CLIENT_TYPES_FILE, "utf8"),
    );
  });

  it("signs up and makes typed calls with the session's token", async () => {
    const { client, user } = await signedUpClient(server.baseUrl, "typed");
    const { user: me } = await client.api.get("/api/v1/auth/me");
    expect(me).toMatchObject({ id: user.id, username: user.username, displayName: "typed", twoFactorEnabled: false });
    const created = await client.api.post("/api/v1/chats", { body: { type: "group", name: "Typed" } });
    const { items } = await client.api.get("/api/v1/chats", { query: { limit: 5 } });
    expect(items.map((c) => c.id)).toEqual([created.chat.id]);
    const refused = await client.api.get("/api/v1/chats/{chatId}", { path: { chatId: crypto.randomUUID() } }).catch((e) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 404, code: "not_found" });
  });

  it("signs in with the 2FA step: an explicit second call, or a callback", async () => {
    const { client, user } = await signedUpClient(server.baseUrl, "twofa");
    const { secret } = await client.api.post("/api/v1/auth/2fa/setup");
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 });
    const { recoveryCodes } = await client.api.post("/api/v1/auth/2fa/enable", { body: { code: totp.generate() } });

    const phone = createClient({ baseUrl: server.baseUrl, fetch: countingFetch("2001:db8:c2::").fetch });
    const first = await phone.auth.signIn({ identifier: user.username, password: PASSWORD, deviceName: "phone" });
    if (first.status !== "secondFactorRequired") throw new Error(`expected a 2FA challenge, got ${first.status}`);
    expect(await phone.auth.isSignedIn()).toBe(false);
    // The code of the next 30 s step: the one used to enable 2FA may not be accepted twice.
    const signedIn = await first.challenge.verify({ code: totp.generate({ timestamp: Date.now() + 30_000 }) });
    expect(signedIn.user.id).toBe(user.id);
    expect((await phone.api.get("/api/v1/auth/me")).user.twoFactorEnabled).toBe(true);

    const tablet = createClient({ baseUrl: server.baseUrl, fetch: countingFetch("2001:db8:c3::").fetch });
    const asked: string[] = [];
    const second = await tablet.auth.signIn(
      { identifier: user.username, password: PASSWORD },
      {
        secondFactor: async (challenge) => {
          asked.push(challenge.mfaToken);
          return { recoveryCode: recoveryCodes[0]! };
        },
      },
    );
    expect(second.status).toBe("signedIn");
    expect(asked).toHaveLength(1);
    expect((await tablet.api.get("/api/v1/auth/me")).user.id).toBe(user.id);
  });

  it("shares one refresh among concurrent calls when the access token is about to expire", async () => {
    const { client, storage, count } = await signedUpClient(server.baseUrl, "expiry");
    const tokens = (await storage.load())!;
    // By this device's clock the token has expired: every call below needs a new one.
    await storage.save({ ...tokens, accessExpiresAt: Date.now() - 1 });
    const refreshed: number[] = [];
    client.auth.on("tokensRefreshed", ({ accessExpiresAt }) => refreshed.push(accessExpiresAt));
    const answers = await Promise.all([
      client.api.get("/api/v1/auth/me"),
      client.api.get("/api/v1/chats"),
      client.api.get("/api/v1/users/me"),
      client.api.get("/api/v1/auth/sessions"),
      client.api.get("/api/v1/chats/unread"),
    ]);
    expect(count(REFRESH)).toBe(1);
    expect(refreshed).toHaveLength(1);
    expect(answers[0].user.username).toMatch(/^cl_expiry_/);
    expect(answers[3].items.filter((s) => s.current)).toHaveLength(1);
    const after = (await storage.load())!;
    expect(after.refreshToken).not.toBe(tokens.refreshToken);
    expect(after.accessExpiresAt).toBeGreaterThan(Date.now() + 10 * 60_000);
    // The session survived the rotation: it refreshes again and answers.
    await client.auth.refresh();
    expect(count(REFRESH)).toBe(2);
    expect((await client.api.get("/api/v1/auth/me")).user.username).toBe(answers[0].user.username);
  });

  it("refreshes once and retries when the server refuses a token the client thought valid", async () => {
    const { client, storage, count } = await signedUpClient(server.baseUrl, "refused");
    const tokens = (await storage.load())!;
    await storage.save({ ...tokens, accessToken: `${tokens.accessToken.slice(0, -4)}AAAA` });
    const answers = await Promise.all([
      client.api.get("/api/v1/auth/me"),
      client.api.get("/api/v1/auth/me"),
      client.api.get("/api/v1/chats"),
    ]);
    expect(answers[0].user.id).toBe(answers[1].user.id);
    expect(count(REFRESH)).toBe(1);
    expect(count("GET /api/v1/auth/me")).toBe(4);
  });

  it("signs out when the server ends the session: reuse of a rotated refresh token", async () => {
    const { client, storage } = await signedUpClient(server.baseUrl, "reuse");
    const stolen = (await storage.load())!;
    const signedOut: string[] = [];
    client.auth.on("signedOut", ({ reason }) => signedOut.push(reason));
    // Someone else (a second tab refreshing on its own, a thief) rotates the refresh token first.
    const rotated = await fetch(`${server.baseUrl}/api/v1/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": "2001:db8:c4::1" },
      body: JSON.stringify({ refreshToken: stolen.refreshToken }),
    });
    expect(rotated.status).toBe(200);
    const failure = await client.auth.refresh().catch((e) => e);
    expect(failure).toBeInstanceOf(SignedOutError);
    expect(failure.reason).toBe("refresh_token_reused");
    expect(signedOut).toEqual(["refresh_token_reused"]);
    expect(await storage.load()).toBeNull();
    expect(await client.auth.accessToken()).toBeNull();
  });

  it("signs out: the server ends the session and the tokens are gone", async () => {
    const { client, storage } = await signedUpClient(server.baseUrl, "signout");
    const { refreshToken } = (await storage.load())!;
    const signedOut = client.auth.next("signedOut", { timeoutMs: 5000 });
    await client.auth.signOut();
    expect(await signedOut).toEqual({ reason: "signed_out" });
    expect(await storage.load()).toBeNull();
    const again = createClient({
      baseUrl: server.baseUrl,
      storage: memoryTokenStorage({ accessToken: "x", refreshToken, accessExpiresAt: 0 }),
    });
    await expect(again.auth.refresh()).rejects.toMatchObject({ name: "SignedOutError", reason: "session_revoked" });
  });

  it("uploads through tus-js-client with the helper, refreshing a token refused mid-upload", async () => {
    const { client, storage, count } = await signedUpClient(server.baseUrl, "upload");
    const bytes = randomBytes(300 * 1024);
    let chunks = 0;
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new Upload(bytes, {
        ...client.tusUploadOptions(
          { purpose: "attachment", filename: "notes.bin", filetype: "application/octet-stream" },
          { chunkSize: 128 * 1024 },
        ),
        onChunkComplete: () => {
          // After the first chunk the server stops taking the token (as if it expired mid-upload).
          const tokens = storage.load() as StoredTokens; // memory storage answers at once
          if (++chunks === 1) void storage.save({ ...tokens, accessToken: `${tokens.accessToken.slice(0, -4)}AAAA` });
        },
        onSuccess: () => resolve(upload.url!),
        onError: reject,
      });
      upload.start();
    });
    expect(count(REFRESH)).toBe(1);
    const { id, size, fileName, mimeType } = await client.api.get("/api/v1/media/{id}", { path: { id: mediaIdFromUploadUrl(url) } });
    expect({ id, size, fileName, mimeType }).toEqual({
      id: mediaIdFromUploadUrl(url),
      size: bytes.length,
      fileName: "notes.bin",
      mimeType: "application/octet-stream",
    });
  });
});
