// The Worker's REST API as the rows-read benches call it: each request from its own address
// (rate limits per IP stay out of the way), and sign-up with a fixed strong password.
import { exports } from "cloudflare:workers";
import { expect } from "vitest";

let ipCounter = 0;
const ip = () => `2001:db8:7::${(++ipCounter).toString(16)}`;

/** One request to the app's fetch handler; the JSON body parsed. */
export async function api(method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { "cf-connecting-ip": ip() };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await exports.default.fetch(
    new Request(`http://bench.test${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
  );
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Register `name` (201 expected); its id and access token. */
export async function signUp(name: string) {
  const res = await api("POST", "/api/v1/auth/register", undefined, { username: name, password: "violet-harbor-73-lantern" });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.user.id as string, token: res.body.tokens.accessToken as string };
}
