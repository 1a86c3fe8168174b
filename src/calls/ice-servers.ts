import type { Bindings } from "../env";
import { iceServerEntries, turnSecret, turnTtlSeconds } from "./config";

/** One entry of RTCConfiguration.iceServers, as clients pass it to RTCPeerConnection. */
export interface IceServer {
  urls: string[];
  /** TURN only: `<expiry unix seconds>:<user id>`. */
  username?: string;
  /** TURN only: base64(HMAC-SHA1(TURN secret, username)), valid until the expiry in the username. */
  credential?: string;
}

/** ICE servers for one user, and when the TURN credentials among them stop working. */
export interface IceServers {
  iceServers: IceServer[];
  turnExpiresAt: string;
}

const isTurnUrl = (url: string) => url.startsWith("turn:") || url.startsWith("turns:");

/**
 * Time-limited TURN credentials in the scheme TURN servers share (the "TURN REST API" draft,
 * coturn's `use-auth-secret`): the username is the expiry in Unix seconds and the user id joined by
 * a colon, the credential the base64 HMAC-SHA1 of the username under the shared secret. The TURN
 * server recomputes it and refuses it after the expiry; the secret never leaves the server side.
 */
export async function turnCredential(
  secret: string,
  userId: string,
  expiresAtSeconds: number,
): Promise<{ username: string; credential: string }> {
  const username = `${expiresAtSeconds}:${userId}`;
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username)));
  let binary = "";
  for (const b of mac) binary += String.fromCharCode(b);
  return { username, credential: btoa(binary) };
}

/**
 * The configured ICE servers for `userId`: STUN entries as configured, TURN entries with fresh
 * credentials valid for TURN_CREDENTIAL_TTL_SECONDS. Without a TURN secret (outside development)
 * TURN entries are left out and the omission is logged: clients then try STUN and direct paths.
 */
export async function iceServersFor(
  env: Pick<Bindings, "ICE_SERVERS" | "TURN_SECRET" | "TURN_CREDENTIAL_TTL_SECONDS" | "ENVIRONMENT" | "JWT_SECRET">,
  userId: string,
  at = Date.now(),
): Promise<IceServers> {
  const entries = iceServerEntries(env);
  const expiresAtSeconds = Math.floor(at / 1000) + turnTtlSeconds(env);
  const secret = turnSecret(env);
  const needsTurn = entries.some((e) => e.urls.some(isTurnUrl));
  if (needsTurn && !secret) {
    console.error(JSON.stringify({ level: "error", msg: "TURN servers configured without TURN_SECRET: left out" }));
  }
  const turn = needsTurn && secret ? await turnCredential(secret, userId, expiresAtSeconds) : null;
  const iceServers: IceServer[] = [];
  for (const entry of entries) {
    if (!entry.urls.some(isTurnUrl)) iceServers.push({ urls: entry.urls });
    else if (turn) iceServers.push({ urls: entry.urls, ...turn });
  }
  return { iceServers, turnExpiresAt: new Date(expiresAtSeconds * 1000).toISOString() };
}
