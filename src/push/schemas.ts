import { z } from "@hono/zod-openapi";
import { base64urlBytes, isP256PublicKey } from "./vapid";

/** A browser's `PushSubscription.toJSON()`. */
const WebPushSubscription = z
  .object({
    endpoint: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .openapi({ example: "https://fcm.googleapis.com/fcm/send/dXk2Zx0Yq1" }),
    expirationTime: z.number().nullable().optional(),
    keys: z.object({
      p256dh: z.string().max(128).refine(isP256PublicKey, "must be a base64url uncompressed P-256 public key (65 bytes)"),
      auth: z
        .string()
        .max(64)
        .refine((v) => base64urlBytes(v)?.length === 16, "must be 16 bytes, base64url"),
    }),
  })
  .openapi("WebPushSubscription");

export const PushTargetBody = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("webpush"), subscription: WebPushSubscription }),
    z.object({
      kind: z.literal("fcm"),
      token: z
        .string()
        .min(20)
        .max(4096)
        .regex(/^[\w:.-]+$/, "must be an FCM registration token"),
    }),
  ])
  .openapi("PushTargetBody", {
    description: "A Web Push subscription (https endpoint; in development also http on 127.0.0.1/localhost) or an FCM registration token.",
  });

export const PushTarget = z
  .object({
    id: z.uuid(),
    kind: z.enum(["webpush", "fcm"]),
    endpoint: z.string().optional().openapi({ description: "Web Push: the subscription's endpoint" }),
    tokenSuffix: z.string().optional().openapi({ description: "FCM: the last 6 characters of the registration token" }),
    sessionId: z.string().openapi({ description: "The session (device) it notifies; it goes when that session ends" }),
    current: z.boolean().openapi({ description: "Registered by the session making this request" }),
    createdAt: z.string(),
  })
  .openapi("PushTarget");

export const TargetIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
