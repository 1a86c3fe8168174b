import type { Database } from "./db/client";

/** Bindings plus the secrets that `wrangler types` cannot see (set with `wrangler secret put`). */
export interface Bindings extends Env {
  /** HMAC key for access tokens. Optional only in development, where a built-in value is used. */
  JWT_SECRET?: string;
  /** Upper bound for request bodies in bytes (default 256 KiB). */
  MAX_BODY_BYTES?: string;
}

/** What the auth middleware puts on the context for a signed-in caller. */
export interface AuthContext {
  userId: string;
  sessionId: string;
  tokenId: string;
}

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    db: Database;
    auth: AuthContext;
    /** Lowest remaining budget among the rate limits applied to this request (for its headers). */
    rateLimitRemaining?: number;
  };
};
