import type { Bindings } from "../env";
import { AppError } from "./errors";

/** Used only when ENVIRONMENT is development and no JWT_SECRET is set. Never valid elsewhere. */
export const DEVELOPMENT_JWT_SECRET = "development-only-secret-do-not-use-in-production-0000";
const MIN_SECRET_LENGTH = 32;

/** Local development (`wrangler dev`, tests): the only place development defaults are allowed. */
export const isDevelopment = (env: Pick<Bindings, "ENVIRONMENT">) => env.ENVIRONMENT === "development";

/** Why the signing secret cannot be used here, or null when it is fine. */
export function jwtSecretProblem(env: Pick<Bindings, "ENVIRONMENT" | "JWT_SECRET">): string | null {
  if (isDevelopment(env)) return null;
  if (!env.JWT_SECRET) return "JWT_SECRET is not set (wrangler secret put JWT_SECRET)";
  if (env.JWT_SECRET === DEVELOPMENT_JWT_SECRET) return "JWT_SECRET is the development default";
  if (env.JWT_SECRET.length < MIN_SECRET_LENGTH) return `JWT_SECRET is shorter than ${MIN_SECRET_LENGTH} characters`;
  return null;
}

/** The access-token signing key; refuses with `503 server_misconfigured` outside development. */
export function jwtSecret(env: Pick<Bindings, "ENVIRONMENT" | "JWT_SECRET">): Uint8Array {
  const problem = jwtSecretProblem(env);
  if (problem) throw new AppError(503, "server_misconfigured", `Token signing is disabled: ${problem}`);
  return new TextEncoder().encode(env.JWT_SECRET || DEVELOPMENT_JWT_SECRET);
}

/**
 * Why the media URL signing key cannot be used here, or null when it is fine. In development a
 * missing MEDIA_URL_SECRET falls back to a key derived from the JWT secret; elsewhere it must be
 * set, at least 32 characters, and not the JWT secret itself (one leaked key must not forge both).
 */
export function mediaUrlSecretProblem(env: Pick<Bindings, "ENVIRONMENT" | "JWT_SECRET" | "MEDIA_URL_SECRET">): string | null {
  if (isDevelopment(env)) return null;
  if (!env.MEDIA_URL_SECRET) return "MEDIA_URL_SECRET is not set (wrangler secret put MEDIA_URL_SECRET)";
  if (env.MEDIA_URL_SECRET.length < MIN_SECRET_LENGTH) return `MEDIA_URL_SECRET is shorter than ${MIN_SECRET_LENGTH} characters`;
  if (env.MEDIA_URL_SECRET === env.JWT_SECRET) return "MEDIA_URL_SECRET equals JWT_SECRET";
  return null;
}

/**
 * The raw media URL signing secret; refuses with `503 server_misconfigured` outside development.
 * In development without MEDIA_URL_SECRET: a label plus the JWT secret (the caller hashes it into a key).
 */
export function mediaUrlSecret(env: Pick<Bindings, "ENVIRONMENT" | "JWT_SECRET" | "MEDIA_URL_SECRET">): string {
  const problem = mediaUrlSecretProblem(env);
  if (problem) throw new AppError(503, "server_misconfigured", `Media URLs are disabled: ${problem}`);
  return env.MEDIA_URL_SECRET || `media-url-development:${env.JWT_SECRET || DEVELOPMENT_JWT_SECRET}`;
}

/** Default per-user storage quota: 5 GB (GiB, like the other media limits). */
export const DEFAULT_MEDIA_QUOTA_BYTES = 5 * 1024 ** 3;
/** Bytes each user may hold in R2 (MEDIA_QUOTA_BYTES, default 5 GB). */
export function mediaQuotaBytes(env: Pick<Bindings, "MEDIA_QUOTA_BYTES">): number {
  const n = Number(env.MEDIA_QUOTA_BYTES);
  return env.MEDIA_QUOTA_BYTES && Number.isSafeInteger(n) && n >= 0 ? n : DEFAULT_MEDIA_QUOTA_BYTES;
}

/** Default lifetime of a signed media URL: 15 minutes. */
export const DEFAULT_MEDIA_URL_TTL_SECONDS = 15 * 60;
/** Seconds a signed media URL stays valid (MEDIA_URL_TTL_SECONDS, 60 s to 7 days, default 15 minutes). */
export function mediaUrlTtlSeconds(env: Pick<Bindings, "MEDIA_URL_TTL_SECONDS">): number {
  const n = Number(env.MEDIA_URL_TTL_SECONDS);
  return env.MEDIA_URL_TTL_SECONDS && Number.isInteger(n) && n >= 60 && n <= 7 * 86_400 ? n : DEFAULT_MEDIA_URL_TTL_SECONDS;
}

/** Allowed CORS origins from CORS_ORIGINS (comma-separated, `*` for any). */
export function corsOrigins(env: Pick<Bindings, "CORS_ORIGINS">): string[] {
  return (env.CORS_ORIGINS ?? "*")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Chats up to this many members tell each member's hub of new activity (HUB_FANOUT_MAX_MEMBERS). */
export const DEFAULT_HUB_FANOUT_MAX_MEMBERS = 1000;
/** The configured HUB_FANOUT_MAX_MEMBERS (unset or not a whole number: the default; 0 turns the fan-out off). */
export function hubFanoutMaxMembers(env: Pick<Bindings, "HUB_FANOUT_MAX_MEMBERS">): number {
  const raw = env.HUB_FANOUT_MAX_MEMBERS?.trim();
  const n = raw ? Number(raw) : Number.NaN;
  return Number.isInteger(n) && n >= 0 ? n : DEFAULT_HUB_FANOUT_MAX_MEMBERS;
}

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/**
 * Message sends' body cap: an encrypted send to a full group carries an envelope for each of up
 * to 6,000 devices, ~2.4 KB each for first-contact (PQXDH prekey) messages.
 */
export const SEND_MAX_BODY_BYTES = 16 * 1024 * 1024;
export function maxBodyBytes(env: Pick<Bindings, "MAX_BODY_BYTES">): number {
  const n = Number(env.MAX_BODY_BYTES);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_MAX_BODY_BYTES;
}

/** The before-send hook (rooms/before-send.ts), when BEFORE_SEND_URL is set. */
export interface BeforeSendConfig {
  url: string;
  /** `whsec_…`: requests are signed like webhooks (Standard Webhooks). */
  secret: string | null;
  timeoutMs: number;
  /** A hook that fails or is too slow refuses the message (closed) or lets it through (open). */
  failClosed: boolean;
}

/** BEFORE_SEND_URL, _SECRET, _TIMEOUT_MS (100–5000, default 1500) and _FAILURE ("open", the default, or "closed"). */
export function beforeSendConfig(
  env: Pick<Bindings, "BEFORE_SEND_URL" | "BEFORE_SEND_SECRET" | "BEFORE_SEND_TIMEOUT_MS" | "BEFORE_SEND_FAILURE">,
): BeforeSendConfig | null {
  const url = env.BEFORE_SEND_URL?.trim();
  if (!url) return null;
  const ms = Number(env.BEFORE_SEND_TIMEOUT_MS);
  return {
    url,
    secret: env.BEFORE_SEND_SECRET?.startsWith("whsec_") ? env.BEFORE_SEND_SECRET : null,
    timeoutMs: Number.isInteger(ms) && ms >= 100 && ms <= 5000 ? ms : 1500,
    failClosed: env.BEFORE_SEND_FAILURE?.trim() === "closed",
  };
}
