/** The shared password of the accounts the Node tests sign up. */
export const PASSWORD = "violet-harbor-73-lantern";

/**
 * A JSON API client for a running server (`baseUrl()` once it started), each call from a fresh
 * client address under `ipPrefix` (per-IP rate limits, as bench/lib.mjs does).
 */
export function apiClient(baseUrl: () => string, ipPrefix: string) {
  let counter = 0;
  return async (method: string, path: string, { token, body }: { token?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = { "cf-connecting-ip": `${ipPrefix}${(++counter).toString(16)}` };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${baseUrl()}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}
