import type { HonoRequest, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError, type ErrorAnswer, renderError } from "./errors";

/**
 * The Worker's half of a WebSocket route: it authenticates, then hands the upgrade to a Durable
 * Object (a chat's room, a user's hub) and passes its answer on. Shared by every socket route so
 * they refuse and forward alike.
 */

const asksForWebSocket = (upgradeHeader: string | undefined) => upgradeHeader?.toLowerCase() === "websocket";

/**
 * Middleware after authentication on a socket route: `426 upgrade_required` unless the request
 * asks for a WebSocket, before anything else is read (membership, the object).
 */
export const webSocketOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!asksForWebSocket(c.req.header("upgrade"))) {
    throw new AppError(426, "upgrade_required", "This route only accepts WebSocket upgrades", undefined, { Upgrade: "websocket" });
  }
  await next();
};

/** A 429 an object answered an upgrade with, remembered by this isolate until its Retry-After. */
interface Refusal {
  until: number;
  code: string;
  /** The object's message without its wait, which is counted down here instead. */
  reason: string;
}

const refusals = new Map<string, Refusal>();
/** Past this many remembered refusals, the ones that ran out are forgotten. */
const SWEEP_ABOVE = 1_000;
/** Longer credentials are never remembered (an access token is a few hundred characters). */
const MAX_CREDENTIAL_LENGTH = 2_048;

/**
 * The refusal for an upgrade whose object said `429` for the same key and whose Retry-After has not
 * passed: the object would refuse again, so a client retrying in a loop costs no membership read
 * and no request to the object. Best effort per isolate; the object stays the authority.
 */
function recentRefusal(key: string, at = Date.now()): ErrorAnswer | null {
  const refusal = refusals.get(key);
  if (!refusal) return null;
  if (refusal.until <= at) {
    refusals.delete(key);
    return null;
  }
  const retryAfter = Math.ceil((refusal.until - at) / 1000);
  const message = `Refused a moment ago (${refusal.reason}); try again in ${retryAfter} s`;
  return { status: 429, code: refusal.code, message, details: { retryAfter }, headers: { "Retry-After": String(retryAfter) } };
}

/**
 * The key an upgrade's refusals are remembered under: the object it goes to (`scope`, such as
 * `chat:<id>` or `hub`) and the credential as presented, from where requireAuth reads it (the
 * Authorization header, else `?access_token=`). Null without a credential. Keyed by the credential
 * rather than the user, the memory can be read before the token is verified: only a request that
 * authenticated with that very credential ever stored a refusal under it, so a guess matches nothing.
 */
export function refusalKey(scope: string, req: HonoRequest): string | null {
  const header = req.header("authorization");
  // One spelling per credential ("bearer <token>"), so padding or a scheme's case cannot make many keys of one token.
  const scheme = header ? /^(\S+)\s+(\S+)$/.exec(header.trim()) : null;
  const query = req.query("access_token");
  const credential = header ? scheme && `h:${scheme[1]!.toLowerCase()} ${scheme[2]}` : query && `q:${query}`;
  return credential && credential.length <= MAX_CREDENTIAL_LENGTH ? `${scope}:${credential}` : null;
}

/**
 * Middleware in front of authentication on a socket route: an upgrade refused with 429 a moment
 * ago is refused again before its token is verified or anything is read (see recentRefusal).
 * A plain request passes on to get its `426 upgrade_required` (webSocketOnly). A token that
 * ended meanwhile also gets the remembered 429 until its Retry-After, then its 401: either
 * way no socket opens.
 */
export function notRecentlyRefused(scope: (req: HonoRequest) => string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = asksForWebSocket(c.req.header("upgrade")) ? refusalKey(scope(c.req), c.req) : null;
    const refusal = key ? recentRefusal(key) : null;
    if (refusal) return renderError(refusal, c);
    await next();
  };
}

function rememberRefusal(key: string, refusal: Refusal, at = Date.now()): void {
  if (refusals.size >= SWEEP_ABOVE) for (const [k, r] of refusals) if (r.until <= at) refusals.delete(k);
  // Still full: the oldest goes (a Map keeps insertion order), so many tokens cannot turn the memory off.
  if (refusals.size >= SWEEP_ABOVE) refusals.delete(refusals.keys().next().value!);
  refusals.set(key, refusal);
}

/**
 * The object's answer to the upgrade: the socket (101, with fresh headers: a response from another
 * object has immutable ones, and the app's middleware adds some), or its refusal (the session
 * ended, the membership changed a moment ago, a flood penalty, an open budget spent) thrown in the
 * shape of every route. A 429 is remembered under `key` (from refusalKey).
 */
export async function acceptedSocket(res: Response, key: string | null): Promise<Response> {
  if (res.status === 101)
    return new Response(null, { status: 101, statusText: res.statusText, headers: res.headers, webSocket: res.webSocket });
  const body = (await res.json().catch(() => null)) as {
    error?: { code?: string; message?: string; details?: { retryAfter?: number } };
  } | null;
  const status = res.status === 401 || res.status === 403 || res.status === 404 || res.status === 429 ? res.status : 500;
  if (status === 500 || !body?.error?.code) throw new AppError(500, "internal", "Internal server error");
  const retryAfter = body.error.details?.retryAfter;
  if (status === 429 && key && retryAfter) {
    const reason = (body.error.message ?? "refused").replace(/;? *try again in \d+ s$/, "");
    rememberRefusal(key, { until: Date.now() + retryAfter * 1000, code: body.error.code, reason });
  }
  throw new AppError(
    status,
    body.error.code,
    body.error.message ?? "Refused",
    body.error.details,
    retryAfter ? { "Retry-After": String(retryAfter) } : undefined,
  );
}
