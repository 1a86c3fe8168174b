import { AppError } from "./errors";

/**
 * The Worker's half of a WebSocket route: it authenticates, then hands the upgrade to a Durable
 * Object (a chat's room, a user's hub) and passes its answer on. Shared by every socket route so
 * they refuse and forward alike.
 */

/** `426 upgrade_required` unless the request asks for a WebSocket. */
export function requireWebSocketUpgrade(upgradeHeader: string | undefined): void {
  if (upgradeHeader?.toLowerCase() !== "websocket") {
    throw new AppError(426, "upgrade_required", "This route only accepts WebSocket upgrades", undefined, { Upgrade: "websocket" });
  }
}

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

/**
 * Refuse at once an upgrade whose object said `429` for the same key (a user and chat, a session)
 * and whose Retry-After has not passed: the object would refuse again, so a client retrying in a
 * loop costs no membership read and no request to the object. Best effort per isolate; the object
 * stays the authority.
 */
export function refuseIfRecentlyRefused(key: string, at = Date.now()): void {
  const refusal = refusals.get(key);
  if (!refusal) return;
  if (refusal.until <= at) {
    refusals.delete(key);
    return;
  }
  const retryAfter = Math.ceil((refusal.until - at) / 1000);
  const message = `Refused a moment ago (${refusal.reason}); try again in ${retryAfter} s`;
  throw new AppError(429, refusal.code, message, { retryAfter }, { "Retry-After": String(retryAfter) });
}

function rememberRefusal(key: string, refusal: Refusal, at = Date.now()): void {
  if (refusals.size >= SWEEP_ABOVE) for (const [k, r] of refusals) if (r.until <= at) refusals.delete(k);
  if (refusals.size < SWEEP_ABOVE) refusals.set(key, refusal);
}

/**
 * The object's answer to the upgrade: the socket (101, with fresh headers: a response from another
 * object has immutable ones, and the app's middleware adds some), or its refusal (the session
 * ended, the membership changed a moment ago, a flood penalty, an open budget spent) thrown in the
 * shape of every route. A 429 is remembered under `refusalKey` (see refuseIfRecentlyRefused).
 */
export async function acceptedSocket(res: Response, refusalKey?: string): Promise<Response> {
  if (res.status === 101)
    return new Response(null, { status: 101, statusText: res.statusText, headers: res.headers, webSocket: res.webSocket });
  const body = (await res.json().catch(() => null)) as {
    error?: { code?: string; message?: string; details?: { retryAfter?: number } };
  } | null;
  const status = res.status === 401 || res.status === 403 || res.status === 404 || res.status === 429 ? res.status : 500;
  if (status === 500 || !body?.error?.code) throw new AppError(500, "internal", "Internal server error");
  const retryAfter = body.error.details?.retryAfter;
  if (status === 429 && refusalKey && retryAfter) {
    const reason = (body.error.message ?? "refused").replace(/;? *try again in \d+ s$/, "");
    rememberRefusal(refusalKey, { until: Date.now() + retryAfter * 1000, code: body.error.code, reason });
  }
  throw new AppError(
    status,
    body.error.code,
    body.error.message ?? "Refused",
    body.error.details,
    retryAfter ? { "Retry-After": String(retryAfter) } : undefined,
  );
}
