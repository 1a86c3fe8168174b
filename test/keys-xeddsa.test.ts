import { describe, expect, it } from "vitest";
import { xeddsaVerify } from "../src/keys/xeddsa";
import { curveKeyPair, xeddsaSign } from "./keys-helpers";

/** XEdDSA verification against signatures made independently (test/keys-helpers.ts). */

describe("xeddsaVerify", () => {
  it("accepts XEdDSA signatures of Curve25519 identity keys over the signed key's full bytes", () => {
    for (let i = 0; i < 20; i++) {
      const identity = curveKeyPair();
      const signedPreKey = curveKeyPair().publicKey; // 33 bytes, type byte included: that is what is signed
      const signature = xeddsaSign(identity.privateKey, signedPreKey);
      expect(xeddsaVerify(identity.publicKey.subarray(1), signedPreKey, signature)).toBe(true);
    }
  });

  it("refuses another key's signature, a changed message, a flipped sign bit and wrong lengths", () => {
    const identity = curveKeyPair();
    const other = curveKeyPair();
    const message = curveKeyPair().publicKey;
    const signature = xeddsaSign(identity.privateKey, message);
    expect(xeddsaVerify(other.publicKey.subarray(1), message, signature)).toBe(false);
    const changed = message.slice();
    changed[5] = changed[5]! ^ 1;
    expect(xeddsaVerify(identity.publicKey.subarray(1), changed, signature)).toBe(false);
    const flipped = signature.slice();
    flipped[63] = flipped[63]! ^ 0x80;
    expect(xeddsaVerify(identity.publicKey.subarray(1), message, flipped)).toBe(false);
    expect(xeddsaVerify(identity.publicKey, message, signature)).toBe(false); // 33 bytes: the type byte must be stripped
    expect(xeddsaVerify(identity.publicKey.subarray(1), message, signature.subarray(0, 63))).toBe(false);
    // u = p − 1 maps to no Edwards point.
    const minusOne = new Uint8Array(32).fill(0xff);
    minusOne[0] = 0xec;
    minusOne[31] = 0x7f;
    expect(xeddsaVerify(minusOne, message, signature)).toBe(false);
  });
});
