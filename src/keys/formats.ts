import { z } from "@hono/zod-openapi";
import { base64Field, fromBase64 } from "../lib/base64";
import { AppError } from "../lib/errors";
import { xeddsaVerify } from "./xeddsa";

/**
 * libsignal's wire formats, as clients upload them (base64 with padding): EC public keys are 33
 * bytes (0x05 + Curve25519), Kyber (ML-KEM-1024) public keys 1,569 bytes (0x08 + 1,568),
 * signatures 64 bytes (XEdDSA by the identity key over the signed key's full serialized bytes).
 */
export const EC_KEY_BYTES = 33;
export const EC_TYPE = 0x05;
export const KYBER_KEY_BYTES = 1569;
export const KYBER_TYPE = 0x08;
export const SIGNATURE_BYTES = 64;
/** Devices with keys one account may have (Signal's: a primary and five linked ones). */
export const MAX_KEY_DEVICES = 6;
/** Keys of each kind one upload may carry. */
export const MAX_KEYS_PER_UPLOAD = 100;

/** Lengths and type bytes are checked after decoding (422 naming the key), so the schema allows a little more. */
const base64 = (maxBytes: number, description: string) => base64Field(maxBytes + 6, description);

const KeyId = z.number().int().min(0).max(0xffffff).openapi({ description: "0–16,777,215, unique per device and kind" });
const EcPublicKey = base64(EC_KEY_BYTES, "33 bytes: 0x05 + a Curve25519 public key");
const KyberPublicKey = base64(KYBER_KEY_BYTES, "1,569 bytes: 0x08 + an ML-KEM-1024 public key");
const Signature = base64(SIGNATURE_BYTES, "64 bytes: XEdDSA by the identity key over the public key's full bytes");

export const SignedEcKey = z.strictObject({ keyId: KeyId, publicKey: EcPublicKey, signature: Signature }).openapi("SignedPreKey");
export const SignedKyberKey = z.strictObject({ keyId: KeyId, publicKey: KyberPublicKey, signature: Signature }).openapi("KyberPreKey");
export const EcKey = z.strictObject({ keyId: KeyId, publicKey: EcPublicKey }).openapi("PreKey");

export const UploadKeysBody = z
  .strictObject({
    identityKey: EcPublicKey,
    registrationId: z.number().int().min(1).max(16380),
    signedPreKey: SignedEcKey.optional(),
    pqLastResortPreKey: SignedKyberKey.optional(),
    preKeys: z.array(EcKey).max(MAX_KEYS_PER_UPLOAD).optional(),
    pqPreKeys: z.array(SignedKyberKey).max(MAX_KEYS_PER_UPLOAD).optional(),
    resetIdentity: z
      .boolean()
      .optional()
      .openapi({
        description:
          "Replace the account's identity key with `identityKey` (a reinstall): every other device's keys go, and the account's " +
          "direct-chat partners get a `identity_changed` system message",
      }),
  })
  .openapi("UploadKeysRequest");
export type UploadKeys = z.infer<typeof UploadKeysBody>;

/** `422 invalid_key` naming `key` (a path into the request, e.g. `preKeys[3].publicKey`). */
const invalidKey = (key: string, message: string) => new AppError(422, "invalid_key", `${key}: ${message}`, { key });

/** The bytes of a serialized public key of `kind`, or 422 naming it: wrong length or type byte. */
export function publicKeyBytes(text: string, kind: "ec" | "kyber", key: string): Uint8Array {
  const bytes = fromBase64(text);
  const [length, type] = kind === "ec" ? [EC_KEY_BYTES, EC_TYPE] : [KYBER_KEY_BYTES, KYBER_TYPE];
  if (bytes.length !== length) throw invalidKey(key, `must be ${length} bytes, not ${bytes.length}`);
  if (bytes[0] !== type) throw invalidKey(key, `must start with the type byte 0x0${type.toString(16)}`);
  return bytes;
}

/**
 * Check a signed key: its public key's format, and its signature by `identity` (the 33-byte
 * identity key) over the public key's full bytes. 422 `invalid_key` or `invalid_signature` naming it.
 */
export function checkSignedKey(identity: Uint8Array, signed: { publicKey: string; signature: string }, kind: "ec" | "kyber", key: string) {
  const publicKey = publicKeyBytes(signed.publicKey, kind, `${key}.publicKey`);
  const signature = fromBase64(signed.signature);
  if (signature.length !== SIGNATURE_BYTES)
    throw invalidKey(`${key}.signature`, `must be ${SIGNATURE_BYTES} bytes, not ${signature.length}`);
  if (!xeddsaVerify(identity.subarray(1), publicKey, signature)) {
    throw new AppError(422, "invalid_signature", `${key}: the signature does not verify with the identity key`, { key });
  }
}

/**
 * Check a whole upload against `identity` before anything is stored: every key's format, every
 * signature, and key ids unique per kind within it. Throws the first failure (422 naming the key).
 */
export function checkUpload(body: UploadKeys): void {
  const identity = publicKeyBytes(body.identityKey, "ec", "identityKey");
  if (body.signedPreKey) checkSignedKey(identity, body.signedPreKey, "ec", "signedPreKey");
  if (body.pqLastResortPreKey) checkSignedKey(identity, body.pqLastResortPreKey, "kyber", "pqLastResortPreKey");
  for (const [i, k] of (body.preKeys ?? []).entries()) publicKeyBytes(k.publicKey, "ec", `preKeys[${i}].publicKey`);
  for (const [i, k] of (body.pqPreKeys ?? []).entries()) checkSignedKey(identity, k, "kyber", `pqPreKeys[${i}]`);
  for (const field of ["preKeys", "pqPreKeys"] as const) {
    const ids = (body[field] ?? []).map((k) => k.keyId);
    const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
    if (repeated !== undefined) throw invalidKey(field, `key id ${repeated} appears twice`);
  }
}
