import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";

export const BASE = "http://api.test";
export const STRONG_PASSWORD = "violet-harbor-73-lantern";
/** The admin-managed attributes of a new account, as the own profile and admin views show them. */
export const DEFAULT_ATTRIBUTES = { verified: false, creator: false, kycStatus: "not_started", tier: 0, lifecycle: "active" };

let counter = 0;
/** A fresh client IP per call (IPv6 documentation range), so per-IP rate limits don't collide across tests. */
export const uniqueIp = () => `2001:db8::${(++counter).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
export const uniqueName = (prefix = "u") =>
  `${prefix}_${Date.now().toString(36)}${(++counter).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 32);

export interface ApiOptions {
  body?: unknown;
  /** Raw body string (sent as is). */
  raw?: string;
  token?: string;
  ip?: string;
  headers?: Record<string, string>;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

/** Call the Worker through its real fetch handler. */
export async function api<T = any>(method: string, path: string, opts: ApiOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { "cf-connecting-ip": opts.ip ?? uniqueIp(), ...opts.headers };
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await exports.default.fetch(new Request(BASE + path, { method, headers, body }));
  const text = await res.text();
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed as T, headers: res.headers, text };
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  email?: string;
  phone?: string;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  deviceId: string;
}

/** Register a new user (unique name) and return its credentials and tokens. */
export async function signUp(overrides: Record<string, unknown> = {}): Promise<TestUser> {
  const username = uniqueName();
  const body = { username, password: STRONG_PASSWORD, ...overrides };
  const res = await api("POST", "/api/v1/auth/register", { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return {
    id: res.body.user.id,
    username: res.body.user.username,
    password: body.password as string,
    email: res.body.user.email ?? undefined,
    phone: res.body.user.phone ?? undefined,
    accessToken: res.body.tokens.accessToken,
    refreshToken: res.body.tokens.refreshToken,
    sessionId: res.body.session.id,
    deviceId: res.body.session.deviceId,
  };
}

/**
 * Mark a user's email and phone (whichever it has) verified straight in D1: a setup shortcut for
 * tests that are not about verification. Only a verified address signs in, gets codes or resets a
 * password.
 */
export async function markVerified(user: { id: string }): Promise<void> {
  await env.DB.prepare(
    "UPDATE users SET email_verified_at = CASE WHEN email IS NULL THEN NULL ELSE ?1 END, phone_verified_at = CASE WHEN phone IS NULL THEN NULL ELSE ?1 END WHERE id = ?2",
  )
    .bind(Date.now(), user.id)
    .run();
}

/** The development outbox for `to` (what was "sent" there), newest first. */
export async function outbox(to: string): Promise<any[]> {
  const res = await api("GET", `/api/v1/dev/outbox?to=${encodeURIComponent(to)}`);
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

/** The code in the newest message of `kind` (e.g. `otp.verify`) sent to `to`. */
export async function latestCode(to: string, kind: string): Promise<string> {
  const message = (await outbox(to)).find((m) => m.kind === kind);
  expect(message, `no ${kind} message to ${to}`).toBeDefined();
  return /\b(\d{6})\b/.exec(message.text)![1]!;
}

/** Sign in again (a new session) with identifier and password. */
export async function logIn(identifier: string, password = STRONG_PASSWORD, extra: Record<string, unknown> = {}) {
  return api("POST", "/api/v1/auth/login", { body: { identifier, password, ...extra } });
}

/** Assert the standard error envelope and return it. */
export function expectError(res: ApiResponse, status: number, code: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.body?.error?.code, res.text).toBe(code);
  expect(typeof res.body.error.message).toBe("string");
  expect(res.body.error.requestId).toBeTruthy();
  return res.body.error as { code: string; message: string; details?: any; requestId: string };
}

/** Assert `400 validation_failed` naming `path` (e.g. `body.username`) among its problems. */
export function expectInvalid(res: ApiResponse, path: string) {
  const error = expectError(res, 400, "validation_failed");
  expect(
    (error.details as { path: string }[]).map((d) => d.path),
    res.text,
  ).toContain(path);
  return error;
}

/** What a caller could compare between two answers: status, body without requestId, header names. */
export function observable(res: ApiResponse) {
  const body = structuredClone(res.body);
  if (body?.error) delete body.error.requestId;
  return { status: res.status, body, headers: [...res.headers.keys()].filter((h) => h !== "x-request-id").sort() };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Every string in `value` replaced by what it looks like (`<uuid>`, `<iso>`, `<string>`); the rest kept. */
function shapeOf(value: unknown): unknown {
  if (typeof value === "string") return UUID_RE.test(value) ? "<uuid>" : ISO_RE.test(value) ? "<iso>" : "<string>";
  if (Array.isArray(value)) return value.map(shapeOf);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
  return value;
}

/**
 * `observable` for answers that carry values which necessarily differ between two accounts or
 * inputs (ids, usernames, addresses, tokens, times): every string in the body is reduced to its
 * shape, while status, keys, numbers, booleans, nulls and header names must match exactly.
 */
export function observableShape(res: ApiResponse) {
  const seen = observable(res);
  return { ...seen, body: shapeOf(seen.body) };
}
