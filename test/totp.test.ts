import { Secret, URI } from "otpauth";
import { describe, expect, it } from "vitest";
import { canonicalRecoveryCode, newRecoveryCode } from "../src/auth/two-factor/recovery-codes";
import { generateTotp, matchTotp, newTotpSecret, otpauthUrl, totpIssuer, totpStep } from "../src/auth/two-factor/totp";

const BASE32_RE = /^[A-Z2-7]+$/;

/** Decode RFC 4648 base32 (no padding) independently of otpauth. */
function base32Decode(s: string): Uint8Array {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

describe("TOTP (RFC 6238)", () => {
  // RFC 6238 Appendix B, SHA-1 rows: the ASCII secret "12345678901234567890", 8 digits, 30 s steps.
  const RFC_SECRET = Secret.fromLatin1("12345678901234567890").base32;
  const VECTORS: [number, string][] = [
    [59, "94287082"],
    [1111111109, "07081804"],
    [1111111111, "14050471"],
    [1234567890, "89005924"],
    [2000000000, "69279037"],
    [20000000000, "65353130"],
  ];

  it("the RFC secret in base32 is the well-known value", () => {
    expect(RFC_SECRET).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    expect(new TextDecoder().decode(base32Decode(RFC_SECRET))).toBe("12345678901234567890");
  });

  it.each(VECTORS)("at T=%i s the 8-digit code is %s", (seconds, expected) => {
    expect(generateTotp(RFC_SECRET, seconds * 1000, 8)).toBe(expected);
  });

  it.each(VECTORS)("at T=%i s the 6-digit code is the last 6 digits of %s, and it validates", (seconds, expected) => {
    const code = generateTotp(RFC_SECRET, seconds * 1000);
    expect(code).toBe(expected.slice(2));
    expect(matchTotp(RFC_SECRET, code, seconds * 1000)).toBe(Math.floor(seconds / 30));
  });

  it("matchTotp accepts the previous, current and next step, returning the matched step, and nothing further", () => {
    const t = 1_700_000_015_000; // mid-step
    const step = Math.floor(t / 30_000);
    expect(totpStep(t)).toBe(step);
    for (const delta of [-1, 0, 1]) {
      expect(matchTotp(RFC_SECRET, generateTotp(RFC_SECRET, t + delta * 30_000), t)).toBe(step + delta);
    }
    for (const delta of [-3, -2, 2, 3]) {
      const code = generateTotp(RFC_SECRET, t + delta * 30_000);
      const nearby = [-1, 0, 1].map((d) => generateTotp(RFC_SECRET, t + d * 30_000));
      expect(nearby).not.toContain(code); // fixed inputs: no accidental collision
      expect(matchTotp(RFC_SECRET, code, t)).toBeNull();
    }
  });

  it("matchTotp refuses malformed codes", () => {
    const t = 1_700_000_015_000;
    const code = generateTotp(RFC_SECRET, t);
    for (const bad of ["", code.slice(1), `${code}0`, "12a456", ` ${code.slice(1)}`, "-12345", "1e5000"]) {
      expect(matchTotp(RFC_SECRET, bad, t), bad).toBeNull();
    }
    expect(matchTotp(RFC_SECRET, generateTotp(RFC_SECRET, t, 8), t)).toBeNull();
  });

  it("new secrets are 160 random bits in base32", () => {
    const a = newTotpSecret();
    const b = newTotpSecret();
    expect(a).toMatch(BASE32_RE);
    expect(a).toHaveLength(32);
    expect(base32Decode(a)).toHaveLength(20);
    expect(a).not.toBe(b);
  });

  it("otpauth URL: type totp, issuer:label, secret, issuer, SHA1, 6 digits, 30 s", () => {
    const secret = newTotpSecret();
    const url = otpauthUrl(secret, "Edge Messenger", "alice_01");
    expect(url.startsWith("otpauth://totp/")).toBe(true);
    const parsed = new URL(url);
    expect(parsed.protocol).toBe("otpauth:");
    expect(parsed.host).toBe("totp");
    expect(decodeURIComponent(parsed.pathname)).toBe("/Edge Messenger:alice_01");
    expect(Object.fromEntries(parsed.searchParams)).toEqual({
      secret,
      issuer: "Edge Messenger",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    // What an authenticator app reads back generates the same codes.
    const app = URI.parse(url);
    expect(app.issuer).toBe("Edge Messenger");
    expect(app.label).toBe("alice_01");
    expect(app.secret.base32).toBe(secret);
    const t = 1_800_000_000_000;
    expect((app as { generate(o: { timestamp: number }): string }).generate({ timestamp: t })).toBe(generateTotp(secret, t));
  });

  it("the issuer comes from TOTP_ISSUER, defaulting to Edge Messenger", () => {
    expect(totpIssuer({})).toBe("Edge Messenger");
    expect(totpIssuer({ TOTP_ISSUER: "  " })).toBe("Edge Messenger");
    expect(totpIssuer({ TOTP_ISSUER: "Acme Chat" })).toBe("Acme Chat");
  });
});

describe("recovery codes", () => {
  it("look like abcd-efgh-jk from an unambiguous alphabet (50 bits) and differ", () => {
    const codes = Array.from({ length: 200 }, newRecoveryCode);
    for (const c of codes) expect(c).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{2}$/);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.join("")).not.toMatch(/[ilou]/);
  });

  it("input forgives case, spaces and dashes, and reads o as 0, i and l as 1", () => {
    expect(canonicalRecoveryCode("7q2m-xk4d-9h")).toBe("7q2mxk4d9h");
    expect(canonicalRecoveryCode(" 7Q2M XK4D 9H ")).toBe("7q2mxk4d9h");
    expect(canonicalRecoveryCode("o1ab-cdef-gh")).toBe("01abcdefgh");
    expect(canonicalRecoveryCode("Il0a-bcde-fg")).toBe("110abcdefg");
  });

  it("refuses what cannot be a code", () => {
    for (const bad of ["", "7q2m-xk4d-9", "7q2m-xk4d-9hh", "uuuu-uuuu-uu", "7q2m_xk4d_9h", "7q2m-xk4d-9h!"]) {
      expect(canonicalRecoveryCode(bad), bad).toBeNull();
    }
  });
});
