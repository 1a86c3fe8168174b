import { Secret, TOTP } from "otpauth";
import type { Bindings } from "../../env";

/**
 * A thin wrapper over `otpauth` (RFC 6238 TOTP on RFC 4226 HOTP) with the parameters every
 * standard authenticator app understands: SHA-1, 6 digits, 30-second steps, 160-bit secrets.
 * Secrets are handled as base32 strings (as stored in users.totp_secret); never log them.
 */
export const TOTP_ALGORITHM = "SHA1";
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Steps accepted either side of the current one (clock drift and typing time). */
export const TOTP_WINDOW = 1;
/** RFC 4226 recommends at least 128 bits and 160 bits (the SHA-1 block output size). */
export const TOTP_SECRET_BYTES = 20;
export const DEFAULT_TOTP_ISSUER = "Edge Messenger";

/** A new random 160-bit secret, base32 (RFC 4648, no padding), as authenticator apps take it. */
export const newTotpSecret = (): string => new Secret({ size: TOTP_SECRET_BYTES }).base32;

/** The issuer authenticator apps show next to the account. */
export const totpIssuer = (env: Pick<Bindings, "TOTP_ISSUER">): string => env.TOTP_ISSUER?.trim() || DEFAULT_TOTP_ISSUER;

function totpFor(secretBase32: string, digits = TOTP_DIGITS, issuer = "", label = "OTPAuth"): TOTP {
  return new TOTP({
    issuer,
    label,
    secret: Secret.fromBase32(secretBase32),
    algorithm: TOTP_ALGORITHM,
    digits,
    period: TOTP_PERIOD_SECONDS,
  });
}

/**
 * The Key URI an authenticator app scans:
 * `otpauth://totp/<issuer>:<label>?issuer=…&secret=…&algorithm=SHA1&digits=6&period=30`.
 */
export function otpauthUrl(secretBase32: string, issuer: string, label: string): string {
  return totpFor(secretBase32, TOTP_DIGITS, issuer, label).toString();
}

/** The 30-second time step (RFC 6238 `T`) that `timestamp` (ms) falls in. */
export const totpStep = (timestamp = Date.now()): number => TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp });

/** The code for `timestamp` (ms). Used by tests and tools; the server only validates. */
export function generateTotp(secretBase32: string, timestamp = Date.now(), digits = TOTP_DIGITS): string {
  return totpFor(secretBase32, digits).generate({ timestamp });
}

/**
 * Check `code` against the steps around `timestamp` (±TOTP_WINDOW) and return the time step it
 * belongs to, or null when it matches none. The caller decides about replays with the step.
 */
export function matchTotp(secretBase32: string, code: string, timestamp = Date.now()): number | null {
  if (!/^\d+$/.test(code) || code.length !== TOTP_DIGITS) return null;
  const delta = totpFor(secretBase32).validate({ token: code, timestamp, window: TOTP_WINDOW });
  return delta === null ? null : totpStep(timestamp) + delta;
}
