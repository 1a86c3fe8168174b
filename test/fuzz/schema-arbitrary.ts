import fc from "fast-check";
import type { JsonSchema } from "./openapi-doc";

/** Real values the generated requests use where a field names one (ids of real rows, so deeper code runs). */
export interface ValuePool {
  /** Real uuids (users, chats, messages, media, …) mixed into `format: uuid` fields. */
  uuids: string[];
}

/** How `arbitraryFor` resolves refs, which real values it mixes in, and how deep it goes. */
export interface ArbitraryOptions {
  /** Follow `#/components/schemas/...` refs. */
  deref: (schema: JsonSchema) => JsonSchema;
  pool: ValuePool;
  /** How many more levels of nested objects/arrays to generate (recursive schemas stop here). */
  depth?: number;
}

const ISO_MIN = Date.UTC(2000, 0, 1);
const ISO_MAX = Date.UTC(2100, 0, 1);

/** Strings within [min, max] length, short ones most often, and each bound itself (boundary values). */
function lengthBounded(min: number, max: number): fc.Arbitrary<string> {
  const soft = Math.min(max, Math.max(min, 24));
  const pick = (length: number) => fc.string({ minLength: length, maxLength: length, unit: "grapheme-ascii" });
  return fc.oneof(
    { weight: 6, arbitrary: fc.string({ minLength: min, maxLength: soft }) },
    { weight: 1, arbitrary: pick(min) },
    { weight: 1, arbitrary: pick(max) },
  );
}

function stringArbitrary(schema: JsonSchema, pool: ValuePool): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 64, 10_000);
  switch (schema.format) {
    case "uuid":
      return pool.uuids.length ? fc.oneof(fc.constantFrom(...pool.uuids), fc.uuid()) : fc.uuid();
    case "email":
      return fc.emailAddress().filter((e) => e.length <= max && e.length >= min);
    case "date-time":
      return fc.integer({ min: ISO_MIN, max: ISO_MAX }).map((t) => new Date(t).toISOString());
    case "uri":
      return fc.webUrl({ validSchemes: ["https"] }).filter((u) => u.length <= max);
  }
  if (typeof schema.pattern === "string") {
    try {
      // Lengths are fitted by repeating or cutting (no filter: a rare length would stall generation);
      // for the character-class patterns the document uses, the result still matches.
      return fc
        .stringMatching(new RegExp(schema.pattern))
        .map((s) => (s.length && s.length < min ? s.repeat(Math.ceil(min / s.length)) : s).slice(0, max));
    } catch {
      // a pattern fast-check cannot invert: plain strings (most will be rejected, which is also a case)
    }
  }
  return lengthBounded(min, max);
}

function numberArbitrary(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (integer ? 1 : 1e-9) : -1e6);
  const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - (integer ? 1 : 1e-9) : 1e6);
  const lo = Math.max(min, Number.MIN_SAFE_INTEGER);
  const hi = Math.min(max, Number.MAX_SAFE_INTEGER);
  const inner = integer ? fc.integer({ min: lo, max: hi }) : fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
  return fc.oneof({ weight: 4, arbitrary: inner }, { weight: 1, arbitrary: fc.constantFrom(lo, hi) });
}

/**
 * A fast-check arbitrary of values that the JSON Schema `schema` accepts (the subset the served
 * document uses: object, array, string with lengths, pattern and formats, integer and number with
 * bounds, boolean, null, enum, const, anyOf/oneOf, allOf of objects, type lists, `$ref`).
 */
export function arbitraryFor(schema: JsonSchema, options: ArbitraryOptions): fc.Arbitrary<unknown> {
  const depth = options.depth ?? 4;
  const s = options.deref(schema) ?? {};
  const next = (child: JsonSchema) => arbitraryFor(child, { ...options, depth: depth - 1 });
  if ("const" in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (Array.isArray(alternatives)) return fc.oneof(...alternatives.map(next));
  if (Array.isArray(s.allOf)) {
    const parts = s.allOf.map((part: JsonSchema) => options.deref(part));
    const merged = {
      type: "object",
      properties: Object.assign({}, ...parts.map((p: JsonSchema) => p.properties ?? {})),
      required: parts.flatMap((p: JsonSchema) => p.required ?? []),
    };
    return arbitraryFor(merged, options);
  }
  if (Array.isArray(s.type)) return fc.oneof(...s.type.map((type: string) => arbitraryFor({ ...s, type }, options)));
  switch (s.type) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer":
      return numberArbitrary(s, true);
    case "number":
      return numberArbitrary(s, false);
    case "string":
      return stringArbitrary(s, options.pool);
    case "array": {
      if (depth <= 0) return fc.constant([]);
      const minLength = s.minItems ?? 0;
      const maxLength = Math.min(s.maxItems ?? 5, Math.max(minLength, 5));
      return fc.array(next(s.items ?? {}), { minLength, maxLength });
    }
    case "object": {
      const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
      if (depth <= 0 && !(s.required ?? []).length) return fc.constant({});
      const shape = Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, next(child)]));
      const record = fc.record(shape, { requiredKeys: (s.required ?? []).filter((k: string) => k in properties) });
      // An open object (`additionalProperties: {}`): add a few keys of its own.
      if (s.additionalProperties && typeof s.additionalProperties === "object" && !Object.keys(properties).length) {
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()), {
          maxKeys: 3,
        });
      }
      return record;
    }
  }
  // No type: anything JSON.
  return fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
}
