import { encryptNotification } from "@block65/webcrypto-web-push";
import type { PushTarget } from "../hubs/push-targets";
import { type VapidKeys, vapidAuthorization } from "./vapid";

/**
 * One Web Push message (RFC 8030) to a browser's push service: the payload encrypted for the
 * subscription per RFC 8291 (`aes128gcm`, by @block65/webcrypto-web-push, padded to one 4 KiB
 * record so its length says nothing), with a VAPID `Authorization` (RFC 8292, vapid.ts).
 */

type WebPushTarget = Extract<PushTarget, { kind: "webpush" }>;

/** How the push service should treat the message. */
export interface DeliveryOptions {
  /** Seconds the push service keeps it for an offline browser. */
  ttl: number;
  urgency: "low" | "normal" | "high";
  /** A newer message with the same topic replaces an undelivered older one (≤ 32 base64url characters). */
  topic: string;
}

/** The request for `payload` to `target`; sent with `fetch(target.endpoint, init)`. */
export async function webPushRequest(
  target: WebPushTarget,
  payload: unknown,
  keys: VapidKeys,
  options: DeliveryOptions,
): Promise<RequestInit> {
  const subscription = { endpoint: target.endpoint, expirationTime: null, keys: { p256dh: target.p256dh, auth: target.auth } };
  const body = await encryptNotification(subscription, new TextEncoder().encode(JSON.stringify(payload)));
  return {
    method: "POST",
    headers: {
      authorization: await vapidAuthorization(target.endpoint, keys),
      "content-encoding": "aes128gcm",
      "content-type": "application/octet-stream",
      ttl: String(options.ttl),
      urgency: options.urgency,
      topic: options.topic,
    },
    body,
  };
}
