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

/**
 * The object's answer to the upgrade: the socket (101, with fresh headers: a response from another
 * object has immutable ones, and the app's middleware adds some), or its refusal (the session
 * ended, the membership changed a moment ago, a flood penalty) thrown in the shape of every route.
 */
export async function acceptedSocket(res: Response): Promise<Response> {
  if (res.status === 101)
    return new Response(null, { status: 101, statusText: res.statusText, headers: res.headers, webSocket: res.webSocket });
  const body = (await res.json().catch(() => null)) as {
    error?: { code?: string; message?: string; details?: { retryAfter?: number } };
  } | null;
  const status = res.status === 401 || res.status === 403 || res.status === 404 || res.status === 429 ? res.status : 500;
  if (status === 500 || !body?.error?.code) throw new AppError(500, "internal", "Internal server error");
  const retryAfter = body.error.details?.retryAfter;
  throw new AppError(
    status,
    body.error.code,
    body.error.message ?? "Refused",
    body.error.details,
    retryAfter ? { "Retry-After": String(retryAfter) } : undefined,
  );
}
