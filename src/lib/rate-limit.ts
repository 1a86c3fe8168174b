import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "./errors";
import { requestInfo } from "./request-info";

export interface RateLimit {
  /** Requests allowed per window. */
  limit: number;
  /** Window length in seconds (fixed windows). */
  windowSeconds: number;
}

/**
 * Every coarse rate limit in one table. These are KV-backed fixed windows and therefore
 * approximate: KV is eventually consistent across locations (~60 s) and read-then-write is not
 * atomic, so bursts spread over many edge locations can exceed a limit somewhat. Limits that must
 * be exact (the login lockout, OTP attempts) are counted in D1 instead.
 */
export const RATE_LIMITS = {
  "register:ip": { limit: 6, windowSeconds: 30 },
  "guest:ip": { limit: 10, windowSeconds: 60 * 60 },
  "login:ip": { limit: 10, windowSeconds: 60 },
  "login:identifier": { limit: 10, windowSeconds: 60 },
  "refresh:ip": { limit: 60, windowSeconds: 60 },
  "password:user": { limit: 5, windowSeconds: 15 * 60 },
  "otp-send:ip": { limit: 10, windowSeconds: 60 },
  "otp-verify:ip": { limit: 20, windowSeconds: 60 },
  "forgot-password:ip": { limit: 5, windowSeconds: 60 },
  "reset-password:ip": { limit: 10, windowSeconds: 60 },
  "mfa:ip": { limit: 20, windowSeconds: 60 },
  "mfa-setup:user": { limit: 10, windowSeconds: 15 * 60 },
  "username:user": { limit: 5, windowSeconds: 60 * 60 },
  "report:user": { limit: 20, windowSeconds: 60 * 60 },
  "search:user": { limit: 60, windowSeconds: 60 },
  "search:chat": { limit: 60, windowSeconds: 60 },
  "search:global": { limit: 30, windowSeconds: 60 },
  "keys-fetch:user": { limit: 120, windowSeconds: 60 },
  "keys-fetch:target": { limit: 60, windowSeconds: 60 },
  "chat-create:user": { limit: 30, windowSeconds: 60 },
  "bot-create:user": { limit: 30, windowSeconds: 60 * 60 },
  "upload-create:user": { limit: 60, windowSeconds: 60 },
  "story-create:user": { limit: 60, windowSeconds: 60 * 60 },
  "call-start:user": { limit: 10, windowSeconds: 60 },
} as const satisfies Record<string, RateLimit>;

export type RateLimitName = keyof typeof RATE_LIMITS;

/** KV refuses expirationTtl below 60 s. */
const MIN_KV_TTL = 60;

/**
 * Count one request against `name` for `subject` (an IP, an identifier, a user id). Sets the
 * `RateLimit-*` headers on the response and throws `429 rate_limited` with `Retry-After` once the
 * window's budget is spent. KV failures fail open: a broken limiter must not take auth down.
 */
export async function enforceRateLimit(c: Context<AppEnv>, name: RateLimitName, subject: string): Promise<void> {
  const { limit, windowSeconds } = RATE_LIMITS[name];
  const nowSec = Math.floor(Date.now() / 1000);
  const window = Math.floor(nowSec / windowSeconds);
  const resetIn = (window + 1) * windowSeconds - nowSec;
  const key = `rl:${name}:${subject.toLowerCase()}:${window}`;

  let used = 0;
  try {
    used = Number((await c.env.KV.get(key)) ?? 0);
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "rate limit read failed", name, error: String(err) }));
    return;
  }

  const remaining = Math.max(0, limit - used - 1);
  if (used >= limit) {
    const headers = {
      "Retry-After": String(resetIn),
      "RateLimit-Limit": String(limit),
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": String(resetIn),
    };
    // Replace what an earlier, looser limit of this request may have set.
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    throw new AppError(429, "rate_limited", `Too many requests; try again in ${resetIn} s`, { retryAfter: resetIn }, headers);
  }
  // Several limits may apply to one request: the headers describe the one closest to running out.
  const shown = c.get("rateLimitRemaining");
  if (shown === undefined || remaining < shown) {
    c.set("rateLimitRemaining", remaining);
    c.header("RateLimit-Limit", String(limit));
    c.header("RateLimit-Remaining", String(remaining));
    c.header("RateLimit-Reset", String(resetIn));
  }
  try {
    await c.env.KV.put(key, String(used + 1), { expirationTtl: Math.max(MIN_KV_TTL, windowSeconds + 5) });
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "rate limit write failed", name, error: String(err) }));
  }
}

/** Middleware form: limit by the caller's IP (Cloudflare's `CF-Connecting-IP`). */
export function rateLimitByIp(name: RateLimitName): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await enforceRateLimit(c, name, requestInfo(c).ip ?? "unknown");
    await next();
  };
}
