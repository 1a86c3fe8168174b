import { importPKCS8, SignJWT } from "jose";
import { z } from "zod";
import type { Bindings } from "../env";

/**
 * Firebase Cloud Messaging, HTTP v1: `POST {FCM}/v1/projects/{project}/messages:send` with an
 * OAuth access token that the service account's key mints (a JWT bearer grant signed RS256 with
 * jose), cached until five minutes before it expires. Messages are data-only, so the app decides
 * how to show them and an encrypted chat's notification carries no content.
 */

const ServiceAccount = z.object({
  project_id: z.string().min(1),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  token_uri: z.url().default("https://oauth2.googleapis.com/token"),
});
export type ServiceAccount = z.infer<typeof ServiceAccount>;

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

/** The configured service account, or null when FCM is not set up (or its JSON is not a service account key). */
export function fcmServiceAccount(env: Pick<Bindings, "FCM_SERVICE_ACCOUNT">): ServiceAccount | null {
  if (!env.FCM_SERVICE_ACCOUNT) return null;
  try {
    const parsed = ServiceAccount.safeParse(JSON.parse(env.FCM_SERVICE_ACCOUNT));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The token endpoint refused or failed (`status` 0: an answer without a token; 503 also: no answer). */
export class FcmTokenError extends Error {
  constructor(readonly status: number) {
    super(`FCM token request answered ${status}`);
  }
}

/** The token, or the request for it that every job needing one meanwhile shares, and until when it is good. */
let cached: { account: string; token: Promise<string>; until: number } | null = null;

/** Forget the cached access token (FCM answered 401). */
export function dropFcmToken(): void {
  cached = null;
}

/** An access token for `account`, minted at most once per 50 minutes per isolate, one request at a time. */
export function fcmAccessToken(account: ServiceAccount, at = Date.now()): Promise<string> {
  if (cached && cached.account === account.client_email && cached.until > at) return cached.token;
  const entry = { account: account.client_email, token: mint(account, at), until: at + 50 * 60_000 };
  cached = entry;
  entry.token.catch(() => {
    if (cached === entry) cached = null; // a failed mint is not kept
  });
  return entry.token;
}

/** Exchange a JWT signed with the account's key for an access token (OAuth 2.0 JWT bearer grant). */
async function mint(account: ServiceAccount, at: number): Promise<string> {
  const key = await importPKCS8(account.private_key, "RS256");
  const issuedAt = Math.floor(at / 1000);
  const assertion = await new SignJWT({ scope: SCOPE })
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuer(account.client_email)
    .setAudience(account.token_uri)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + 3600)
    .sign(key);
  const res = await fetch(account.token_uri, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
    signal: AbortSignal.timeout(10_000),
  }).catch(() => {
    throw new FcmTokenError(503); // unreachable: try again later
  });
  if (!res.ok) throw new FcmTokenError(res.status);
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new FcmTokenError(0);
  return body.access_token;
}

/** The request sending `data` to the registration `token`. */
export async function fcmRequest(
  env: Pick<Bindings, "FCM_API_URL">,
  account: ServiceAccount,
  token: string,
  data: Record<string, string>,
  options: { ttl: number; urgency: "normal" | "high" | "low"; topic: string },
): Promise<{ url: string; init: RequestInit }> {
  const base = (env.FCM_API_URL || "https://fcm.googleapis.com").replace(/\/$/, "");
  const message = {
    token,
    data,
    android: { priority: options.urgency === "high" ? "HIGH" : "NORMAL", ttl: `${options.ttl}s`, collapse_key: options.topic },
    // iOS shows alert pushes only (background ones are throttled): a generic alert the app's
    // notification service extension (mutable-content) fills in from `data`, or localizes by key.
    apns: {
      headers: { "apns-push-type": "alert", "apns-priority": options.urgency === "high" ? "10" : "5", "apns-collapse-id": options.topic },
      payload: {
        aps: { alert: { "loc-key": "NEW_MESSAGE", "loc-args": [data.count ?? "1"] }, "mutable-content": 1, "thread-id": data.chatId },
      },
    },
  };
  return {
    url: `${base}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`,
    init: {
      method: "POST",
      headers: { authorization: `Bearer ${await fcmAccessToken(account)}`, "content-type": "application/json" },
      body: JSON.stringify({ message }),
    },
  };
}
