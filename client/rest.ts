import { ApiError } from "./errors";
import type { paths } from "./generated/api";

/** The HTTP methods of the API's JSON operations. */
export type HttpMethod = "get" | "put" | "post" | "delete" | "patch";

/** The API's paths (as in /openapi.json, `/api/v1/…` with `{param}`s) that have an operation for `M`. */
export type PathsFor<M extends HttpMethod> = {
  [P in keyof paths]: [NonNullable<paths[P][M]>] extends [never] ? never : P;
}[keyof paths];

/** The generated operation type of `M` on `P`. */
export type Operation<P extends keyof paths, M extends HttpMethod> = NonNullable<paths[P][M]>;

type Defined<T> = Exclude<T, undefined>;
type Parameters_<O, K extends "path" | "query"> = O extends { parameters: { [_ in K]?: infer X } } ? Defined<X> : never;
type JsonBodyOf<O> = O extends { requestBody?: infer B }
  ? Defined<B> extends { content: { "application/json": infer J } }
    ? J
    : never
  : never;
type BodyRequired<O> = O extends { requestBody: object } ? true : false;

/** What a call passes besides the path: `path` parameters, `query`, JSON `body` (each typed from the operation). */
export type RequestOptions<O> = ([Parameters_<O, "path">] extends [never] ? { path?: never } : { path: Parameters_<O, "path"> }) &
  ([Parameters_<O, "query">] extends [never]
    ? { query?: never }
    : object extends Parameters_<O, "query">
      ? { query?: Parameters_<O, "query"> }
      : { query: Parameters_<O, "query"> }) &
  ([JsonBodyOf<O>] extends [never]
    ? { body?: never }
    : BodyRequired<O> extends true
      ? { body: JsonBodyOf<O> }
      : { body?: JsonBodyOf<O> }) & {
    /** Extra request headers. */
    headers?: Record<string, string>;
    signal?: AbortSignal;
    /** `false`: send no access token even when signed in (public routes). */
    auth?: boolean;
  };

/** The options argument: required when the operation needs path parameters, a body or a query. */
export type OptionsArg<O> = object extends RequestOptions<O> ? [options?: RequestOptions<O>] : [options: RequestOptions<O>];

type SuccessStatus = 200 | 201 | 202 | 203 | 204 | 205 | 206;
type JsonOf<R> = R extends { content: { "application/json": infer J } } ? J : undefined;
/** The JSON body of the operation's 2xx answers (undefined for 204). */
export type SuccessBody<O> = O extends { responses: infer R }
  ? { [S in keyof R]: S extends SuccessStatus ? JsonOf<R[S]> : never }[keyof R]
  : never;

/** A `fetch` (the global one in browsers, Node and Workers, or a test's). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Where REST calls get their access token, and what they do when the API refuses it (auth.ts):
 * `rejected` refreshes (once, shared) and returns the token to retry with, or null to give up.
 */
export interface AccessTokenProvider {
  accessToken(): Promise<string | null>;
  rejected(token: string, error: ApiError): Promise<string | null>;
}

/** Typed calls to the API: `api.get("/api/v1/chats/{chatId}", { path: { chatId } })` resolves to the 2xx body, or throws ApiError. */
export interface RestClient {
  request<M extends HttpMethod, P extends PathsFor<M>>(
    method: M,
    path: P,
    ...options: OptionsArg<Operation<P, M>>
  ): Promise<SuccessBody<Operation<P, M>>>;
  get<P extends PathsFor<"get">>(path: P, ...options: OptionsArg<Operation<P, "get">>): Promise<SuccessBody<Operation<P, "get">>>;
  post<P extends PathsFor<"post">>(path: P, ...options: OptionsArg<Operation<P, "post">>): Promise<SuccessBody<Operation<P, "post">>>;
  put<P extends PathsFor<"put">>(path: P, ...options: OptionsArg<Operation<P, "put">>): Promise<SuccessBody<Operation<P, "put">>>;
  patch<P extends PathsFor<"patch">>(path: P, ...options: OptionsArg<Operation<P, "patch">>): Promise<SuccessBody<Operation<P, "patch">>>;
  delete<P extends PathsFor<"delete">>(
    path: P,
    ...options: OptionsArg<Operation<P, "delete">>
  ): Promise<SuccessBody<Operation<P, "delete">>>;
}

/** Untyped view of the options, for the implementation. */
interface LooseOptions {
  path?: Record<string, string | number>;
  query?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  auth?: boolean;
}

/** `/chats/{chatId}` with `{chatId: "x"}` and a query → `/chats/x?limit=20` (arrays repeat the key; undefined is left out). */
export function buildPath(template: string, options: LooseOptions = {}): string {
  const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = options.path?.[name];
    if (value === undefined) throw new TypeError(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(String(value));
  });
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) query.append(key, String(item));
  }
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}

/**
 * A RestClient for the API at `baseUrl` (its origin, e.g. `https://chat.example.com`; paths carry
 * `/api/v1`). With `tokens`, calls carry the access token, and a `401` for an expired or unreadable
 * token is retried once with the token `tokens.rejected` hands back (one refresh shared by every caller).
 */
export function createRestClient({
  baseUrl,
  fetch,
  tokens,
}: {
  baseUrl: string;
  fetch: FetchLike;
  tokens?: AccessTokenProvider;
}): RestClient {
  const origin = baseUrl.replace(/\/+$/, "");

  const send = (method: string, url: string, options: LooseOptions, token: string | null) => {
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    return fetch(url, {
      method: method.toUpperCase(),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  };

  const request = async (method: HttpMethod, template: string, options: LooseOptions = {}): Promise<unknown> => {
    const url = origin + buildPath(template, options);
    const useToken = options.auth !== false && tokens !== undefined;
    let token = useToken ? await tokens.accessToken() : null;
    let res = await send(method, url, options, token);
    if (res.status === 401 && token && tokens) {
      const error = await ApiError.fromResponse(res);
      token = await tokens.rejected(token, error);
      if (!token) throw error;
      res = await send(method, url, options, token);
    }
    if (!res.ok) throw await ApiError.fromResponse(res);
    const text = await res.text();
    return text ? JSON.parse(text) : undefined;
  };

  const loose = request as (method: HttpMethod, path: string, options?: LooseOptions) => Promise<never>;
  return {
    request: (method, path, ...[options]) => loose(method, path, options as LooseOptions),
    get: (path, ...[options]) => loose("get", path, options as LooseOptions),
    post: (path, ...[options]) => loose("post", path, options as LooseOptions),
    put: (path, ...[options]) => loose("put", path, options as LooseOptions),
    patch: (path, ...[options]) => loose("patch", path, options as LooseOptions),
    delete: (path, ...[options]) => loose("delete", path, options as LooseOptions),
  };
}
