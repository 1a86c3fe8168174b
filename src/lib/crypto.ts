import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";

/** URL-safe base64 without padding. */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** An opaque random token of `bytes` random bytes (256 bits by default), base64url. */
export const randomToken = (bytes = 32): string => base64url(randomBytes(bytes));

/** SHA-256 of a string as hex: how opaque tokens and codes are stored (never the token itself). */
export const sha256Hex = (value: string): string => bytesToHex(sha256(utf8ToBytes(value)));

/** Compare two strings without an early exit on the first difference. */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = utf8ToBytes(a);
  const y = utf8ToBytes(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
