import { z } from "@hono/zod-openapi";
import { DeviceId, DeviceName, NewPassword } from "../schemas";

export const Identifier = z
  .string()
  .trim()
  .min(1)
  .max(254)
  .openapi({ description: "Email address or E.164 phone number (`+14155550100`)", example: "alice@example.com" });

/** Six digits; spaces and dashes people type between them are dropped. */
export const Code = z
  .string()
  .max(32)
  .transform((s) => s.replace(/[\s-]/g, ""))
  .pipe(z.string().regex(/^\d{6}$/, "code must be 6 digits"))
  .openapi({ example: "123456", description: "The 6-digit code from the message" });

export const Channel = z.enum(["email", "sms"]).openapi({ description: "`email` for an email identifier, `sms` for a phone" });

export const OtpSendBody = z
  .strictObject({
    identifier: Identifier,
    channel: Channel,
    purpose: z.enum(["login", "verify", "signup"]).openapi({
      description:
        "`login`: passwordless sign-in (public). `verify`: prove the caller's own email or phone (bearer token). " +
        "`signup`: sign up with this email or phone, or sign in if it already has an account (public)",
    }),
  })
  .openapi("OtpSendRequest");

/** As on password sign-in: a deactivated account is switched on again by this sign-in. */
const Reactivate = z.boolean().optional().openapi({
  description: "A deactivated account answers `403 account_deactivated` unless this is true: then the sign-in reactivates it",
});

const OtpLoginVerify = z
  .strictObject({
    purpose: z.literal("login"),
    identifier: Identifier,
    code: Code,
    deviceId: DeviceId.optional(),
    deviceName: DeviceName.optional(),
    reactivate: Reactivate,
  })
  .openapi("OtpLoginVerifyRequest");

const OtpSignupVerify = z
  .strictObject({
    purpose: z.literal("signup"),
    identifier: Identifier,
    code: Code,
    deviceId: DeviceId.optional(),
    deviceName: DeviceName.optional(),
    reactivate: Reactivate,
  })
  .openapi("OtpSignupVerifyRequest");

const OtpContactVerify = z
  .strictObject({ purpose: z.literal("verify"), identifier: Identifier, code: Code })
  .openapi("OtpContactVerifyRequest");

export const OtpVerifyBody = z
  .discriminatedUnion("purpose", [OtpLoginVerify, OtpSignupVerify, OtpContactVerify])
  .openapi("OtpVerifyRequest");

export const ForgotPasswordBody = z
  .strictObject({
    identifier: z.string().trim().min(1).max(254).openapi({ description: "Username, email or E.164 phone" }),
  })
  .openapi("ForgotPasswordRequest");

export const ResetPasswordBody = z
  .strictObject({
    identifier: z.string().trim().min(1).max(254).openapi({ description: "The same identifier given to forgot-password" }),
    code: Code,
    newPassword: NewPassword,
  })
  .openapi("ResetPasswordRequest");

export const CodeAccepted = z
  .object({
    expiresIn: z.number().openapi({ description: "Lifetime of a code in seconds (300)", example: 300 }),
  })
  .openapi("CodeAccepted");
