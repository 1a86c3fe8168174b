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

/** Allowed CORS origins from CORS_ORIGINS (comma-separated, `*` for any). */
export function corsOrigins(env: Pick<Bindings, "CORS_ORIGINS">): string[] {
  return (env.CORS_ORIGINS ?? "*")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
export function maxBodyBytes(env: Pick<Bindings, "MAX_BODY_BYTES">): number {
  const n = Number(env.MAX_BODY_BYTES);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_MAX_BODY_BYTES;
}
