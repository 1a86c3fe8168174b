import { AuthSession, type LockRunner } from "./auth";
import type { BackoffOptions } from "./backoff";
import { ChatSocket, type ChatSocketOptions } from "./chat-socket";
import type { WebSocketConstructor } from "./reconnecting-socket";
import { createRestClient, type FetchLike, type RestClient } from "./rest";
import { memoryTokenStorage, type TokenStorage } from "./token-storage";
import { type TusUploadOptions, tusUploadOptions, type UploadTarget } from "./uploads";
import { UserSocket, type UserSocketOptions } from "./user-socket";

export type { AuthEvents, SecondFactor, SecondFactorChallenge, SignedIn, SignInResult } from "./auth";
export { AuthSession, webLockRunner } from "./auth";
export { type BackoffOptions, backoffDelay } from "./backoff";
export type * from "./chat-frames";
export { ChatSocket, type ChatSocketEvents, type ChatSocketOptions, chatCloseAction } from "./chat-socket";
export { type Listener, TypedEmitter } from "./emitter";
export { ApiError, SignedOutError, SocketRequestError } from "./errors";
export type { components, operations, paths } from "./generated/api";
export type * from "./hub-frames";
export type { PendingMessage } from "./outbox";
export {
  type CloseAction,
  HEARTBEAT_TIMEOUT_CLOSE,
  type SocketState,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./reconnecting-socket";
export type { FetchLike, HttpMethod, OptionsArg, PathsFor, RequestOptions, RestClient, SuccessBody } from "./rest";
export type { Ack } from "./socket-requests";
export { type KeyValueStorage, localStorageTokenStorage, memoryTokenStorage, type StoredTokens, type TokenStorage } from "./token-storage";
export { mediaIdFromUploadUrl, type TusUploadOptions, tusUploadOptions, type UploadTarget } from "./uploads";
export { UserSocket, type UserSocketEvents, type UserSocketOptions, userCloseAction } from "./user-socket";

export interface ClientOptions {
  /** The deployment's origin, e.g. `https://chat.example.com` (paths carry `/api/v1`). */
  baseUrl: string;
  /** Where tokens are kept (default: in memory). In a browser, `localStorageTokenStorage()` survives reloads. */
  storage?: TokenStorage;
  /** Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Defaults to the global WebSocket; in Node before 22, pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** Refresh the access token when it has less than this left (default 60 s). */
  refreshMarginMs?: number;
  /** Serializes refreshes across tabs (default: the Web Locks API where there is one). */
  lock?: LockRunner;
  /** Reconnection backoff of every socket (each socket may override it). */
  backoff?: BackoffOptions;
  /** Socket heartbeat (ping after this long without a frame; default 25 s, 0: off). */
  heartbeatMs?: number;
}

/** The client: typed REST calls, the session, the sockets and the upload helper, sharing one session. */
export interface MessengerClient {
  readonly baseUrl: string;
  /** REST calls typed from the server's OpenAPI document, with the session's token. */
  readonly api: RestClient;
  readonly auth: AuthSession;
  /** A chat's socket (not started: call `start()`). */
  chatSocket(chatId: string, options?: Omit<ChatSocketOptions, "chatId">): ChatSocket;
  /** The user's realtime socket (not started: call `start()`). */
  userSocket(options?: UserSocketOptions): UserSocket;
  /** tus-js-client options for an upload as the signed-in user. */
  tusUploadOptions(target: UploadTarget, options?: { chunkSize?: number; retryDelays?: number[] }): TusUploadOptions;
}

/**
 * Create a client for one deployment. In a browser everything defaults to the platform (fetch,
 * WebSocket, Web Locks); elsewhere pass implementations (`ws` for WebSocket in Node tests).
 *
 * @example
 * const client = createClient({ baseUrl: "https://chat.example.com", storage: localStorageTokenStorage() });
 * const result = await client.auth.signIn({ identifier: "alice", password });
 * if (result.status === "secondFactorRequired") await result.challenge.verify({ code: prompt("Code?")! });
 * const { items } = await client.api.get("/api/v1/chats", { query: { limit: 20 } });
 */
export function createClient(options: ClientOptions): MessengerClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const auth = new AuthSession({
    rest: createRestClient({ baseUrl, fetch: fetchImpl }),
    storage: options.storage ?? memoryTokenStorage(),
    refreshMarginMs: options.refreshMarginMs,
    lock: options.lock,
  });
  const api = createRestClient({ baseUrl, fetch: fetchImpl, tokens: auth });
  const webSocket = (): WebSocketConstructor => {
    const found = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!found) throw new Error("no WebSocket here: pass one to createClient (the `ws` package in Node)");
    return found;
  };
  const socketDefaults = { backoff: options.backoff, heartbeatMs: options.heartbeatMs };
  return {
    baseUrl,
    api,
    auth,
    chatSocket: (chatId, socketOptions = {}) => new ChatSocket(baseUrl, auth, webSocket(), { ...socketDefaults, ...socketOptions, chatId }),
    userSocket: (socketOptions = {}) => new UserSocket(baseUrl, auth, webSocket(), { ...socketDefaults, ...socketOptions }),
    tusUploadOptions: (target, uploadOptions) => tusUploadOptions(baseUrl, auth, target, uploadOptions),
  };
}
