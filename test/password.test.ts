import { argon2id as nobleArgon2id } from "@noble/hashes/argon2.js";
import { randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { zxcvbnOptions } from "@zxcvbn-ts/core";
import * as common from "@zxcvbn-ts/language-common";
import * as en from "@zxcvbn-ts/language-en";
import { describe, expect, it } from "vitest";
import { argon2idWasm } from "../src/auth/argon2id-wasm";
import { currentParams, hashPassword, PRODUCTION_ARGON2, verifyPassword } from "../src/auth/password";
import { assertStrongPassword, PASSWORD_CHECKED_LENGTH } from "../src/auth/password-strength";
import { AppError } from "../src/lib/errors";

const CHEAP = { m: 64, t: 1, p: 1 };

describe("password hashing", () => {
  it("writes argon2id PHC strings with their parameters and a random salt", async () => {
    const a = await hashPassword("violet-harbor-73-lantern", CHEAP);
    const b = await hashPassword("violet-harbor-73-lantern", CHEAP);
    expect(a).toMatch(/^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
  });

  it("verifies the right password only, and asks for a rehash when parameters changed", async () => {
    const phc = await hashPassword("violet-harbor-73-lantern", CHEAP);
    expect(await verifyPassword("violet-harbor-73-lantern", phc, CHEAP)).toEqual({ ok: true, needsRehash: false });
    expect(await verifyPassword("violet-harbor-73-lanterN", phc, CHEAP)).toEqual({ ok: false, needsRehash: false });
    expect(await verifyPassword("violet-harbor-73-lantern", phc, { m: 128, t: 1, p: 1 })).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword("anything", "$2b$10$notargon", CHEAP)).toEqual({ ok: false, needsRehash: false });
  });

  it("keeps concurrent hashes correct while they queue one at a time", async () => {
    const passwords = Array.from({ length: 6 }, (_, i) => `queue-test-password-${i}-${"x".repeat(i)}`);
    const hashes = await Promise.all(passwords.map((p) => hashPassword(p, CHEAP)));
    const results = await Promise.all(
      passwords.flatMap((p, i) => [verifyPassword(p, hashes[i]!, CHEAP), verifyPassword(p, hashes[(i + 1) % 6]!, CHEAP)]),
    );
    expect(results.map((r) => r.ok)).toEqual(passwords.flatMap(() => [true, false]));
  });

  it("uses production parameters outside development whatever the variables say", () => {
    const cheapVars = { ARGON2_MEMORY_KIB: "64", ARGON2_ITERATIONS: "1" };
    expect(currentParams({ ENVIRONMENT: "production", ...cheapVars })).toEqual(PRODUCTION_ARGON2);
    expect(currentParams({ ENVIRONMENT: "staging", ...cheapVars })).toEqual({ m: 19456, t: 2, p: 1 });
    expect(currentParams({ ENVIRONMENT: "development", ...cheapVars })).toEqual({ m: 64, t: 1, p: 1 });
    expect(currentParams({ ENVIRONMENT: "development", ARGON2_MEMORY_KIB: "lots", ARGON2_ITERATIONS: "0" })).toEqual(PRODUCTION_ARGON2);
  });
});

// The implementation before the WebAssembly one: pure-JS @noble/hashes argon2id, whose PHC strings
// are stored in existing accounts. Here only to prove both directions stay compatible.
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
const unb64 = (s: string) => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
function nobleHash(password: string, cost: typeof CHEAP): string {
  const salt = randomBytes(16);
  const hash = nobleArgon2id(utf8ToBytes(password), salt, { ...cost, dkLen: 32 });
  return `$argon2id$v=19$m=${cost.m},t=${cost.t},p=${cost.p}$${b64(salt)}$${b64(hash)}`;
}
function nobleVerify(password: string, phc: string): boolean {
  const [, , , costs, salt, hash] = phc.split("$");
  const [m, t, p] = costs!.split(",").map((kv) => Number(kv.split("=")[1]));
  return b64(nobleArgon2id(utf8ToBytes(password), unb64(salt!), { m: m!, t: t!, p: p!, dkLen: 32 })) === hash;
}

describe("password hashing: WebAssembly argon2id and @noble/hashes agree", () => {
  const passwords = ["violet-harbor-73-lantern", "ääääääää", "pässwörd-ñandú-東京-🔑-x", "\u0000nul-inside\u0000"];
  const costs = [CHEAP, { m: 256, t: 3, p: 1 }, { m: 64, t: 1, p: 2 }];

  it("verifies hashes @noble made (existing accounts)", async () => {
    for (const cost of costs) {
      for (const password of passwords) {
        const phc = nobleHash(password, cost);
        expect(await verifyPassword(password, phc, cost)).toEqual({ ok: true, needsRehash: false });
        expect((await verifyPassword(`${password}!`, phc, cost)).ok).toBe(false);
      }
    }
  });

  it("writes hashes @noble verifies, byte for byte", async () => {
    for (const cost of costs) {
      for (const password of passwords) {
        const phc = await hashPassword(password, cost);
        expect(nobleVerify(password, phc)).toBe(true);
        expect(nobleVerify(`${password}!`, phc)).toBe(false);
      }
    }
  });

  it("derives the same bytes for the same inputs, hashing every UTF-8 byte of the password", () => {
    const salt = randomBytes(16);
    for (const password of passwords) {
      const bytes = utf8ToBytes(password);
      expect(argon2idWasm(bytes, salt, CHEAP, 32)).toEqual(nobleArgon2id(bytes, salt, { ...CHEAP, dkLen: 32 }));
    }
    // Passwords that share only the first half of their UTF-8 bytes must not verify for each other
    // (a wrapper passing the UTF-16 length would hash both as "ääää").
    expect(argon2idWasm(utf8ToBytes("ääääääää"), salt, CHEAP, 32)).not.toEqual(argon2idWasm(utf8ToBytes("ääääabcd"), salt, CHEAP, 32));
  });

  it("refuses what libargon2 refuses, and keeps working afterwards", () => {
    expect(() => argon2idWasm(utf8ToBytes("short-salt"), new Uint8Array(4), CHEAP, 32)).toThrow(/argon2id: Salt is too short/);
    expect(() => argon2idWasm(utf8ToBytes("tiny-memory"), randomBytes(16), { m: 4, t: 1, p: 1 }, 32)).toThrow(
      /argon2id: Memory cost is too small/,
    );
    expect(argon2idWasm(utf8ToBytes("still-fine"), new Uint8Array(16), CHEAP, 32)).toEqual(
      nobleArgon2id(utf8ToBytes("still-fine"), new Uint8Array(16), { ...CHEAP, dkLen: 32 }),
    );
  });
});

describe("password policy", () => {
  const reject = async (password: string, inputs: string[] = []) => {
    try {
      await assertStrongPassword(password, inputs);
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      return err as AppError;
    }
    throw new Error(`accepted ${password}`);
  };

  it("rejects common, patterned and personal passwords, saying why", async () => {
    expect((await reject("password1")).message).toMatch(/commonly used|heavily used|frequently used/);
    expect((await reject("aaaaaaaaaaaa")).message).toMatch(/Repeated characters/);
    expect((await reject("marisol_diaz2024", ["marisol_diaz"])).code).toBe("weak_password");
    expect((await reject("short")).message).toMatch(/8–128/);
  });

  it("counts a check's own names against it and nobody else's", async () => {
    // zxcvbn keeps the last check's names in its (isolate-wide) options until the next check
    // replaces them: a check with other names, or none, must not inherit them.
    const password = "quokkazephyrine7";
    expect((await reject(password, ["quokkazephyrine"])).code).toBe("weak_password");
    await expect(assertStrongPassword(password, ["alice"])).resolves.toBeUndefined();
    await expect(assertStrongPassword(password)).resolves.toBeUndefined();
  });

  it("keeps every word list after the packages' own arrays are emptied", async () => {
    await assertStrongPassword("violet-harbor-73-lantern");
    // Indexed once per isolate (ranked-words.ts), then the packages' arrays are emptied.
    expect(common.dictionary.passwords).toHaveLength(0);
    expect(en.dictionary.lastnames).toHaveLength(0);
    // Every list is in place with zxcvbn's ranks (each word's place in its list, from 1)...
    const words: [list: string, word: string, rank: number][] = [
      ["passwords", "baseball", 12],
      ["diceware", "abdominal", 3],
      ["commonWords", "something", 106],
      ["firstnames", "adelaida", 27],
      ["lastnames", "williams", 3],
      ["wikipedia", "national", 62],
    ];
    for (const [list, word, rank] of words) {
      const dictionary = zxcvbnOptions.rankedDictionaries[list]!;
      expect(word in dictionary, `${word} in ${list}`).toBe(true);
      expect(dictionary[word], `${word} in ${list}`).toBe(rank);
      // ...and the policy refuses its word.
      expect((await reject(word)).code, word).toBe("weak_password");
    }
  });

  it("refuses to check once zxcvbn's lists were replaced, rather than check against nothing", async () => {
    await assertStrongPassword("violet-harbor-73-lantern");
    const { dictionary, rankedDictionaries, rankedDictionariesMaxWordSize } = zxcvbnOptions;
    // Rebuilt from the (emptied) arrays: "baseball" would pass against these.
    zxcvbnOptions.setOptions({ dictionary: { passwords: common.dictionary.passwords } });
    try {
      await expect(assertStrongPassword("baseball")).rejects.toThrow(/word lists were replaced/);
      // The lists put back but not their longest words' sizes (which bound the lookups): refused too.
      zxcvbnOptions.rankedDictionaries = rankedDictionaries;
      await expect(assertStrongPassword("baseball")).rejects.toThrow(/word lists were replaced/);
    } finally {
      Object.assign(zxcvbnOptions, { dictionary, rankedDictionaries, rankedDictionariesMaxWordSize });
    }
    expect((await reject("baseball")).code).toBe("weak_password");
    expect((await reject("p@ssw0rd".repeat(4))).code).toBe("weak_password");
  });

  it("accepts a long unusual passphrase", async () => {
    await expect(assertStrongPassword("violet-harbor-73-lantern", ["alice"])).resolves.toBeUndefined();
  });

  it("estimates the first PASSWORD_CHECKED_LENGTH characters only", async () => {
    const strongTail = "Xk9#mQ2$vL7!pR4@";
    // Whole, this would score 4 (a cheap repeat, then 16 random characters); its first 32 are the repeat.
    const weakStart = "a".repeat(PASSWORD_CHECKED_LENGTH) + strongTail;
    expect((await reject(weakStart)).message).toMatch(/Repeated characters/);
    await expect(assertStrongPassword(strongTail + "a".repeat(PASSWORD_CHECKED_LENGTH))).resolves.toBeUndefined();
  });

  it("still counts a name of the user's that runs across the end of the estimated part", async () => {
    const displayName = "Quentin Zephyrine Abernathy-Wolcott";
    // The display name (35 characters) and a digit: only the name's first 32 characters are estimated.
    const password = `${displayName}1`;
    expect(password.length).toBeGreaterThan(PASSWORD_CHECKED_LENGTH);
    expect((await reject(password, ["quentin_z", displayName])).code).toBe("weak_password");
    expect((await reject(password, [displayName.toUpperCase()])).code).toBe("weak_password");
    // With someone else's names those 32 characters are names, words and random ones, as for anyone.
    await expect(assertStrongPassword(password, ["alice"])).resolves.toBeUndefined();
  });
});
