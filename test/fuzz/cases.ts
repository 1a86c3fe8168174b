import fc from "fast-check";
import {
  badPathParam,
  type CaseKind,
  encodeAny,
  fieldPaths,
  malformedJson,
  objectPaths,
  oddString,
  oversizeValue,
  pathsOf,
  replaceAt,
  unknownKeys,
  wrongContentType,
  wrongTypeValue,
} from "./hostile";
import type { OpenApiModel, Operation } from "./openapi-doc";
import { arbitraryFor, type ValuePool } from "./schema-arbitrary";

/** One generated request for an operation. */
export interface FuzzCase {
  kind: CaseKind;
  /** Path parameters that replace the real ones (bad-param cases). */
  pathOverrides: Record<string, string>;
  query: [string, string][];
  /** The body as sent (text), and its content type (`null`: no header). */
  body: { text: string; contentType: string | null } | null;
}

const PNG_MAGIC = "\u0089PNG\r\n\u001a\n";

/** A query value as a client would write it. */
const queryText = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

function queryArbitrary(op: Operation, model: OpenApiModel, pool: ValuePool): fc.Arbitrary<[string, string][]> {
  const params = op.parameters.filter((p) => p.in === "query");
  if (!params.length) return fc.constant([]);
  const shape = Object.fromEntries(params.map((p) => [p.name, arbitraryFor(p.schema, { deref: model.deref, pool, depth: 1 })]));
  const required = params.filter((p) => p.required).map((p) => p.name);
  return fc
    .record(shape, { requiredKeys: required })
    .map((q) => Object.entries(q).flatMap(([k, v]) => (v === null || v === undefined ? [] : [[k, queryText(v)] as [string, string]])));
}

const json = (value: unknown) => ({ text: JSON.stringify(value), contentType: "application/json" });

/** The body arbitrary of a valid request (null for operations without a JSON body). */
function validBody(op: Operation, model: OpenApiModel, pool: ValuePool) {
  if (op.jsonBody) return arbitraryFor(op.jsonBody, { deref: model.deref, pool });
  return null;
}

/** Mutate a valid body into a hostile one of `kind`. */
function hostileBody(kind: CaseKind, valid: fc.Arbitrary<unknown>): fc.Arbitrary<FuzzCase["body"]> {
  switch (kind) {
    case "wrong-type":
      return fc.tuple(valid, fc.nat(), wrongTypeValue).map(([v, i, bad]) => {
        const paths = pathsOf(v);
        return json(replaceAt(v, paths[i % paths.length]!, () => bad));
      });
    case "missing-field":
      return fc.tuple(valid, fc.nat()).map(([v, i]) => {
        const paths = fieldPaths(v);
        return json(paths.length ? replaceAt(v, paths[i % paths.length]!, () => undefined) : {});
      });
    case "unknown-field":
      return fc.tuple(valid, fc.nat(), unknownKeys, wrongTypeValue).map(([v, i, key, extra]) => {
        const paths = objectPaths(v);
        if (!paths.length) return json(v);
        const text = JSON.stringify(
          replaceAt(v, paths[i % paths.length]!, (o) => ({ ...(o as object), [key === "__proto__" ? "__marker__" : key]: extra })),
        );
        // A literal "__proto__" key can only be written in JSON text.
        return { text: text.replace('"__marker__"', '"__proto__"'), contentType: "application/json" };
      });
    case "oversize":
      return fc.tuple(valid, fc.nat(), oversizeValue).map(([v, i, big]) => {
        const paths = pathsOf(v);
        return json(replaceAt(v, paths[i % paths.length]!, () => big));
      });
    case "odd-unicode":
      return fc.tuple(valid, fc.nat(), oddString).map(([v, i, odd]) => {
        const strings = pathsOf(v, 4).filter((p) => {
          let node: any = v;
          for (const k of p) node = node?.[k];
          return typeof node === "string";
        });
        const paths = strings.length ? strings : pathsOf(v);
        return json(replaceAt(v, paths[i % paths.length]!, () => odd));
      });
    case "malformed-json":
      return malformedJson.map((text) => ({ text, contentType: "application/json" }));
    case "wrong-content-type":
      return fc.tuple(valid, wrongContentType).map(([v, type]) => ({ text: JSON.stringify(v), contentType: type || null }));
    default:
      return valid.map(json);
  }
}

/** Query parameters with one value made hostile. */
function hostileQuery(query: fc.Arbitrary<[string, string][]>, names: string[]) {
  return fc
    .tuple(query, fc.constantFrom(...names), fc.oneof(oddString, wrongTypeValue.map(queryText), fc.constant("9".repeat(400))))
    .map(([q, name, bad]) => [...q.filter(([k]) => k !== name), [name, bad] as [string, string]]);
}

/**
 * Every kind of request for `op`: valid ones (from its documented schemas, with real ids) most
 * often, then each hostile kind that applies to what the operation takes.
 */
export function caseArbitrary(op: Operation, model: OpenApiModel, pool: ValuePool): fc.Arbitrary<FuzzCase> {
  const query = queryArbitrary(op, model, pool);
  const body = validBody(op, model, pool);
  const pathNames = op.parameters.filter((p) => p.in === "path").map((p) => p.name);
  const queryNames = op.parameters.filter((p) => p.in === "query").map((p) => p.name);
  const make = (
    kind: CaseKind,
    bodyArb: fc.Arbitrary<FuzzCase["body"]>,
    q = query,
    overrides: fc.Arbitrary<Record<string, string>> = fc.constant({}),
  ) => fc.record({ kind: fc.constant(kind), pathOverrides: overrides, query: q, body: bodyArb });
  const rawValid: fc.Arbitrary<FuzzCase["body"]> = op.rawBody
    ? fc.oneof(
        fc.constant({ text: `${PNG_MAGIC}not really`, contentType: "image/png" }),
        fc.string().map((text) => ({ text, contentType: "text/plain" })),
      )
    : fc.constant(null);
  const validArb = body ? body.map(json) : rawValid;
  const kinds: { weight: number; arbitrary: fc.Arbitrary<FuzzCase> }[] = [{ weight: 4, arbitrary: make("valid", validArb) }];
  if (body) {
    for (const kind of [
      "wrong-type",
      "missing-field",
      "unknown-field",
      "oversize",
      "odd-unicode",
      "malformed-json",
      "wrong-content-type",
    ] as const) {
      kinds.push({ weight: 1, arbitrary: make(kind, hostileBody(kind, body)) });
    }
  }
  if (queryNames.length) kinds.push({ weight: 2, arbitrary: make("bad-param", validArb, hostileQuery(query, queryNames)) });
  if (pathNames.length) {
    const overrides = fc
      .tuple(fc.constantFrom(...pathNames), fc.oneof(badPathParam, oddString.map(encodeAny)))
      .map(([n, v]) => ({ [n]: v }));
    kinds.push({ weight: 2, arbitrary: make("bad-param", validArb, query, overrides) });
  }
  return fc.oneof(...kinds);
}

/** A short, readable description of a case for failure messages. */
export function describeCase(c: FuzzCase): string {
  const body = c.body
    ? `${c.body.contentType ?? "(no type)"} ${c.body.text.length > 300 ? `${c.body.text.slice(0, 300)}… (${c.body.text.length} chars)` : c.body.text}`
    : "";
  return `${c.kind} path=${JSON.stringify(c.pathOverrides)} query=${JSON.stringify(c.query)} ${body}`;
}
