import type { Database } from "./db/client";
import type { ApiKeyScope, chatMembers, chats } from "./db/schema";

/** Bindings plus the secrets that `wrangler types` cannot see (set with `wrangler secret put`). */
export interface Bindings extends Env {
  /** HMAC key for access tokens. Optional only in development, where a built-in value is used. */
  JWT_SECRET?: string;
  /**
   * HMAC key for signed media URLs (at least 32 characters, not the JWT secret). Optional only in
   * development, where a key derived from the JWT secret is used.
   */
  MEDIA_URL_SECRET?: string;
  /** Bytes each user may store (default 5 GB, counting uploads in progress). */
  MEDIA_QUOTA_BYTES?: string;
  /** Lifetime of signed media URLs in seconds (default 900). */
  MEDIA_URL_TTL_SECONDS?: string;
  /** Upper bound for request bodies in bytes (default 256 KiB). */
  MAX_BODY_BYTES?: string;
  /** Chats with more members than this do not tell every member's hub of each message (0: none do). */
  HUB_FANOUT_MAX_MEMBERS?: string;
  /** Web Push (VAPID) key pair: base64url raw P-256 public key and 32-byte private key. Development derives one. */
  VAPID_PUBLIC_KEY?: string;
  VAPID_PRIVATE_KEY?: string;
  /** Firebase Cloud Messaging: the service account's JSON key (a secret). Unset: FCM targets are refused. */
  FCM_SERVICE_ACCOUNT?: string;
  /** FCM's API origin (default https://fcm.googleapis.com); a local stand-in in tests and development. */
  FCM_API_URL?: string;
  /** The before-send hook: an endpoint that sees each message first and may refuse or rewrite it. */
  BEFORE_SEND_URL?: string;
  /** `whsec_…` key the hook's requests are signed with (Standard Webhooks headers). */
  BEFORE_SEND_SECRET?: string;
  /** Milliseconds the hook may take (100–5000, default 1500). */
  BEFORE_SEND_TIMEOUT_MS?: string;
  /** `open` (default): a failing hook lets messages through; `closed`: it refuses them (503). */
  BEFORE_SEND_FAILURE?: string;
  /** Outgoing email: `resend` (HTTP API) or `log` (development outbox). */
  EMAIL_PROVIDER?: string;
  EMAIL_API_KEY?: string;
  EMAIL_FROM?: string;
  /** Outgoing SMS: `twilio` (Messages API) or `log` (development outbox). */
  SMS_PROVIDER?: string;
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  /** A phone number or a Messaging Service SID (`MG…`). */
  SMS_FROM?: string;
  /** Issuer shown in authenticator apps (default "Edge Messenger"). */
  TOTP_ISSUER?: string;
  /** Calls: the TURN servers' shared secret for ephemeral credentials (coturn `static-auth-secret`). Development derives one. */
  TURN_SECRET?: string;
  /** Calls: lifetime of TURN credentials in seconds (60–86400, default 3600). */
  TURN_CREDENTIAL_TTL_SECONDS?: string;
  /** Calls larger than a mesh: `cloudflare` (Cloudflare Realtime SFU) with its app id and secret; unset: none. */
  SFU_PROVIDER?: string;
  SFU_APP_ID?: string;
  SFU_APP_SECRET?: string;
  /** The SFU API's base URL (default https://rtc.live.cloudflare.com/v1; a local stand-in for trials). */
  SFU_API_URL?: string;
  /**
   * Comma-separated usernames that may become the first admin (see src/admin/middleware.ts):
   * promoted on their first admin request while no active admin exists. A wrangler.toml var.
   */
  ADMIN_USERNAMES: string;
}

/** What the auth middleware puts on the context for a signed-in caller. */
export interface AuthContext {
  userId: string;
  sessionId: string;
  tokenId: string;
}

/** The chat in the path and the caller's membership of it, set by the chat middleware (src/chats/access.ts). */
export interface ChatAccess {
  chat: typeof chats.$inferSelect;
  member: typeof chatMembers.$inferSelect;
}

/** What requireRole puts on the context for a moderator or admin (src/admin/middleware.ts). */
export interface StaffContext {
  userId: string;
  role: "moderator" | "admin";
}

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    db: Database;
    auth: AuthContext;
    /** Set by the chat middleware on every route under /chats/{chatId}. */
    chatAccess: ChatAccess;
    /** Set by requireRole on moderator and admin routes. */
    staff: StaffContext;
    /** Set when an API key authenticated the request (auth/api-keys.ts). */
    apiKey?: { id: string; scopes: ApiKeyScope[] };
    /** Lowest remaining budget among the rate limits applied to this request (for its headers). */
    rateLimitRemaining?: number;
  };
};
