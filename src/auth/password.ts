import { randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Bindings } from "../env";
import { isDevelopment } from "../lib/config";
import { timingSafeEqual } from "../lib/crypto";
import { argon2idWasm } from "./argon2id-wasm";

/** argon2id cost. Stored inside every hash (PHC string), so it can change without breaking logins. */
export interface Argon2Params {
  m: number; // memory, KiB
  t: number; // iterations
  p: number; // parallelism
}

/** OWASP's recommended argon2id baseline: 19 MiB, 2 iterations, 1 lane. */
export const PRODUCTION_ARGON2: Argon2Params = { m: 19456, t: 2, p: 1 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;

/**
 * The parameters new hashes use. A lower cost comes only from ARGON2_MEMORY_KIB /
 * ARGON2_ITERATIONS, and only where ENVIRONMENT is `development`; anywhere else the
 * production parameters apply whatever the variables say.
 */
export function currentParams(env: Pick<Bindings, "ENVIRONMENT" | "ARGON2_MEMORY_KIB" | "ARGON2_ITERATIONS">): Argon2Params {
  if (!isDevelopment(env)) return PRODUCTION_ARGON2;
  const m = Number(env.ARGON2_MEMORY_KIB ?? PRODUCTION_ARGON2.m);
  const t = Number(env.ARGON2_ITERATIONS ?? PRODUCTION_ARGON2.t);
  return {
    m: Number.isInteger(m) && m >= 8 ? m : PRODUCTION_ARGON2.m,
    t: Number.isInteger(t) && t >= 1 ? t : PRODUCTION_ARGON2.t,
    p: 1,
  };
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
const unb64 = (s: string) => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));

/**
 * One argon2id derivation, in the isolate's WebAssembly instance (libargon2; see argon2id-wasm.ts).
 * The call is synchronous, so derivations run one at a time per isolate and share the instance's
 * memory: it grows once to `m` KiB (19 MiB in production) and is reused, never allocated side by
 * side by concurrent logins (an isolate has 128 MB). Hashing is CPU-bound and an isolate has one
 * thread, so running synchronously costs no throughput. A shared promise queue would be wrong
 * here: a request awaiting a promise created by another request hangs when that one is cancelled.
 */
function derive(password: string, salt: Uint8Array, params: Argon2Params): Uint8Array {
  return argon2idWasm(utf8ToBytes(password), salt, params, HASH_BYTES);
}

/** Hash a password into a PHC string: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`. */
export async function hashPassword(password: string, params: Argon2Params): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = derive(password, salt, params);
  return `$argon2id$v=19$m=${params.m},t=${params.t},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

interface ParsedHash {
  params: Argon2Params;
  salt: Uint8Array;
  hash: string;
}

function parsePhc(phc: string): ParsedHash | null {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  if (!match) return null;
  const [, m, t, p, salt, hash] = match;
  return { params: { m: Number(m), t: Number(t), p: Number(p) }, salt: unb64(salt!), hash: hash! };
}

/**
 * Check a password against a stored PHC string. `needsRehash` is true when the hash was made
 * with other parameters than `params`, so the caller can store a fresh one after a good login.
 */
export async function verifyPassword(password: string, phc: string, params: Argon2Params): Promise<{ ok: boolean; needsRehash: boolean }> {
  const parsed = parsePhc(phc);
  if (!parsed) return { ok: false, needsRehash: false };
  const hash = b64(derive(password, parsed.salt, parsed.params));
  const ok = timingSafeEqual(hash, parsed.hash);
  const p = parsed.params;
  return { ok, needsRehash: ok && (p.m !== params.m || p.t !== params.t || p.p !== params.p) };
}

const dummyHashes = new Map<string, string>();

/**
 * Spend the same time as a real verification when there is no account, so "unknown user" and
 * "wrong password" cannot be told apart by timing.
 */
export async function verifyDummy(password: string, params: Argon2Params): Promise<void> {
  const key = `${params.m}:${params.t}:${params.p}`;
  let dummy = dummyHashes.get(key);
  if (!dummy) {
    dummy = await hashPassword("dummy-password-for-timing", params);
    dummyHashes.set(key, dummy);
  }
  await verifyPassword(password, dummy, params);
}
