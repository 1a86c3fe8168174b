import { ed25519 } from "@noble/curves/ed25519.js";

/**
 * XEdDSA signature verification (Signal's scheme: an Ed25519 signature made with a Curve25519
 * identity key). The Montgomery u coordinate of the identity key maps to the Edwards y
 * coordinate y = (u − 1) / (u + 1) mod p; the Edwards sign bit, which a Montgomery key does not
 * carry, travels in bit 7 of the signature's last byte and is cleared there before the Ed25519
 * check. Everything else is plain Ed25519 (noble's, strict RFC 8032 encodings).
 */

const P = 2n ** 255n - 19n;

const mod = (a: bigint) => ((a % P) + P) % P;

/** a^e mod p by square-and-multiply. */
function pow(a: bigint, e: bigint): bigint {
  let result = 1n;
  let base = mod(a);
  let exp = e;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % P;
    base = (base * base) % P;
    exp >>= 1n;
  }
  return result;
}

const fromLittleEndian = (bytes: Uint8Array) => bytes.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);

function toLittleEndian(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * The Ed25519 public key (y with `signBit`) of a 32-byte Curve25519 public key `u`, or null when
 * u = −1 (no Edwards point).
 */
export function montgomeryToEdwards(u: Uint8Array, signBit: number): Uint8Array | null {
  const x = mod(fromLittleEndian(u) & ((1n << 255n) - 1n));
  const denominator = mod(x + 1n);
  if (denominator === 0n) return null;
  const y = mod((x - 1n) * pow(denominator, P - 2n));
  const edwards = toLittleEndian(y);
  edwards[31] = (edwards[31]! & 0x7f) | (signBit & 0x80);
  return edwards;
}

/** Whether `signature` (64 bytes) over `message` verifies with the Curve25519 public key `u` (32 bytes, no type byte). */
export function xeddsaVerify(u: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (u.length !== 32 || signature.length !== 64) return false;
  const publicKey = montgomeryToEdwards(u, signature[63]!);
  if (!publicKey) return false;
  const plain = signature.slice();
  plain[63] = plain[63]! & 0x7f;
  try {
    return ed25519.verify(plain, message, publicKey, { zip215: false });
  } catch {
    return false; // a public key that is no point on the curve, a non-canonical s
  }
}
