import type { Context } from "hono";

/** Where a request came from, as Cloudflare reports it (headers are set by the edge, not the client). */
export interface RequestInfo {
  ip: string | null;
  country: string | null;
  userAgent: string | null;
}

export function requestInfo(c: Context): RequestInfo {
  const cf = (c.req.raw as Request & { cf?: { country?: string } }).cf;
  const country = cf?.country ?? c.req.header("cf-ipcountry") ?? null;
  return {
    ip: c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? null,
    country: country && country !== "XX" && country !== "T1" ? country : null,
    userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
  };
}
