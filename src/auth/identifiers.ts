/**
 * Normalization of the things people sign in with. Usernames are [a-z0-9_] (input is lower-cased),
 * emails are trimmed and lower-cased, phones are E.164 (`+` and 8–15 digits; spaces, dashes,
 * dots and parentheses are dropped).
 */
export const USERNAME_RE = /^[a-z0-9_]{3,32}$/;
export const E164_RE = /^\+[1-9]\d{7,14}$/;

export const normalizeUsername = (s: string) => s.trim().toLowerCase();
export const normalizeEmail = (s: string) => s.trim().toLowerCase();
export const normalizePhone = (s: string) => s.trim().replace(/[\s\-().]/g, "");

export type IdentifierKind = "username" | "email" | "phone";

/** Decide what a login identifier is and normalize it accordingly. */
export function classifyIdentifier(raw: string): { kind: IdentifierKind; value: string } {
  const s = raw.trim();
  if (s.includes("@")) return { kind: "email", value: normalizeEmail(s) };
  if (s.startsWith("+")) return { kind: "phone", value: normalizePhone(s) };
  return { kind: "username", value: normalizeUsername(s) };
}
