import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../env";

/**
 * The one error type services throw. Routes never build error bodies: the app's error handler
 * turns an AppError into `{ error: { code, message, details?, requestId } }` with its status.
 */
export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const notFound = (what = "Resource") => new AppError(404, "not_found", `${what} not found`);
/** What an unknown route answers; also what a route the deployment turned off answers (it looks unknown). */
export const noSuchRoute = () => new AppError(404, "not_found", "No such route");

/** What an error answer carries (an AppError does), before it is rendered. */
export interface ErrorAnswer {
  status: ContentfulStatusCode;
  code: string;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
}

/**
 * Render `answer` as the standard error body. Thrown AppErrors come here through errorResponse; a
 * hot refusal may return it directly, since capturing an exception's stack costs more than the
 * rest of such a request (a reconnect storm's remembered 429s in a profile).
 */
export function renderError(answer: ErrorAnswer, c: Context<AppEnv>): Response {
  const body: Record<string, unknown> = { code: answer.code, message: answer.message };
  if (answer.details !== undefined) body.details = answer.details;
  body.requestId = c.get("requestId") ?? "unknown";
  return c.json({ error: body }, answer.status, answer.headers);
}

/** Render any thrown value as the standard error body. Unknown errors become `500 internal`. */
export function errorResponse(err: unknown, c: Context<AppEnv>): Response {
  const requestId = c.get("requestId") ?? "unknown";
  let appError: AppError;
  if (err instanceof AppError) {
    appError = err;
  } else if (err instanceof HTTPException) {
    appError = fromHttpException(err);
  } else {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "unhandled error",
        requestId,
        error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
      }),
    );
    appError = new AppError(500, "internal", "Internal server error");
  }
  return renderError(appError, c);
}

/** Hono and its middleware throw HTTPException; map the ones we meet to stable codes. */
function fromHttpException(err: HTTPException): AppError {
  const status = err.status as ContentfulStatusCode;
  if (status === 413) return new AppError(413, "payload_too_large", "Request body is too large");
  if (status === 400 && /json/i.test(err.message)) {
    return new AppError(400, "malformed_json", "Request body is not valid JSON");
  }
  if (status === 415) {
    return new AppError(415, "unsupported_media_type", "Request body must be sent as Content-Type: application/json");
  }
  if (status === 401) return new AppError(401, "unauthorized", "Authentication required");
  return new AppError(status, status >= 500 ? "internal" : "bad_request", err.message || "Bad request");
}
