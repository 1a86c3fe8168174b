import { z } from "@hono/zod-openapi";
import { PASSWORD_MAX } from "../password-strength";
import { TOTP_DIGITS } from "./totp";

/** A 6-digit code from the authenticator app; spaces (as apps show "123 456") are ignored. */
export const TotpCode = z
  .string()
  .max(16)
  .transform((s) => s.replace(/\s/g, ""))
  .pipe(z.string().regex(new RegExp(`^\\d{${TOTP_DIGITS}}$`), `code must be ${TOTP_DIGITS} digits`))
  .openapi({ example: "123456", description: "The current 6-digit code from the authenticator app" });

export const RecoveryCode = z
  .string()
  .trim()
  .min(10)
  .max(32)
  .openapi({ example: "7q2m-xk4d-9h", description: "One of the recovery codes given when 2FA was enabled (single use)" });

const MfaToken = z.string().min(1).max(256).openapi({ description: "The `mfaToken` that login answered with" });

/** Exactly one of `code` and `recoveryCode`. */
function oneSecondFactor(v: { code?: string; recoveryCode?: string }, ctx: z.RefinementCtx) {
  if ((v.code === undefined) === (v.recoveryCode === undefined)) {
    ctx.addIssue({ code: "custom", path: ["code"], message: "Send exactly one of code and recoveryCode" });
  }
}

export const SetupResult = z
  .object({
    secret: z
      .string()
      .openapi({ description: "The new 160-bit secret, base32 (for manual entry)", example: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" }),
    otpauthUrl: z.string().openapi({
      example:
        "otpauth://totp/Edge%20Messenger:alice?issuer=Edge%20Messenger&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30",
    }),
    qrSvg: z.string().openapi({ description: "The otpauth URL as a QR code (SVG markup)" }),
  })
  .openapi("TwoFactorSetup");

export const EnableBody = z.strictObject({ code: TotpCode }).openapi("TwoFactorEnableRequest");

export const EnableResult = z
  .object({
    recoveryCodes: z
      .array(z.string())
      .length(10)
      .openapi({ description: "10 single-use recovery codes; shown only now, stored only as hashes" }),
  })
  .openapi("TwoFactorEnabled");

export const VerifyBody = z
  .strictObject({ mfaToken: MfaToken, code: TotpCode.optional(), recoveryCode: RecoveryCode.optional() })
  .superRefine(oneSecondFactor)
  .openapi("TwoFactorVerifyRequest", { description: "`mfaToken` with exactly one of `code` and `recoveryCode`" });

export const DisableBody = z
  .strictObject({ password: z.string().min(1).max(PASSWORD_MAX), code: TotpCode.optional(), recoveryCode: RecoveryCode.optional() })
  .superRefine(oneSecondFactor)
  .openapi("TwoFactorDisableRequest", { description: "The password with exactly one of `code` and `recoveryCode`" });
