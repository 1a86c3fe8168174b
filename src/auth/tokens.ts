import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Bindings } from "../env";
import { jwtSecret } from "../lib/config";
import { randomToken, sha256Hex } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { DAY, MINUTE } from "../lib/time";

export const ACCESS_TOKEN_TTL_MS = 15 * MINUTE;
export const REFRESH_TOKEN_TTL_MS = 30 * DAY;
const ALGORITHM = "HS256";
const TOKEN_TYPE = "at+jwt";

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
}

export interface AccessClaims {
  sub: string;
  sid: string;
  jti: string;
}

type TokenEnv = Pick<Bindings, "ENVIRONMENT" | "JWT_SECRET" | "JWT_ISSUER" | "JWT_AUDIENCE">;

/** Imported HMAC keys by secret: jose would import the raw bytes again on every sign and verify. */
const signingKeys = new Map<string, Promise<CryptoKey>>();

/** The signing key as a CryptoKey, imported once per isolate (refuses like jwtSecret outside development). */
function signingKey(env: TokenEnv): Promise<CryptoKey> {
  const raw = jwtSecret(env);
  const id = env.JWT_SECRET ?? "";
  let key = signingKeys.get(id);
  if (!key) {
    key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    key.catch(() => signingKeys.delete(id)); // a failed import is tried again next time
    signingKeys.set(id, key);
  }
  return key;
}

/** Sign a 15-minute access token for a session (RFC 9068 `typ: at+jwt`). */
export async function signAccessToken(env: TokenEnv, userId: string, sessionId: string): Promise<string> {
  const key = await signingKey(env);
  return new SignJWT({ sid: sessionId })
    .setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYPE })
    .setSubject(userId)
    .setJti(newId())
    .setIssuedAt()
    .setIssuer(env.JWT_ISSUER)
    .setAudience(env.JWT_AUDIENCE)
    .setExpirationTime(Math.floor((Date.now() + ACCESS_TOKEN_TTL_MS) / 1000))
    .sign(key);
}

/**
 * Verify an access token: signature with the one allowed algorithm, `typ`, issuer, audience and
 * expiry. Expired → `401 token_expired`; anything else wrong → `401 unauthorized`.
 */
export async function verifyAccessToken(env: TokenEnv, token: string): Promise<AccessClaims> {
  const key = await signingKey(env);
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [ALGORITHM],
      typ: TOKEN_TYPE,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      requiredClaims: ["sub", "sid", "jti", "iat", "exp"],
    });
    if (typeof payload.sid !== "string" || typeof payload.sub !== "string" || typeof payload.jti !== "string") {
      throw new AppError(401, "unauthorized", "Invalid access token");
    }
    return { sub: payload.sub, sid: payload.sid, jti: payload.jti };
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new AppError(401, "token_expired", "Access token has expired");
    throw new AppError(401, "unauthorized", "Invalid access token");
  }
}

/** A new opaque refresh token (256 random bits) and the hash that is stored for it. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomToken(32);
  return { token, hash: sha256Hex(token) };
}
