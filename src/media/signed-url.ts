import type { Bindings } from "../env";
import { mediaUrlSecret, mediaUrlTtlSeconds } from "../lib/config";
import { base64url, timingSafeEqual } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { now } from "../lib/time";

/**
 * Signed content URLs: `/api/v1/media/{id}/content?exp=&uid=&sig=`. The signature is an
 * HMAC-SHA256 over the item id, the user it was issued to and the expiry (unix seconds), so a URL
 * can go into `<img src>` without a bearer token, expires on its own, and names whose access it
 * rides on (the content route checks that user may still read the item).
 */

/** Where the media routes are mounted (src/app/route-groups.ts mounts the router here). */
export const MEDIA_PATH = "/api/v1/media";

type SecretEnv = Pick<Bindings, "ENVIRONMENT" | "JWT_SECRET" | "MEDIA_URL_SECRET">;

/** Imported HMAC keys by secret, so each isolate imports a key once. */
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(env: SecretEnv): Promise<CryptoKey> {
  const secret = mediaUrlSecret(env);
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return key;
}

/** The signature of (id, uid, exp) as base64url. Fields are joined with newlines, which none may contain. */
async function signature(env: SecretEnv, mediaId: string, userId: string, exp: number): Promise<string> {
  const message = new TextEncoder().encode(`media-content:v1\n${mediaId}\n${userId}\n${exp}`);
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(env), message)));
}

export interface SignedMediaUrl {
  /** Path and query (relative to the API origin). */
  url: string;
  /** Expiry in milliseconds since the epoch. */
  expiresAt: number;
}

/** A content URL for `userId`, valid MEDIA_URL_TTL_SECONDS (15 minutes by default) from `at`. */
export async function signMediaUrl(
  env: SecretEnv & Pick<Bindings, "MEDIA_URL_TTL_SECONDS">,
  mediaId: string,
  userId: string,
  at = now(),
): Promise<SignedMediaUrl> {
  const exp = Math.floor(at / 1000) + mediaUrlTtlSeconds(env);
  const sig = await signature(env, mediaId, userId, exp);
  const query = new URLSearchParams({ exp: String(exp), uid: userId, sig });
  return { url: `${MEDIA_PATH}/${mediaId}/content?${query}`, expiresAt: exp * 1000 };
}

const invalid = () => new AppError(403, "invalid_signature", "The media URL is invalid or has expired; fetch the item again for a new one");

/**
 * Check a content URL's query: a signature made by us for this item, user and expiry, not yet
 * expired. Any failure is `403 invalid_signature` (the same answer whatever was wrong).
 * Returns the user the URL was issued to and the expiry in unix seconds.
 */
export async function verifyMediaSignature(
  env: SecretEnv,
  mediaId: string,
  query: { exp?: string; uid?: string; sig?: string },
  at = now(),
): Promise<{ userId: string; exp: number }> {
  const { uid, sig } = query;
  const exp = Number(query.exp);
  if (!uid || !sig || !/^\d{1,12}$/.test(query.exp ?? "") || uid.includes("\n")) throw invalid();
  const expected = await signature(env, mediaId, uid, exp);
  if (!timingSafeEqual(expected, sig)) throw invalid();
  if (exp * 1000 <= at) throw invalid();
  return { userId: uid, exp };
}
