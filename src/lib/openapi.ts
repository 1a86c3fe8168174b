import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiKeyScope } from "../db/schema";
import type { AppEnv } from "../env";
import { throwOnInvalid } from "./validate";

/** Every router is an OpenAPIHono whose validators throw `validation_failed` (see validate.ts). */
export const newRouter = () => new OpenAPIHono<AppEnv>({ defaultHook: throwOnInvalid });
/** A router made by `newRouter`. */
export type Router = ReturnType<typeof newRouter>;

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

/**
 * A named schema, or null. Not `schema.nullable()`: that carries the component's name, so the
 * document would mark the component itself nullable, and every other use of it (request bodies
 * among them) would take null too. A union keeps the component as it is and says `anyOf [$ref, null]`.
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);

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
 * schemes registered in src/app/api-document.ts): a bot may do what a signed-in user may.
 */
export const bearerSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }, { botAuth: [] }];
/** A person's bearer access token only: routes that make no sense for bots (they answer `403 bot_not_allowed`). */
export const userSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }];
/**
 * A bearer access token or a bot token, or an API key with `scope` acting as a user (the route's
 * middleware is `requireAuth({ apiKeyScope: scope })`). The served document gives these operations,
 * and only these, the `X-On-Behalf-Of` header (see documentOnBehalfOf).
 */
export const actingUserSecurity = (scope: "messages:write" | "chats:write"): Security => [
  { bearerAuth: [] },
  { botAuth: [] },
  { apiKeyAuth: [scope] },
];
/** The app's backend itself: an API key with `scope` (`requireApiKey(scope)`). */
export const apiKeySecurity = (scope: ApiKeyScope): Security => [{ apiKeyAuth: [scope] }];
/** An admin's bearer token (a bot's: `403 bot_not_allowed`), or the app's backend with an API key with `scope`. */
export const adminOrApiKeySecurity = (scope: ApiKeyScope): Security => [{ bearerAuth: [] }, { apiKeyAuth: [scope] }];

type Security = Record<string, string[]>[];
type Operation = { security?: Security; parameters?: unknown[]; responses?: Record<string, unknown> };

/** The header an API key names the user it acts as with, as the document's parameter component. */
const ON_BEHALF_OF_PARAMETER = {
  name: "X-On-Behalf-Of",
  in: "header",
  required: false,
  description:
    "With an API key (`apiKeyAuth`): the id of the user the key acts as (required then: `400 on_behalf_of_required`; " +
    "`404` for no such user). Ignored with a bearer or bot token.",
  schema: { type: "string", format: "uuid" },
} as const;

/** The scopes of keys that act as a user (messages:write also lets the backend post notices as itself, on a key-only route). */
const ACTING_SCOPES: readonly string[] = ["messages:write", "chats:write"];

/**
 * Add the `X-On-Behalf-Of` header to every operation an API key calls as a user: those whose
 * security takes a user's token and a key with an acting scope alike (actingUserSecurity), with the
 * refusals it brings (400 without it, 403 for a key without the scope or a user who may not sign
 * in, 404 for no such user). The header is read by the auth middleware, not by the route's
 * validator, so it is declared here, once.
 */
export function documentOnBehalfOf<T extends { paths?: object; components?: object }>(doc: T): T {
  const ref = { $ref: "#/components/parameters/OnBehalfOf" };
  for (const item of Object.values(doc.paths ?? {}) as Record<string, Operation>[]) {
    for (const operation of Object.values(item)) {
      const security = operation.security ?? [];
      const keyScopes = security.flatMap((s) => s.apiKeyAuth ?? []);
      const acting = security.some((s) => "bearerAuth" in s) && keyScopes.some((scope) => ACTING_SCOPES.includes(scope));
      if (!acting) continue;
      operation.parameters = [...(operation.parameters ?? []), ref];
      const responses = operation.responses ?? {};
      operation.responses = responses;
      for (const status of [400, 403, 404] as const) {
        responses[status] ??= {
          description: ERROR_TEXT[status],
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        };
      }
    }
  }
  const components = (doc.components ?? {}) as Record<string, Record<string, unknown> | undefined>;
  components.parameters = { ...components.parameters, OnBehalfOf: ON_BEHALF_OF_PARAMETER };
  return { ...doc, components };
}

/**
 * Anyone may call the operation. OpenAPI says so with an empty list: a missing `security` means
 * "not stated", which linters and client generators cannot tell from a forgotten one.
 */
export const publicSecurity: Record<string, string[]>[] = [];
export const noContent = { 204: { description: "Done" } } as const;
