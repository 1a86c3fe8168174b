/**
 * Webhook signatures in the Standard Webhooks format (standardwebhooks.com), so receivers can
 * verify with any of its libraries: headers `webhook-id` (the event id, the same on every retry),
 * `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>`
 * over `<id>.<timestamp>.<body>`, keyed with the endpoint secret (`whsec_` + base64 bytes).
 * Receivers should refuse timestamps more than 5 minutes away (replays).
 */

const PREFIX = "whsec_";

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** A new endpoint secret: 24 random bytes. */
export function newWebhookSecret(): string {
  return PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(24)));
}

/** The three headers of one delivery attempt of `body` (already serialized) for event `id`. */
export async function signedHeaders(secret: string, id: string, body: string, at = Date.now()): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(at / 1000));
  const keyBytes = Uint8Array.from(atob(secret.slice(PREFIX.length)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${toBase64(new Uint8Array(mac))}` };
}
