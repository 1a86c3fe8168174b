import type { Hook } from "@hono/zod-openapi";
import type { z } from "zod";
import { AppError } from "./errors";

/** How a validator target is named in error paths: `body.username`, `query.limit`, `params.id`. */
const TARGET_NAMES: Record<string, string> = { json: "body", param: "params", query: "query", header: "headers" };

/** One shape for every validation problem: where, what went wrong, zod's issue code. */
export function validationError(error: z.ZodError, target?: string): AppError {
  const prefix = target ? [TARGET_NAMES[target] ?? target] : [];
  const details = error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map(String)].join("."),
    code: issue.code,
    message: issue.message,
  }));
  const first = details[0];
  const message = first ? `Invalid ${first.path || "input"}: ${first.message}` : "Invalid input";
  return new AppError(400, "validation_failed", message, details);
}

/**
 * The throwing validator hook: every route's params, query, headers and JSON body pass through
 * it, so a bad input anywhere becomes the same `400 validation_failed` error.
 */
// biome-ignore lint/suspicious/noExplicitAny: one hook serves every route, whatever its input and env types.
export const throwOnInvalid: Hook<any, any, any, any> = (result) => {
  if (!result.success) throw validationError(result.error as z.ZodError, result.target);
};

/**
 * Validate a value outside the route validators (WebSocket frames, RPC input, route middleware)
 * with the same errors; `target` names where it came from (`param`, `query`, …) in error paths.
 */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, target?: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, target);
  return parsed.data;
}

/** C0/C1 control characters (tabs and newlines included): never in names or one-line text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
export const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
/** The same but for line feeds: multi-line text (bios, descriptions) may hold line breaks. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
export const CONTROL_EXCEPT_NEWLINE_RE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
