import { createRoute } from "@hono/zod-openapi";
import { errorResponses, json, jsonBody, newRouter, noContent, publicSecurity, userSecurity } from "../../lib/openapi";
import { enforceRateLimit, rateLimitByIp } from "../../lib/rate-limit";
import { requestInfo } from "../../lib/request-info";
import { requireAuth } from "../middleware";
import { AuthResult } from "../schemas";
import { signedInView } from "../sign-in";
import * as s from "./schemas";
import { disableTwoFactor, enableTwoFactor, setupTwoFactor, verifySecondFactor } from "./service";

/** TOTP two-factor authentication (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step), under /api/v1/auth. */
const tags = ["Two-factor authentication"];
// Sessions, passwords, 2FA, devices, keys and push targets belong to people: bot tokens get `403 bot_not_allowed`.
const auth = requireAuth({ allowBots: false });
const app = newRouter();

app.openapi(
  createRoute({
    method: "post",
    path: "/2fa/setup",
    operationId: "setupTwoFactor",
    tags,
    summary: "Start 2FA setup: a new TOTP secret, its otpauth URL and QR code",
    description:
      "Makes a 160-bit secret and stores it as pending (a new setup replaces an unconfirmed one). Add it to an " +
      "authenticator app by scanning `qrSvg` or entering `secret`, then confirm with POST /auth/2fa/enable. " +
      "`409 two_factor_already_enabled` when 2FA is on. Rate limit: 10 setup/enable/disable calls per 15 minutes per user.",
    security: userSecurity,
    middleware: [auth] as const,
    responses: { 200: json(s.SetupResult, "The pending secret"), ...errorResponses(401, 403, 409, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "mfa-setup:user", c.var.auth.userId);
    c.header("Cache-Control", "no-store");
    return c.json(await setupTwoFactor(c.var.db, c.env, c.var.auth.userId), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/2fa/enable",
    operationId: "enableTwoFactor",
    tags,
    summary: "Turn 2FA on by confirming a current code; returns 10 recovery codes",
    description:
      "The code must come from the pending secret of POST /auth/2fa/setup (`400 two_factor_not_set_up` without one, " +
      "`400 invalid_code` when wrong). From now on sign-ins answer `{mfaRequired: true, mfaToken}`. The 10 single-use " +
      "recovery codes are shown only in this answer.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.EnableBody) },
    responses: { 200: json(s.EnableResult, "2FA is on"), ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "mfa-setup:user", c.var.auth.userId);
    c.header("Cache-Control", "no-store");
    return c.json(await enableTwoFactor(c.var.db, c.var.auth.userId, c.req.valid("json").code, requestInfo(c)), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/2fa/verify",
    operationId: "verifyTwoFactor",
    tags,
    summary: "Finish a sign-in with a TOTP code or a recovery code",
    description:
      "Send the `mfaToken` from login with exactly one of `code` (current TOTP code; each code works once) or " +
      "`recoveryCode` (single use). `401 invalid_mfa_token` when the token is unknown, expired (5 minutes) or used; " +
      "`400 invalid_code` when the code is wrong, expired or replayed. Wrong codes count toward the account lockout: " +
      "past 5 failures in 15 minutes, `429 too_many_attempts`. A login with `reactivate: true` of a deactivated account " +
      "reactivates it here, once the code is right (without it: `403 account_deactivated`).",
    security: publicSecurity,
    middleware: [rateLimitByIp("mfa:ip")] as const,
    request: { body: jsonBody(s.VerifyBody) },
    responses: { 200: json(AuthResult, "Signed in"), ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503) },
  }),
  async (c) => {
    const result = await verifySecondFactor(c.var.db, c.env, c.req.valid("json"), requestInfo(c));
    return c.json(signedInView(result), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/2fa/disable",
    operationId: "disableTwoFactor",
    tags,
    summary: "Turn 2FA off with the password and a current code (or a recovery code)",
    description:
      "`403 invalid_password` for a wrong password, `400 invalid_code` for a wrong code, both counted toward the " +
      "account lockout; `400 two_factor_not_enabled` when 2FA is off. Deletes the secret and the recovery codes.",
    security: userSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.DisableBody) },
    responses: { ...noContent, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
  }),
  async (c) => {
    await enforceRateLimit(c, "mfa-setup:user", c.var.auth.userId);
    await disableTwoFactor(c.var.db, c.env, c.var.auth.userId, c.req.valid("json"), requestInfo(c));
    return c.body(null, 204);
  },
);

export default app;
