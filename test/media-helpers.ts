import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { type ApiResponse, api, BASE, type TestUser, uniqueIp } from "./helpers";

export const M = "/api/v1/media";

export interface UploadOptions {
  type?: string;
  name?: string;
  purpose?: string;
  /** The chat an attachment is uploaded for (`?chatId=`). */
  chatId?: string;
  headers?: Record<string, string>;
  token?: string;
}

/** POST raw bytes to /media as `user` (Content-Type `type`, X-File-Name `name`). */
export async function uploadRaw(
  user: TestUser | undefined,
  bytes: Uint8Array | ReadableStream,
  opts: UploadOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { "cf-connecting-ip": uniqueIp(), ...opts.headers };
  if (opts.type) headers["content-type"] = opts.type;
  if (opts.name) headers["x-file-name"] = opts.name;
  const token = opts.token ?? user?.accessToken;
  if (token) headers.authorization = `Bearer ${token}`;
  const params = new URLSearchParams();
  if (opts.purpose) params.set("purpose", opts.purpose);
  if (opts.chatId) params.set("chatId", opts.chatId);
  const query = params.size > 0 ? `?${params}` : "";
  const res = await exports.default.fetch(new Request(`${BASE}${M}${query}`, { method: "POST", headers, body: bytes }));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers, text };
}

/** Upload and expect 201; returns the media view. */
export async function upload(user: TestUser, bytes: Uint8Array, opts: UploadOptions = {}) {
  const res = await uploadRaw(user, bytes, opts);
  expect(res.status, res.text).toBe(201);
  return res.body as any;
}

/** GET a content URL (a path with query) with optional request headers; the body as bytes. */
export async function fetchContent(url: string, headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(new Request(BASE + url, { headers: { "cf-connecting-ip": uniqueIp(), ...headers } }));
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(new TextDecoder().decode(bytes)) };
}

export const getMedia = (user: TestUser, id: string) => api("GET", `${M}/${id}`, { token: user.accessToken });

export const mediaRow = (id: string) => env.DB.prepare("SELECT * FROM media WHERE id = ?").bind(id).first<any>();

export const usage = async (userId: string) =>
  (await env.DB.prepare("SELECT bytes FROM storage_usage WHERE user_id = ?").bind(userId).first<{ bytes: number }>())?.bytes ?? 0;

/** Hex SHA-256 of bytes. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Count of R2 objects under media/ for these ids that still exist. */
export async function storedObjects(ids: string[]): Promise<number> {
  const heads = await Promise.all(ids.map((id) => env.MEDIA.head(`media/${id}`)));
  return heads.filter(Boolean).length;
}

/** Upload a small PNG as `user`'s avatar (through the API) and return its media id. */
export async function avatarFor(user: TestUser): Promise<string> {
  const png = Uint8Array.from(
    atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="),
    (c) => c.charCodeAt(0),
  );
  return (await upload(user, png, { type: "image/png", purpose: "avatar" })).id;
}
