import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { noSuchRoute } from "../lib/errors";
import { errorResponses, json, jsonBody, newRouter, publicSecurity } from "../lib/openapi";
import { rateLimitByIp } from "../lib/rate-limit";
import { requestInfo } from "../lib/request-info";
import { guestSignupEnabled, signUpGuest } from "./guests";
import { AuthResult, DeviceId, DeviceName } from "./schemas";
import { signedInView } from "./sign-in";

/** POST /api/v1/auth/guest: anonymous guest accounts, where the deployment opened them (GUEST_SIGNUP). */
const app = newRouter();

const GuestBody = z
  .strictObject({
    displayName: z.string().trim().min(1).max(64).optional().openapi({ description: 'Default "Guest"' }),
    deviceId: DeviceId.optional(),
    deviceName: DeviceName.optional(),
  })
  .openapi("GuestSignupRequest");

/** Turned off, the route answers exactly like one that does not exist: before the rate limit and the body are looked at. */
const guestSignupOn: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!guestSignupEnabled(c.env)) throw noSuchRoute();
  await next();
};

app.openapi(
  createRoute({
    method: "post",
    path: "/guest",
    operationId: "signUpGuest",
    tags: ["Auth"],
    summary: "Start as a guest: an account with no password or address",
    description:
      'Only where the deployment set `GUEST_SIGNUP` to "on"; elsewhere `404 not_found`, like an unknown route. Makes a ' +
      'guest (`kind: "guest"`, a generated username, no password) and signs it in. A guest uses the app like anyone ' +
      "else but cannot create channels or public groups (`403 guest_not_allowed`); it becomes `regular`, keeping " +
      "everything, once it sets a password (`POST /auth/set-password`) or verifies an email or phone; unseen for 30 days " +
      "it is erased like a deleted account. 10 an hour per IP.",
    security: publicSecurity,
    middleware: [guestSignupOn, rateLimitByIp("guest:ip")] as const,
    request: { body: jsonBody(GuestBody) },
    responses: {
      201: json(AuthResult, "Guest account created and signed in"),
      ...errorResponses(400, 404, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    const result = await signUpGuest(c.var.db, c.env, c.req.valid("json"), requestInfo(c));
    return c.json(signedInView(result), 201);
  },
);

export default app;
