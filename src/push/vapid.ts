import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { importJWK, SignJWT } from "jose";
import type { Bindings } from "../env";
import { DEVELOPMENT_JWT_SECRET, isDevelopment } from "../lib/config";
import { base64url } from "../lib/crypto";
import { AppError } from "../lib/errors";

/**
 * VAPID (RFC 8292): the application server's P-256 key pair that identifies it to push services.
 * Browsers subscribe with the public key (`applicationServerKey`); every push carries
 * `Authorization: vapid t=<ES256 JWT>, k=<public key>`. Production takes the pair from
 * configuration; development, without one, derives a fixed pair from the development secret so a
 * local subscription keeps working across restarts.
 */

type VapidEnv = Pick<Bindings, "ENVIRONMENT" | "JWT_SECRET" | "VAPID_PUBLIC_KEY" | "VAPID_PRIVATE_KEY" | "VAPID_SUBJECT">;

/** The pair, base64url: the raw uncompressed public key (65 bytes) and the private scalar (32 bytes). */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

/** Bytes of a base64url string, padded or not (null when it is not one). */
export function base64urlBytes(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) return null;
  try {
    return Uint8Array.from(atob(text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The configured pair, or the development one; `503 push_not_configured` when Web Push cannot be used here. */
export function vapidKeys(env: VapidEnv): VapidKeys {
  const subject = env.VAPID_SUBJECT || "mailto:push@example.com";
  if (env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY) return { publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY, subject };
  if (!isDevelopment(env)) {
    throw new AppError(503, "push_not_configured", "Web Push is not configured: set VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT");
  }
  const secret = sha256(utf8ToBytes(`vapid-development:${env.JWT_SECRET || DEVELOPMENT_JWT_SECRET}`));
  return { publicKey: base64url(p256.getPublicKey(secret, false)), privateKey: base64url(secret), subject };
}

const tokens = new Map<string, { header: string; until: number }>();
/** A VAPID JWT is valid this long (RFC 8292 allows up to 24 h) and reused for most of it. */
const TOKEN_LIFETIME_S = 12 * 3600;

/**
 * The `Authorization` header for a push to `endpoint`: an ES256 JWT for the push service's origin,
 * signed once per origin and key and reused until an hour before it expires.
 */
export async function vapidAuthorization(endpoint: string, keys: VapidKeys, at = Date.now()): Promise<string> {
  const audience = new URL(endpoint).origin;
  const cacheKey = `${keys.publicKey}|${keys.subject}|${audience}`;
  const cached = tokens.get(cacheKey);
  if (cached && cached.until > at) return cached.header;
  const raw = base64urlBytes(keys.publicKey) ?? new Uint8Array();
  const key = await importJWK(
    { kty: "EC", crv: "P-256", x: base64url(raw.slice(1, 33)), y: base64url(raw.slice(33, 65)), d: keys.privateKey },
    "ES256",
  );
  const issuedAt = Math.floor(at / 1000);
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: "ES256", typ: "JWT" })
    .setAudience(audience)
    .setSubject(keys.subject)
    .setExpirationTime(issuedAt + TOKEN_LIFETIME_S)
    .sign(key);
  const header = `vapid t=${jwt}, k=${keys.publicKey}`;
  if (tokens.size > 1000) tokens.clear();
  tokens.set(cacheKey, { header, until: at + (TOKEN_LIFETIME_S - 3600) * 1000 });
  return header;
}

/** Whether `text` is a base64url P-256 public key in the uncompressed form subscriptions carry. */
export function isP256PublicKey(text: string): boolean {
  try {
    const raw = base64urlBytes(text);
    if (raw?.length !== 65 || raw[0] !== 4) return false;
    p256.Point.fromBytes(raw).assertValidity();
    return true;
  } catch {
    return false;
  }
}
