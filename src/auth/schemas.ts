import { z } from "@hono/zod-openapi";
import { ACCOUNT_KINDS } from "../db/schema";
import { E164_RE, normalizeEmail, normalizePhone, normalizeUsername, USERNAME_RE } from "./identifiers";
import { PASSWORD_MAX, PASSWORD_MIN } from "./password-strength";

export const Username = z
  .string()
  .max(64)
  .transform(normalizeUsername)
  .pipe(z.string().regex(USERNAME_RE, "Username must be 3–32 characters of a–z, 0–9 and _"))
  .openapi({ example: "alice_01", description: "3–32 of [a-z0-9_]; input is lower-cased" });

export const Email = z
  .string()
  .max(254)
  .transform(normalizeEmail)
  .pipe(z.email("Not a valid email address"))
  .openapi({ example: "alice@example.com" });

export const Phone = z
  .string()
  .max(32)
  .transform(normalizePhone)
  .pipe(z.string().regex(E164_RE, "Phone must be in E.164 form, e.g. +14155550100"))
  .openapi({ example: "+14155550100" });

export const NewPassword = z
  .string()
  .min(PASSWORD_MIN, `Password must be at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `Password must be at most ${PASSWORD_MAX} characters`)
  .openapi({ description: "8–128 characters, not common or easily guessed", example: "violet-harbor-73-lantern" });

const AnyPassword = z.string().min(1).max(PASSWORD_MAX);

export const DeviceId = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, "deviceId may hold letters, digits and . _ : -")
  .openapi({ description: "A stable id the client keeps per device; generated when omitted" });
export const DeviceName = z.string().trim().min(1).max(64).openapi({ example: "Alice's iPhone" });

export const RegisterBody = z
  .strictObject({
    username: Username,
    password: NewPassword,
    email: Email.optional().openapi({
      description:
        "Stored unverified; it becomes the account's (sign-in, codes, reset, contact sync) once verified. Never answered with a conflict",
    }),
    phone: Phone.optional().openapi({ description: "E.164; stored unverified, like `email`" }),
    displayName: z.string().trim().min(1).max(64).optional(),
    deviceId: DeviceId.optional(),
    deviceName: DeviceName.optional(),
    referredBy: z.string().trim().min(1).max(32).optional().openapi({
      description: "Another account's referral code (case-insensitive); an unknown code is `400 invalid_referral_code`",
      example: "7Q2MXK4D",
    }),
  })
  .openapi("RegisterRequest");

export const LoginBody = z
  .strictObject({
    identifier: z.string().trim().min(1).max(254).openapi({ description: "Username, or a verified email or E.164 phone" }),
    password: AnyPassword,
    deviceId: DeviceId.optional(),
    deviceName: DeviceName.optional(),
    reactivate: z
      .boolean()
      .optional()
      .openapi({
        description:
          "true: if the account is deactivated, reactivate it with this sign-in (after the second factor when 2FA is on); " +
          "without it a deactivated account answers `403 account_deactivated`",
      }),
  })
  .openapi("LoginRequest");

export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(256) }).openapi("RefreshRequest");

export const ChangePasswordBody = z
  .strictObject({ currentPassword: AnyPassword, newPassword: NewPassword })
  .openapi("ChangePasswordRequest");

export const SetPasswordBody = z.strictObject({ newPassword: NewPassword }).openapi("SetPasswordRequest");

export const SessionIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });

export const AccountKind = z.enum(ACCOUNT_KINDS).openapi("AccountKind", {
  description:
    "`regular`: a full account. `guest`: made without a password or address (POST /auth/guest, or by the app's backend); " +
    "cannot create channels or public groups, becomes `regular` with a password or a verified email/phone, and is erased " +
    "after 30 days unseen. `bot`: driven by a program with a bot token (`Authorization: Bot …`); badge it in clients",
});

export const User = z
  .object({
    id: z.string(),
    username: z.string(),
    displayName: z.string(),
    kind: AccountKind,
    email: z.string().nullable(),
    emailVerified: z.boolean(),
    phone: z.string().nullable(),
    phoneVerified: z.boolean(),
    twoFactorEnabled: z.boolean().openapi({ description: "TOTP two-factor authentication is on" }),
    role: z.enum(["user", "moderator", "admin"]),
    createdAt: z.string(),
  })
  .openapi("User");

export const Tokens = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().openapi({ description: "Access token lifetime in seconds" }),
  })
  .openapi("Tokens");

export const Session = z
  .object({
    id: z.string(),
    deviceId: z.string(),
    deviceName: z.string().nullable(),
    ip: z.string().nullable(),
    country: z.string().nullable(),
    userAgent: z.string().nullable(),
    createdAt: z.string(),
    lastUsedAt: z.string(),
    current: z.boolean(),
  })
  .openapi("Session");

export const AuthResult = z
  .object({
    user: User,
    tokens: Tokens,
    session: Session,
    newDevice: z.boolean().openapi({ description: "True when this device was never seen for the account before" }),
  })
  .openapi("AuthResult");

export const MfaRequired = z
  .object({
    mfaRequired: z.literal(true),
    mfaToken: z.string().openapi({ description: "Single use, 5 minutes; send it to POST /auth/2fa/verify with a code" }),
    expiresIn: z.number(),
  })
  .openapi("MfaRequired");

export const LoginResult = z.union([AuthResult, MfaRequired]).openapi("LoginResult");

export const Device = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    platform: z.string().nullable(),
    trusted: z.boolean(),
    blocked: z.boolean(),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    lastIp: z.string().nullable(),
    lastCountry: z.string().nullable(),
  })
  .openapi("Device");
