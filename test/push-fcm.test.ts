import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../src/env";
import type { PushJob } from "../src/hubs/notifications";
import { deliver } from "../src/push/consumer";
import { createDirect } from "./chat-helpers";
import { signUp } from "./helpers";
import { fromB64u } from "./push-crypto";

/**
 * FCM HTTP v1 from the consumer's side: the OAuth token minted from a service account (a JWT
 * bearer grant, RS256, checked here with WebCrypto against the account's public key) and cached,
 * the data-only message, and what FCM's answers mean (404: gone, 401: a new token and a retry).
 */

afterEach(() => {
  vi.restoreAllMocks();
});

const pem = (der: ArrayBuffer) =>
  `-----BEGIN PRIVATE KEY-----\n${btoa(String.fromCharCode(...new Uint8Array(der)))
    .match(/.{1,64}/g)!
    .join("\n")}\n-----END PRIVATE KEY-----\n`;

async function serviceAccount() {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const account = {
    type: "service_account",
    project_id: "demo-project",
    client_email: `push-${crypto.randomUUID()}@demo-project.iam.gserviceaccount.com`,
    private_key: pem((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer),
    token_uri: "https://oauth2.example.test/token",
  };
  return { account, publicKey: pair.publicKey };
}

const job = (user: { id: string; sessionId: string }, chatId: string): PushJob => ({
  userId: user.id,
  target: {
    kind: "fcm",
    token: "fcm-registration-token-0123456789",
    id: crypto.randomUUID(),
    sessionId: user.sessionId,
    createdAt: Date.now(),
  },
  chatId,
  chatType: "direct",
  seq: 7,
  count: 2,
  mention: false,
  encrypted: false,
  senderId: null,
  text: null,
  createdAt: Date.now(),
});

describe("FCM", () => {
  it("mints a token with the service account, caches it, sends a data-only message, and reads 404 as gone and 401 as retry", async () => {
    const { account, publicKey } = await serviceAccount();
    const fcmEnv = { ...env, FCM_SERVICE_ACCOUNT: JSON.stringify(account) } as Bindings;
    // The consumer checks the membership in D1.
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(a, b);

    const calls: { url: string; body: string; auth: string | null }[] = [];
    let fcmStatus = 200;
    let tokens = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input, init);
      const body = new TextDecoder().decode(await request.arrayBuffer());
      calls.push({ url: request.url, body, auth: request.headers.get("authorization") });
      if (request.url === account.token_uri) return Response.json({ access_token: `ya29.token-${++tokens}`, expires_in: 3599 });
      return new Response(fcmStatus === 200 ? '{"name":"projects/demo-project/messages/1"}' : "{}", { status: fcmStatus });
    });

    expect(await deliver(fcmEnv, job(b, chat.id))).toEqual({ kind: "sent" });
    const [grant, send] = calls;
    const form = new URLSearchParams(grant!.body);
    expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
    const [header, claims, signature] = form.get("assertion")!.split(".");
    expect(
      await crypto.subtle.verify("RSASSA-PKCS1-v1_5", publicKey, fromB64u(signature!), new TextEncoder().encode(`${header}.${claims}`)),
    ).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(fromB64u(claims!)))).toMatchObject({
      iss: account.client_email,
      aud: account.token_uri,
      scope: "https://www.googleapis.com/auth/firebase.messaging",
    });
    expect(send!.url).toBe("https://fcm.googleapis.com/v1/projects/demo-project/messages:send");
    expect(send!.auth).toBe("Bearer ya29.token-1");
    const message = JSON.parse(send!.body).message;
    expect(message.token).toBe("fcm-registration-token-0123456789");
    expect(message.data).toEqual({ type: "message", chatId: chat.id, seq: "7", count: "2", mention: "false", chatType: "direct" });
    expect(message.android.priority).toBe("HIGH");
    // iOS gets an alert its notification service extension fills in, never a throttled background push.
    expect(message.apns).toMatchObject({
      headers: { "apns-push-type": "alert", "apns-priority": "10" },
      payload: { aps: { "mutable-content": 1, "thread-id": chat.id, alert: { "loc-key": "NEW_MESSAGE", "loc-args": ["2"] } } },
    });

    // The token is reused; FCM's 404 (unregistered) prunes; its 401 drops the token and retries.
    fcmStatus = 404;
    expect(await deliver(fcmEnv, job(b, chat.id))).toEqual({ kind: "gone", why: "HTTP 404" });
    expect(tokens).toBe(1);
    fcmStatus = 401;
    expect((await deliver(fcmEnv, job(b, chat.id))).kind).toBe("retry");
    fcmStatus = 200;
    // Jobs that need a token at once share one request for it.
    const both = await Promise.all([deliver(fcmEnv, job(b, chat.id)), deliver(fcmEnv, job(b, chat.id))]);
    expect(both).toEqual([{ kind: "sent" }, { kind: "sent" }]);
    expect(tokens).toBe(2);
    expect(calls.at(-1)!.auth).toBe("Bearer ya29.token-2");
  });
});
