import { describe, expect, it } from "vitest";
import { assertStrongPassword, currentParams, hashPassword, PRODUCTION_ARGON2, verifyPassword } from "../src/auth/password";
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

describe("password policy", () => {
  const reject = (password: string, inputs: string[] = []) => {
    try {
      assertStrongPassword(password, inputs);
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      return err as AppError;
    }
    throw new Error(`accepted ${password}`);
  };

  it("rejects common, patterned and personal passwords, saying why", () => {
    expect(reject("password1").message).toMatch(/commonly used|heavily used|frequently used/);
    expect(reject("aaaaaaaaaaaa").message).toMatch(/Repeated characters/);
    expect(reject("marisol_diaz2024", ["marisol_diaz"]).code).toBe("weak_password");
    expect(reject("short").message).toMatch(/8–128/);
  });

  it("accepts a long unusual passphrase", () => {
    expect(() => assertStrongPassword("violet-harbor-73-lantern", ["alice"])).not.toThrow();
  });
});
