import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { throwOnInvalid } from "./validate";

/** Every router is an OpenAPIHono whose validators throw `validation_failed` (see validate.ts). */
export const newRouter = () => new OpenAPIHono<AppEnv>({ defaultHook: throwOnInvalid });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_failed" }),
      message: z.string(),
      details: z.unknown().optional(),
      requestId: z.string(),
    }),
  })
  .openapi("Error");

const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input (`validation_failed`, `malformed_json`, or a rule of the operation)",
  401: "Missing, invalid, expired (`token_expired`) or revoked (`session_revoked`) credentials",
  403: "Not allowed",
  404: "Not found (also for resources the caller may not see)",
  409: "Conflicts with existing data",
  410: "Gone (an expired resumable upload: `upload_expired`)",
  411: "Content-Length missing (`length_required`)",
  412: "Precondition failed (tus: an unsupported `Tus-Resumable` version; see `Tus-Version`)",
  413:
    "Request body too large (`payload_too_large`), storage quota exceeded (`quota_exceeded`) or, for tus, bytes past " +
    "`Upload-Length` (`upload_too_long`)",
  415:
    "Body is not `application/json` (`unsupported_media_type`); for uploads, a type the purpose does not take " +
    "(`unsupported_media_type`) or content that is not the declared type (`media_type_mismatch`)",
  416: "Range not satisfiable (`range_not_satisfiable`, `Content-Range: bytes */size`)",
  422: "Well-formed, but a referenced item does not fit the operation (the code says why)",
  429: "Rate limited (`rate_limited`) or locked out (`too_many_attempts`); see `Retry-After`",
  503:
    "Not available: `server_misconfigured` (outside development without a proper `JWT_SECRET`, so access tokens can be " +
    "neither issued nor checked, or without a message provider) or `not_ready` (readiness)",
};

/** Standard error responses for a route, documented with the shared Error schema. */
export function errorResponses(...statuses: (keyof typeof ERROR_TEXT)[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_TEXT[s]!, content: { "application/json": { schema: ErrorSchema } } }]),
  ) as Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}

/** A JSON response or request body. */
export const json = <T extends z.ZodType>(schema: T, description = "OK") => ({
  description,
  content: { "application/json": { schema } },
});

/** A required JSON request body: non-JSON content types get 415, bad JSON 400. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

/**
 * The operation needs a bearer access token, or a bot's token (the `bearerAuth` and `botAuth`
 * schemes registered in app.ts): a bot may do what a signed-in user may.
 */
export const bearerSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }, { botAuth: [] }];
/** A person's bearer access token only: routes that make no sense for bots (they answer `403 bot_not_allowed`). */
export const userSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }];
/**
 * A bearer access token or a bot token, or an API key acting as a user (`apiKeyAuth` with
 * `X-On-Behalf-Of`; the route's file names the scope it needs: messages:write or chats:write).
 */
export const bearerOrApiKeySecurity: Record<string, string[]>[] = [{ bearerAuth: [] }, { botAuth: [] }, { apiKeyAuth: [] }];
/**
 * Anyone may call the operation. OpenAPI says so with an empty list: a missing `security` means
 * "not stated", which linters and client generators cannot tell from a forgotten one.
 */
export const publicSecurity: Record<string, string[]>[] = [];
export const noContent = { 204: { description: "Done" } } as const;
