import fc from "fast-check";

/** Kinds of generated request, from well-formed to hostile. */
export type CaseKind =
  | "valid"
  | "wrong-type"
  | "missing-field"
  | "unknown-field"
  | "oversize"
  | "odd-unicode"
  | "malformed-json"
  | "wrong-content-type"
  | "bad-param";

/** Strings that break naive handling: lone surrogates, bidi overrides, zero-width and combining marks, NUL, BOM, line separators. */
export const ODD_STRINGS = [
  "\ud800",
  "x\udfffy",
  "\udbff\udbff",
  "\u202eevil\u202c",
  "\u200f\u200e",
  "a\u200bb\u200dc\u2060",
  `e${"\u0301".repeat(40)}`,
  "\u0000",
  "nul\u0000inside",
  "\ufeffbom",
  "\u2028\u2029",
  "𝕏🏳️‍🌈👩‍👩‍👧‍👦",
  "\uffff\ufffe",
  "' OR 1=1 --",
  "%00%2e%2e%2f",
  "<script>alert(1)</script>",
  "   ",
  "",
];

/** Odd strings alone or mixed into ordinary text. */
export const oddString = fc.oneof(
  fc.constantFrom(...ODD_STRINGS),
  fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...ODD_STRINGS), fc.string({ maxLength: 6 })).map((p) => p.join("")),
);

/** A JSON value of another kind than usual (for wrong-type cases). */
export const wrongTypeValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.constantFrom(1e308, -0, 2 ** 53 + 1, -1, 0.5),
  fc.string({ maxLength: 4 }),
  fc.constant([]),
  fc.constant({}),
  fc.constant([[[[]]]]),
);

/** Oversize values: strings up to 200 KB, long arrays, deep nesting. */
export const oversizeValue = fc.oneof(
  fc.constantFrom(10_000, 70_000, 200_000).map((n) => "x".repeat(n)),
  fc.constantFrom(1_001, 20_000).map((n) => Array.from({ length: n }, (_, i) => i)),
  fc.constantFrom(1_001).map((n) => Array.from({ length: n }, () => "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a")),
  fc.constantFrom(200, 2_000).map((depth) => JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`)),
);

/** Field names a mass-assignment attack would try. */
export const unknownKeys = fc.constantFrom("role", "isAdmin", "userId", "id", "ownerId", "verified", "constructor", "__proto__", "x");

/** Bodies that are not JSON, or JSON of the wrong kind at the top. */
export const malformedJson = fc.constantFrom(
  "",
  "{",
  '{"a":',
  "{'single':1}",
  '{"a":1}}',
  '{"a":1} trailing',
  "null",
  "[]",
  "42",
  '"string"',
  "\ufeff{}",
  '{"a":"\\ud800"}',
  '{"__proto__":{"admin":true}}',
  '{"a":NaN}',
  "\u0000",
);

/** Content types a JSON route must refuse (415) or at least not misread. */
export const wrongContentType = fc.constantFrom(
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/xml",
  "application/json-patch+json; charset=utf-16",
  "",
);

/**
 * `encodeURIComponent` that also takes lone surrogates (which it refuses): they go out as the
 * bytes a careless encoder would write (ED A0 80), which is what a hostile client sends anyway.
 */
export function encodeAny(text: string): string {
  const lone = /([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/;
  return text
    .split(lone)
    .map((part, i) => (i % 2 === 1 ? "%ED%A0%80" : encodeURIComponent(part)))
    .join("");
}

/** Path segment values that are not the id a route expects. */
export const badPathParam = fc.oneof(
  fc.constantFrom("..", "%2e%2e", "%2F", "null", "undefined", "0", "-1", "me", "%00", "%F0%9F%92%A9", "a".repeat(300), "%ud800"),
  fc.string({ minLength: 1, maxLength: 12 }).map(encodeAny),
);

type Path = (string | number)[];

/** Every path to a value inside `value` (objects and arrays), at most `maxDepth` deep; the root is `[]`. */
export function pathsOf(value: unknown, maxDepth = 3, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (at.length >= maxDepth || !value || typeof value !== "object") return out;
  const entries = Array.isArray(value) ? value.slice(0, 3).map((v, i) => [i, v] as const) : Object.entries(value);
  for (const [key, child] of entries) out.push(...pathsOf(child, maxDepth, [...at, key]));
  return out;
}

/** A deep copy of `value` with the node at `path` replaced by `replace(old)` (or removed when it returns `undefined`). */
export function replaceAt(value: unknown, path: Path, replace: (old: unknown) => unknown): unknown {
  if (!path.length) return replace(value);
  const copy: any = Array.isArray(value) ? [...value] : { ...(value as object) };
  const [head, ...rest] = path as [string | number, ...Path];
  const child = rest.length ? replaceAt(copy[head], rest, replace) : replace(copy[head]);
  if (child === undefined && !Array.isArray(copy)) delete copy[head];
  else copy[head] = child;
  return copy;
}

/** The object paths (not array elements, not the root) of `value`: candidates for removing a field. */
export const fieldPaths = (value: unknown) => pathsOf(value).filter((p) => p.length > 0 && typeof p[p.length - 1] === "string");

/** The paths whose node is an object: candidates for adding an unknown field. */
export const objectPaths = (value: unknown) =>
  pathsOf(value).filter((p) => {
    let node: any = value;
    for (const k of p) node = node?.[k];
    return node && typeof node === "object" && !Array.isArray(node);
  });
