import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { errorResponses, json, jsonBody, newRouter, userSecurity } from "../lib/openapi";
import { enforceRateLimit } from "../lib/rate-limit";
import { fetchBundles, listKeyDevices } from "./bundles";
import { EcKey, SignedEcKey, SignedKyberKey, UploadKeysBody } from "./formats";
import { countKeys, rotateSignedPreKey, uploadKeys } from "./service";

/** The key server, mounted at /api/v1/keys (Signal-compatible formats: see formats.ts). */
const tags = ["Keys"];
// Sessions, passwords, 2FA, devices, keys and push targets belong to people: bot tokens get `403 bot_not_allowed`.
const auth = requireAuth({ allowBots: false });
const app = newRouter();

const UserParam = z.object({ userId: z.uuid().openapi({ param: { name: "userId", in: "path" } }) });
const BundleParams = UserParam.extend({
  deviceId: z
    .union([z.literal("*"), z.coerce.number().int().min(1).max(1_000_000)])
    .openapi({ param: { name: "deviceId", in: "path" }, description: "A device number, or * for every device" }),
});
const DeviceBundle = z
  .object({
    deviceId: z.number().int(),
    registrationId: z.number().int(),
    signedPreKey: SignedEcKey,
    preKey: EcKey.nullable().openapi({ description: "One one-time prekey, now used up; null when none are left" }),
    pqPreKey: SignedKyberKey.openapi({ description: "A one-time Kyber prekey while any remain, else the last-resort one" }),
  })
  .openapi("DeviceBundle");

app.openapi(
  createRoute({
    method: "put",
    path: "/",
    operationId: "uploadKeys",
    tags,
    summary: "Upload my device's keys",
    description:
      "Keys as libsignal serializes them, base64 with padding. The first upload from a device needs `signedPreKey` and " +
      "`pqLastResortPreKey` (`422 missing_key`) and gives the device its number. Every key's length and type byte, and every " +
      "signature (XEdDSA by the identity key over the key's full bytes) are checked first: `422 invalid_key` / " +
      "`invalid_signature` with `details.key` naming the first that failed, and nothing is stored. Uploaded one-time keys " +
      "replace the device's stored ones of that kind. Another identity key than the account's is `409 identity_key_changed` " +
      "unless `resetIdentity: true` (a reinstall): then every device's keys go, this device starts over with the upload (it " +
      "must carry `signedPreKey` and `pqLastResortPreKey`), and each direct-chat partner gets an `identity_changed` system message.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(UploadKeysBody) },
    responses: { 200: json(z.object({ deviceId: z.number().int() })), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 503) },
  }),
  async (c) => c.json(await uploadKeys(c.var.db, c.env, c.var.auth, c.req.valid("json")), 200),
);

app.openapi(
  createRoute({
    method: "put",
    path: "/signed",
    operationId: "rotateSignedPreKey",
    tags,
    summary: "Rotate my device's signed prekey",
    description:
      "Checked like an upload's: 33 bytes with type 0x05 (`422 invalid_key`), signed by the account's identity key " +
      "(`422 invalid_signature`). A device that never uploaded keys: 404.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(SignedEcKey) },
    responses: { 204: { description: "Rotated" }, ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503) },
  }),
  async (c) => {
    await rotateSignedPreKey(c.var.db, c.var.auth, c.req.valid("json"));
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/count",
    operationId: "countKeys",
    tags,
    summary: "How many one-time prekeys my device has left",
    security: userSecurity,
    middleware: [auth] as const,
    responses: { 200: json(z.object({ count: z.number().int(), pqCount: z.number().int() })), ...errorResponses(401, 403, 503) },
  }),
  async (c) => c.json(await countKeys(c.var.db, c.var.auth), 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{userId}/devices",
    operationId: "listKeyDevices",
    tags,
    summary: "An account's devices that have keys",
    description: "404 for an account without keys, not active, or blocked either way.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: UserParam },
    responses: { 200: json(z.object({ devices: z.array(z.number().int()) })), ...errorResponses(400, 401, 403, 404, 503) },
  }),
  async (c) => c.json({ devices: await listKeyDevices(c.var.db, c.var.auth.userId, c.req.valid("param").userId) }, 200),
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{userId}/{deviceId}",
    operationId: "fetchKeyBundles",
    tags,
    summary: "Prekey bundles to start sessions with an account's devices",
    description:
      "Takes one one-time prekey per device (never handed out twice) and one Kyber prekey (a one-time one while any remain, " +
      "then the last-resort one). 404 for an account without keys, not active, blocked either way, or an unknown device. " +
      "Rate limits: 120 fetches a minute per requester and 60 a minute per account fetched (prekey exhaustion).",
    security: userSecurity,
    middleware: [auth] as const,
    request: { params: BundleParams },
    responses: {
      200: json(z.object({ identityKey: z.string(), devices: z.array(DeviceBundle) }).openapi("KeyBundles")),
      ...errorResponses(400, 401, 403, 404, 429, 503),
    },
  }),
  async (c) => {
    const { userId, deviceId } = c.req.valid("param");
    await enforceRateLimit(c, "keys-fetch:user", c.var.auth.userId);
    await enforceRateLimit(c, "keys-fetch:target", userId);
    return c.json(await fetchBundles(c.var.db, c.var.auth.userId, userId, deviceId), 200);
  },
);

export default app;
