import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";

/**
 * Real Signal-style keys for the key server's tests, made here with @noble/curves (not with the
 * server's code): Curve25519 key pairs serialized as libsignal does (type byte 0x05 + 32 bytes),
 * and XEdDSA signatures as libsignal makes them (the Edwards form of the private scalar signs;
 * the Edwards public key's sign bit goes into bit 7 of the signature's last byte).
 */

const ORDER = ed25519.Point.Fn.ORDER;

/** A Curve25519 key pair: the 32-byte private key, and the public key serialized with its type byte (33 bytes). */
export function curveKeyPair() {
  const privateKey = x25519.utils.randomSecretKey();
  const publicKey = new Uint8Array(33);
  publicKey[0] = 0x05;
  publicKey.set(x25519.getPublicKey(privateKey), 1);
  return { privateKey, publicKey };
}

/** The X25519 scalar of a private key (RFC 7748 clamping). */
function clampedScalar(privateKey: Uint8Array): bigint {
  const k = privateKey.slice();
  k[0] = k[0]! & 248;
  k[31] = (k[31]! & 127) | 64;
  return bytesToNumberLE(k);
}

/** XEdDSA-sign `message` with a Curve25519 private key. */
export function xeddsaSign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  const a = clampedScalar(privateKey) % ORDER;
  const publicEdwards = ed25519.Point.BASE.multiply(a).toBytes();
  const nonce = crypto.getRandomValues(new Uint8Array(64));
  const r = bytesToNumberLE(sha512(concat(privateKey, message, nonce))) % ORDER || 1n;
  const R = ed25519.Point.BASE.multiply(r).toBytes();
  const h = bytesToNumberLE(sha512(concat(R, publicEdwards, message))) % ORDER;
  const s = (r + h * a) % ORDER;
  const signature = concat(R, numberToBytesLE(s, 32));
  signature[63] = signature[63]! | (publicEdwards[31]! & 0x80);
  return signature;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Standard base64 with padding, as libsignal clients send keys. */
export const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** A Kyber public key's serialized shape (0x08 + 1,568 bytes); the server checks format and signature, not the lattice. */
export function kyberKey(): Uint8Array {
  const key = crypto.getRandomValues(new Uint8Array(1569));
  key[0] = 0x08;
  return key;
}

/** A full first upload for a device (`PUT /keys`), signed by `identity`. */
export function deviceKeys(
  identity = curveKeyPair(),
  opts: { preKeys?: number; pqPreKeys?: number; firstId?: number; registrationId?: number } = {},
) {
  const signed = curveKeyPair().publicKey;
  const lastResort = kyberKey();
  const first = opts.firstId ?? 1;
  return {
    identity,
    body: {
      identityKey: b64(identity.publicKey),
      registrationId: opts.registrationId ?? 4242,
      signedPreKey: { keyId: 7, publicKey: b64(signed), signature: b64(xeddsaSign(identity.privateKey, signed)) },
      pqLastResortPreKey: { keyId: 900, publicKey: b64(lastResort), signature: b64(xeddsaSign(identity.privateKey, lastResort)) },
      preKeys: Array.from({ length: opts.preKeys ?? 3 }, (_, i) => ({ keyId: first + i, publicKey: b64(curveKeyPair().publicKey) })),
      pqPreKeys: Array.from({ length: opts.pqPreKeys ?? 2 }, (_, i) => {
        const key = kyberKey();
        return { keyId: 100 + first + i, publicKey: b64(key), signature: b64(xeddsaSign(identity.privateKey, key)) };
      }),
    },
  };
}
