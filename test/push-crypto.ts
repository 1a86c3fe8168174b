import { expect } from "vitest";
import { concat } from "./keys-helpers";

/**
 * The browser's side of Web Push, written from the RFCs with WebCrypto only (independent of the
 * server's library): a subscription's keys, RFC 8291/8188 `aes128gcm` decryption with them, and
 * the RFC 8292 VAPID header's ES256 signature checked against the server's public key.
 */

const te = new TextEncoder();
export const b64u = (b: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(b)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
export const fromB64u = (s: string) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
async function hkdf(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, bytes: number) {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
}

/** A browser subscription's keys: an ECDH P-256 pair and a 16-byte auth secret. */
export interface SubscriptionKeys {
  privateKey: CryptoKey;
  publicRaw: Uint8Array;
  auth: Uint8Array;
  /** As `PushSubscription.toJSON().keys`. */
  json: { p256dh: string; auth: string };
}

export async function subscriptionKeys(): Promise<SubscriptionKeys> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const publicRaw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const auth = crypto.getRandomValues(new Uint8Array(16));
  return { privateKey: pair.privateKey, publicRaw, auth, json: { p256dh: b64u(publicRaw), auth: b64u(auth) } };
}

/** Decrypt an `aes128gcm` push body (one record) as the browser would; answers the parsed JSON. */
export async function decryptPush(body: Uint8Array, keys: SubscriptionKeys): Promise<any> {
  const salt = body.slice(0, 16);
  const recordSize = new DataView(body.buffer, body.byteOffset).getUint32(16);
  const idLength = body[20]!;
  const senderPublic = body.slice(21, 21 + idLength);
  const ciphertext = body.slice(21 + idLength);
  expect(idLength).toBe(65);
  expect(ciphertext.length).toBeLessThanOrEqual(recordSize);
  const sender = await crypto.subtle.importKey("raw", senderPublic, { name: "ECDH", namedCurve: "P-256" }, false, []);
  // workers-types name the ECDH parameter `$public`; the runtime reads `public`.
  const params = { name: "ECDH", public: sender } as unknown as SubtleCryptoDeriveKeyAlgorithm;
  const shared = new Uint8Array(await crypto.subtle.deriveBits(params, keys.privateKey, 256));
  const ikm = await hkdf(keys.auth, shared, concat(te.encode("WebPush: info\0"), keys.publicRaw, senderPublic), 32);
  const cek = await hkdf(salt, ikm, te.encode("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, te.encode("Content-Encoding: nonce\0"), 12);
  const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
  const padded = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, ciphertext));
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  expect(padded[end]).toBe(2); // the last record's delimiter
  return JSON.parse(new TextDecoder().decode(padded.slice(0, end)));
}

/** Check `vapid t=…, k=…` (RFC 8292): k is the server's key, the JWT is ES256-signed by it for `audience`. Answers the claims. */
export async function verifyVapid(authorization: string, serverPublicKey: string, audience: string): Promise<Record<string, unknown>> {
  const match = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(authorization);
  expect(match, authorization).not.toBeNull();
  const [, header, claims, signature, k] = match!;
  expect(k).toBe(serverPublicKey);
  expect(JSON.parse(new TextDecoder().decode(fromB64u(header!)))).toMatchObject({ alg: "ES256" });
  const key = await crypto.subtle.importKey("raw", fromB64u(k!), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, fromB64u(signature!), te.encode(`${header}.${claims}`));
  expect(valid).toBe(true);
  const payload = JSON.parse(new TextDecoder().decode(fromB64u(claims!))) as Record<string, unknown>;
  expect(payload.aud).toBe(audience);
  expect(payload.exp as number).toBeLessThanOrEqual(Date.now() / 1000 + 24 * 3600);
  return payload;
}
