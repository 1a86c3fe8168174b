/**
 * A refusal from the API: the HTTP status and the body's `{ error: { code, message, details?,
 * requestId } }` (README, Error codes). `code` is the stable part to branch on.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
  }

  /** An ApiError from a response that is not 2xx (its body, when it is the API's error shape). */
  static async fromResponse(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => "");
    let error: { code?: unknown; message?: unknown; details?: unknown; requestId?: unknown } | undefined;
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error;
    } catch {
      // not JSON: a proxy's page, an empty body
    }
    const code = typeof error?.code === "string" ? error.code : `http_${res.status}`;
    const message = typeof error?.message === "string" ? error.message : `HTTP ${res.status}`;
    const requestId = typeof error?.requestId === "string" ? error.requestId : (res.headers.get("x-request-id") ?? undefined);
    return new ApiError(res.status, code, message, error?.details, requestId);
  }
}

/** The session is over (signed out here or elsewhere, revoked, refresh token reused): sign in again. */
export class SignedOutError extends Error {
  override readonly name = "SignedOutError";

  constructor(readonly reason: string) {
    super(`Not signed in (${reason})`);
  }
}

/** An `error` frame answering a socket request (`code` as in the REST error codes). */
export class SocketRequestError extends Error {
  override readonly name = "SocketRequestError";

  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
