import { z } from "zod";
import type { Bindings } from "../env";
import { DEVELOPMENT_JWT_SECRET, isDevelopment } from "../lib/config";
import { AppError } from "../lib/errors";

/** How long a call rings before the callees who did not answer have missed it. */
export const RING_TIMEOUT_MS = 45_000;
/** Most people in a peer-to-peer (mesh) call, the caller included; larger calls need an SFU. */
export const MESH_MAX_PARTICIPANTS = 8;
/** Most people one call may ring, the caller included (through an SFU). */
export const MAX_CALL_PARTICIPANTS = 100;
/**
 * While a call is active its room checks this often that each joined device still holds a
 * realtime socket; a device seen without one at two checks in a row has left the call.
 */
export const LIVENESS_INTERVAL_MS = 60_000;
/** A finished call's system message is retried this long after a failed attempt. */
export const NOTICE_RETRY_MS = 30_000;

/** Default lifetime of TURN credentials: one hour. */
export const DEFAULT_TURN_TTL_SECONDS = 3600;
/** Seconds TURN credentials stay valid (TURN_CREDENTIAL_TTL_SECONDS, 60 s to 1 day, default one hour). */
export function turnTtlSeconds(env: Pick<Bindings, "TURN_CREDENTIAL_TTL_SECONDS">): number {
  const n = Number(env.TURN_CREDENTIAL_TTL_SECONDS);
  return env.TURN_CREDENTIAL_TTL_SECONDS && Number.isInteger(n) && n >= 60 && n <= 86_400 ? n : DEFAULT_TURN_TTL_SECONDS;
}

/** STUN servers when ICE_SERVERS is not set. */
export const DEFAULT_ICE_SERVERS: IceServerEntry[] = [{ urls: ["stun:stun.cloudflare.com:3478"] }];

const IceUrl = z.string().regex(/^(stun|stuns|turn|turns):[^\s]{1,250}$/, "A stun:, stuns:, turn: or turns: URL");
/** One configured server: only its URLs. Credentials are never configured: TURN ones are made per call. */
const IceServerEntrySchema = z.strictObject({
  urls: z.union([IceUrl.transform((u) => [u]), z.array(IceUrl).min(1).max(8)]),
});
export type IceServerEntry = { urls: string[] };

/**
 * The ICE servers from ICE_SERVERS, a JSON array of `{urls}` (a URL or a list of them), at most
 * 8 entries; unset: DEFAULT_ICE_SERVERS. A value that does not parse answers
 * `503 server_misconfigured`: calls cannot work well on a guess.
 */
export function iceServerEntries(env: Pick<Bindings, "ICE_SERVERS">): IceServerEntry[] {
  const raw = env.ICE_SERVERS?.trim();
  if (!raw) return DEFAULT_ICE_SERVERS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const result = z.array(IceServerEntrySchema).max(8).safeParse(parsed);
  if (!result.success) throw new AppError(503, "server_misconfigured", "ICE_SERVERS is not a JSON array of {urls} entries");
  return result.data;
}

/**
 * The shared secret TURN servers check ephemeral credentials with (TURN_SECRET, coturn's
 * `static-auth-secret`). In development without one, a value derived from the JWT secret; elsewhere
 * null, and TURN servers are left out of the answers (with an error in the log).
 */
export function turnSecret(env: Pick<Bindings, "ENVIRONMENT" | "JWT_SECRET" | "TURN_SECRET">): string | null {
  if (env.TURN_SECRET) return env.TURN_SECRET;
  return isDevelopment(env) ? `turn-development:${env.JWT_SECRET || DEVELOPMENT_JWT_SECRET}` : null;
}

/** The SFU of calls larger than a mesh: Cloudflare Realtime's SFU, when configured. */
export interface SfuConfig {
  provider: "cloudflare";
  appId: string;
  appSecret: string;
  /** The API's base URL (https://rtc.live.cloudflare.com/v1, or a local stand-in). */
  apiUrl: string;
}

/** Cloudflare Realtime's API, unless SFU_API_URL names another (a stand-in for trials). */
export const DEFAULT_SFU_API_URL = "https://rtc.live.cloudflare.com/v1";

/** SFU_PROVIDER ("cloudflare"), SFU_APP_ID, SFU_APP_SECRET and SFU_API_URL; null unless all needed are set. */
export function sfuConfig(env: Pick<Bindings, "SFU_PROVIDER" | "SFU_APP_ID" | "SFU_APP_SECRET" | "SFU_API_URL">): SfuConfig | null {
  if (env.SFU_PROVIDER?.trim() !== "cloudflare") return null;
  const appId = env.SFU_APP_ID?.trim();
  const appSecret = env.SFU_APP_SECRET?.trim();
  if (!appId || !appSecret) return null;
  const apiUrl = (env.SFU_API_URL?.trim() || DEFAULT_SFU_API_URL).replace(/\/+$/, "");
  return { provider: "cloudflare", appId, appSecret, apiUrl };
}
