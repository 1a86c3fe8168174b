import { ACCESS_TOKEN_TTL_MS } from "./tokens";

/**
 * The access-token deny-list in KV. Ending a session writes its id here for as long as any access
 * token of it can still be valid; the auth middleware refuses tokens whose session is listed.
 * KV is eventually consistent, so another edge location may accept such a token for up to ~60 s.
 */
const key = (sessionId: string) => `deny:sid:${sessionId}`;

export async function denySession(kv: KVNamespace, sessionId: string, reason: string): Promise<void> {
  const ttlSeconds = Math.ceil(ACCESS_TOKEN_TTL_MS / 1000) + 60;
  await kv.put(key(sessionId), reason, { expirationTtl: ttlSeconds });
}

/** The reason the session was ended, or null while it is live. */
export async function sessionDenial(kv: KVNamespace, sessionId: string): Promise<string | null> {
  return kv.get(key(sessionId));
}
