import { z } from "@hono/zod-openapi";

/**
 * Free-form JSON objects a client or an app stores with us (user metadata, the `client` part of
 * preferences): checked where they enter, stored as JSON text and returned exactly as stored.
 */

/** A JSON object as stored and returned; its values are any JSON. */
export type JsonObject = Record<string, unknown>;

export interface JsonObjectRules {
  /** Most bytes of its UTF-8 JSON serialization. */
  maxBytes: number;
  /** Most levels of nesting, the object itself being level 1 (an array or object in it is level 2). */
  maxDepth?: number;
  /** Longest key, at every level; keys are never empty when this is set. */
  maxKeyLength?: number;
}

interface Problem {
  path: (string | number)[];
  message: string;
}

/** Bytes of a value's JSON text in UTF-8. */
export const jsonByteLength = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value)).byteLength;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;

/** The first way `value` (at `path`, `depth` levels deep) breaks the rules, or null. */
function valueProblem(value: unknown, rules: JsonObjectRules, path: (string | number)[], depth: number): Problem | null {
  if (value === null || typeof value === "string" || typeof value === "boolean") return null;
  if (typeof value === "number") return Number.isFinite(value) ? null : { path, message: "Numbers must be finite" };
  const container = Array.isArray(value) || isPlainObject(value);
  if (!container) return { path, message: "Values must be JSON: strings, numbers, booleans, null, arrays or objects" };
  if (rules.maxDepth !== undefined && depth > rules.maxDepth) {
    return { path, message: `Nesting is limited to ${rules.maxDepth} levels` };
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const problem = valueProblem(item, rules, [...path, i], depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    if (rules.maxKeyLength !== undefined && (key.length < 1 || key.length > rules.maxKeyLength)) {
      return { path: [...path, key], message: `Keys must be 1–${rules.maxKeyLength} characters` };
    }
    const problem = valueProblem(item, rules, [...path, key], depth + 1);
    if (problem) return problem;
  }
  return null;
}

/** Nesting never goes deeper than this, whatever the rules say (the checks below recurse). */
const HARD_MAX_DEPTH = 32;

/** Whether `value` nests deeper than `limit` levels, found without recursion (a hostile body may nest 100,000 deep). */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > limit) return true;
    for (const item of Array.isArray(v) ? v : Object.values(v)) stack.push([item, depth + 1]);
  }
  return false;
}

/** The first way `value` is not a JSON object under `rules` (path relative to it), or null. */
export function jsonObjectProblem(value: unknown, rules: JsonObjectRules): Problem | null {
  if (!isPlainObject(value)) return { path: [], message: "Must be a JSON object" };
  // Past the hard limit the walk below could run out of stack: refuse first, without recursion.
  const depthLimit = Math.min(rules.maxDepth ?? HARD_MAX_DEPTH, HARD_MAX_DEPTH);
  if (nestsDeeperThan(value, HARD_MAX_DEPTH)) return { path: [], message: `Nesting is limited to ${depthLimit} levels` };
  const problem = valueProblem(value, rules, [], 1);
  if (problem) return problem;
  if (jsonByteLength(value) > rules.maxBytes) return { path: [], message: `Limited to ${rules.maxBytes} bytes of JSON` };
  return null;
}

/**
 * A zod schema for a JSON object under `rules`. Documented as an open object: a recursive JSON
 * schema would recurse in the OpenAPI document. Problems are `validation_failed` issues whose path
 * leads to the offending key or item.
 */
export function jsonObjectSchema(rules: JsonObjectRules, description: string) {
  return z
    .custom<JsonObject>((value) => isPlainObject(value), { message: "Must be a JSON object" })
    .superRefine((value, ctx) => {
      const problem = jsonObjectProblem(value, rules);
      if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    })
    .openapi({ type: "object", additionalProperties: true, description });
}

/** Stored JSON text back as the object it was (null stays null; text that is not an object reads as null). */
export function parseJsonObject(raw: string | null): JsonObject | null {
  if (raw == null) return null;
  try {
    const value = JSON.parse(raw) as unknown;
    return isPlainObject(value) ? value : null;
  } catch {
    return null;
  }
}
