import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../env";
import { isDevelopment } from "../../lib/config";
import { errorResponses, json, jsonBody, newRouter, publicSecurity } from "../../lib/openapi";
import { rateLimitByIp } from "../../lib/rate-limit";
import { requestInfo } from "../../lib/request-info";
import { notifierFor } from "../../notify/notifier";
import { requireAuth } from "../middleware";
import { AuthResult, MfaRequired } from "../schemas";
import { firstFactorView } from "../sign-in";
import { CODE_TTL_MS } from "./codes";
import type { Deliver } from "./messages";
import * as s from "./schemas";
import { forgotPassword, resetPassword, sendAccountCode, sendVerifyCode, verifyContact, verifyLoginCode } from "./service";
import { verifySignupCode } from "./signup";

const tags = ["Auth"];
/** A login's answer; a signup's says whether the account was just made. */
const SignupResult = z
  .union([AuthResult.extend({ created: z.boolean().optional() }), MfaRequired.extend({ created: z.literal(false).optional() })])
  .openapi("OtpVerifyResult");
const app = newRouter();
// Proving an email or phone is for people: bot tokens get `403 bot_not_allowed`.
const auth = requireAuth({ allowBots: false });
/** Public for `purpose: "login"`, bearer token for `purpose: "verify"`. */
const optionalBearer: Record<string, string[]>[] = [{}, { bearerAuth: [] }];
/** Run the bearer check inside a handler, for routes where only some bodies need it. */
const requireSignedIn = (c: Context<AppEnv>) => auth(c, async () => {});
const accepted = (c: Context<AppEnv>) => c.json({ expiresIn: CODE_TTL_MS / 1000 }, 202);

/**
 * How a code message leaves. Deployed, the provider call runs after the answer (waitUntil), so
 * neither its latency nor its failure can reveal whether an account exists; failures are logged
 * (without the text). In development the answer waits, so the dev outbox already holds the message
 * when the 202 arrives.
 */
function deliverer(c: Context<AppEnv>): Deliver {
  return async (m) => {
    const sending = notifierFor(c.env)
      .send(m)
      .catch((err: unknown) =>
        console.error(
          JSON.stringify({
            level: "error",
            msg: "notification failed",
            channel: m.channel,
            kind: m.kind,
            requestId: c.var.requestId,
            error: String(err),
          }),
        ),
      );
    if (isDevelopment(c.env)) await sending;
    else c.executionCtx.waitUntil(sending);
  };
}

const CODE_RULES =
  "Codes are 6 digits, valid 5 minutes, single use, and die after 3 wrong tries. A new code replaces the previous one. " +
  "At most 3 codes per identifier per 15 minutes (`429 rate_limited` with `Retry-After`).";

