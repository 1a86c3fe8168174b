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

let cached: { account: string; token: string; until: number } | null = null;

/** Forget the cached access token (FCM answered 401). */
export function dropFcmToken(): void {
  cached = null;
}

/** An access token for `account`, minted at most once per hour per isolate. */
export async function fcmAccessToken(account: ServiceAccount, at = Date.now()): Promise<string> {
  if (cached && cached.account === account.client_email && cached.until > at) return cached.token;
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
  });
  if (!res.ok) throw new Error(`FCM token request answered ${res.status}`);
  const body = (await res.json()) as { access_token?: string; expires_in?: number };
  if (!body.access_token) throw new Error("FCM token response has no access_token");
  cached = { account: account.client_email, token: body.access_token, until: at + ((body.expires_in ?? 3600) - 300) * 1000 };
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
    apns: {
      headers: { "apns-priority": options.urgency === "high" ? "10" : "5", "apns-collapse-id": options.topic },
      payload: { aps: { "content-available": 1 } },
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