app.openapi(
  createRoute({
    method: "post",
    path: "/otp/send",
    operationId: "sendOneTimeCode",
    tags,
    summary: "Send a one-time code by email or SMS",
    description:
      '`purpose: "login"` (public) sends a passwordless sign-in code to an account\'s **verified** email or phone. ' +
      'The answer is `202` whether or not such an account exists. `purpose: "signup"` (public) sends a code to any ' +
      "email or phone: redeemed, it creates an account with that address verified, or signs in to the account that has " +
      'it (same answer, same message either way). `purpose: "verify"` (bearer token) sends a code ' +
      "that proves the caller's own email or phone (`400 not_your_identifier` for any other). The channel must fit " +
      "the identifier: `email` for an email address, `sms` for an E.164 phone (`400 channel_mismatch`). " +
      CODE_RULES,
    security: optionalBearer,
    middleware: [rateLimitByIp("otp-send:ip")] as const,
    request: { body: jsonBody(s.OtpSendBody) },
    responses: {
      202: json(s.CodeAccepted, "Accepted; a code is on its way if the identifier can receive one"),
      ...errorResponses(400, 401, 403, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    if (body.purpose === "verify") {
      await requireSignedIn(c);
      await sendVerifyCode(c.var.db, c.env, c.var.auth.userId, body, deliverer(c));
    } else {
      await sendAccountCode(c.var.db, c.env, body.purpose, body, deliverer(c));
    }
    return accepted(c);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/otp/verify",
    operationId: "verifyOneTimeCode",
    tags,
    summary: "Redeem a one-time code: sign in, or verify my email/phone",
    description:
      '`purpose: "login"` (public) signs in like a password login: `{user, tokens, session, newDevice}`, or ' +
      '`{mfaRequired, mfaToken}` when 2FA is on. `purpose: "signup"` (public) signs in the same way, creating the ' +
      "account first when the address has none (`created: true`; username generated, no password until set-password). A deactivated account answers " +
      "`403 account_deactivated` unless `reactivate: true` (login and signup), which switches it on again. " +
      '`purpose: "verify"` (bearer token) marks the caller\'s email or ' +
      "phone verified → 204; with the right code for an address another account has already verified it answers " +
      "`409 email_taken` / `phone_taken` (only then: an address is unique among verified ones only). A wrong, " +
      "expired, used or dead code answers `400 invalid_code`; while the code is still alive `details.attemptsLeft` " +
      "says how many tries remain.",
    security: optionalBearer,
    middleware: [rateLimitByIp("otp-verify:ip")] as const,
    request: { body: jsonBody(s.OtpVerifyBody) },
    responses: {
      200: json(SignupResult, "Signed in (login, signup), or the 2FA challenge; `created` for signup"),
      204: { description: "Email or phone verified (verify)" },
      ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    if (body.purpose === "verify") {
      await requireSignedIn(c);
      await verifyContact(c.var.db, c.var.auth.userId, body, requestInfo(c));
      return c.body(null, 204);
    }
    if (body.purpose === "signup") {
      const { result, created } = await verifySignupCode(c.var.db, c.env, body, requestInfo(c));
      return c.json({ ...firstFactorView(result), created }, 200);
    }
    const result = await verifyLoginCode(c.var.db, c.env, body, requestInfo(c));
    return c.json(firstFactorView(result), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/forgot-password",
    operationId: "forgotPassword",
    tags,
    summary: "Send a password reset code",
    description:
      "Sends a reset code to the account's verified email or phone: the one the identifier names, or for a username " +
      "the verified email, else the verified phone. Always `202`, also for unknown accounts or ones without a " +
      `verified destination (then nothing is sent). ${CODE_RULES}`,
    security: publicSecurity,
    middleware: [rateLimitByIp("forgot-password:ip")] as const,
    request: { body: jsonBody(s.ForgotPasswordBody) },
    responses: {
      202: json(s.CodeAccepted, "Accepted; a code is on its way if the account has a verified email or phone"),
      ...errorResponses(400, 413, 415, 429),
    },
  }),
  async (c) => {
    await forgotPassword(c.var.db, c.req.valid("json").identifier, deliverer(c));
    return accepted(c);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/reset-password",
    operationId: "resetPassword",
    tags,
    summary: "Set a new password with a reset code; every session ends",
    description:
      "`identifier` must be the one given to forgot-password. The new password follows the register policy " +
      "(`400 weak_password`; a weak password does not use up the code). Success ends every session, clears the " +
      "failed-login lockout and records a `password_reset` security event. Bad codes answer `400 invalid_code`.",
    security: publicSecurity,
    middleware: [rateLimitByIp("reset-password:ip")] as const,
    request: { body: jsonBody(s.ResetPasswordBody) },
    responses: { 204: { description: "Password changed; sign in again" }, ...errorResponses(400, 413, 415, 429) },
  }),
  async (c) => {
    await resetPassword(c.var.db, c.env, c.req.valid("json"), requestInfo(c));
    return c.body(null, 204);
  },
);

export default app;
