import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { roomFor } from "../src/rooms/client";
import { type ApiResponse, api, BASE, expectError, signUp, type TestUser, uniqueIp } from "./helpers";
import { TestSocket } from "./room-helpers";

/** Helpers for the chats and messages API tests (the room's own tests use room-helpers.ts). */
export const C = "/api/v1/chats";
/** A well-formed id that no chat, user or message has. */
export const MISSING = "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a";

let n = 0;
export const cid = (prefix = "c") => `${prefix}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

export async function createGroup(owner: TestUser, members: TestUser[] = [], extra: Record<string, unknown> = {}) {
  const res = await api("POST", C, {
    token: owner.accessToken,
    body: { type: "group", name: `Group ${++n}`, memberIds: members.map((m) => m.id), ...extra },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.chat as any;
}

export async function createChannel(owner: TestUser, members: TestUser[] = []) {
  const res = await api("POST", C, {
    token: owner.accessToken,
    body: { type: "channel", name: `Channel ${++n}`, memberIds: members.map((m) => m.id) },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.chat as any;
}

export async function createDirect(a: TestUser, b: TestUser) {
  const res = await api("POST", C, { token: a.accessToken, body: { type: "direct", memberIds: [b.id] } });
  expect([200, 201], res.text).toContain(res.status);
  return res.body.chat as any;
}

export const sendRaw = (u: TestUser | undefined, chatId: string, body: unknown) =>
  api("POST", `${C}/${chatId}/messages`, { token: u?.accessToken, body });

/** Expect `status` (200 by default) and return the body. */
export async function ok(res: ApiResponse, status = 200) {
  expect(res.status, res.text).toBe(status);
  return res.body;
}

/** A chat's `member_count` beside the number of its member rows (the two must agree). */
export const memberCount = async (chatId: string) =>
  (await env.DB.prepare("SELECT member_count AS n, (SELECT count(*) FROM chat_members WHERE chat_id = ?1) AS rows FROM chats WHERE id = ?1")
    .bind(chatId)
    .first<{ n: number; rows: number }>())!;

/** Send a text message and return it (201). */
export async function send(u: TestUser, chatId: string, text = "hello", clientMessageId = cid()) {
  const res = await sendRaw(u, chatId, { clientMessageId, type: "text", text });
  expect(res.status, res.text).toBe(201);
  return res.body.message as any;
}

/** Expect a send to be refused with `status code`. */
export async function expectSendRefused(u: TestUser, chatId: string, status: number, code: string) {
  return expectError(await sendRaw(u, chatId, { clientMessageId: cid(), text: "nope" }), status, code);
}

export const history = (u: TestUser, chatId: string, query = "") => api("GET", `${C}/${chatId}/messages${query}`, { token: u.accessToken });

/** Run the room's pending alarm: it writes last seq, activity and preview to D1 (at most once a second otherwise). */
export const flush = (chatId: string) => runDurableObjectAlarm(roomFor(env, chatId));

/** Move the clock to `ms` (the Worker and the rooms share it; restore with vi.useRealTimers) and run the room's alarm. */
export async function runAlarmAt(chatId: string, ms: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(ms);
  return runDurableObjectAlarm(roomFor(env, chatId));
}

export const getChat = (u: TestUser, chatId: string) => api("GET", `${C}/${chatId}`, { token: u.accessToken });

export async function unread(u: TestUser) {
  const res = await api("GET", `${C}/unread`, { token: u.accessToken });
  expect(res.status, res.text).toBe(200);
  return res.body as { total: number; chats: { chatId: string; count: number; muted: boolean }[] };
}

export const setPrivacy = async (u: TestUser, body: Record<string, unknown>) =>
  expect((await api("PUT", "/api/v1/users/me/privacy", { token: u.accessToken, body })).status).toBe(200);
export const block = async (u: TestUser, other: TestUser) =>
  expect((await api("POST", "/api/v1/users/me/blocked", { token: u.accessToken, body: { userId: other.id } })).status).toBe(201);
export const addContact = async (u: TestUser, other: TestUser) =>
  expect((await api("POST", "/api/v1/users/me/contacts", { token: u.accessToken, body: { userId: other.id } })).status).toBe(201);

/** System messages of a chat's history as `[event, ...userIds]` lists. */
export async function systemEvents(u: TestUser, chatId: string) {
  const res: ApiResponse = await history(u, chatId, "?limit=100");
  expect(res.status, res.text).toBe(200);
  return (res.body.items as any[]).filter((m) => m.type === "system").map((m) => m.system);
}

/** Ask the Worker to upgrade `GET /chats/{chatId}/ws` (token in the query, as browsers send it). */
export const upgradeChat = (chatId: string, token: string, headers: Record<string, string> = {}) =>
  exports.default.fetch(
    new Request(`${BASE}${C}/${chatId}/ws?access_token=${token}`, {
      headers: { "cf-connecting-ip": uniqueIp(), Upgrade: "websocket", ...headers },
    }),
  );

/** Open the chat's socket through the Worker (auth, membership, the room) and wait for `hello`. */
export async function openChatSocket(u: TestUser, chatId: string, token = u.accessToken): Promise<TestSocket> {
  const res = await upgradeChat(chatId, token);
  expect(res.status, res.status === 101 ? "" : await res.text()).toBe(101);
  const socket = new TestSocket(res.webSocket!);
  res.webSocket!.accept();
  await socket.next("hello");
  return socket;
}

/** A group of `owner`, `b` and `c` in which the owner shadow-banned `b`. */
export async function shadowBannedGroup() {
  const [owner, b, c] = await Promise.all([signUp(), signUp(), signUp()]);
  const chat = await createGroup(owner, [b, c]);
  const res = await api("POST", `${C}/${chat.id}/bans`, { token: owner.accessToken, body: { userId: b.id, shadow: true } });
  expect(res.status, res.text).toBe(201);
  expect(res.body.ban).toMatchObject({ userId: b.id, shadow: true, until: null });
  return { owner, b, c, chat };
}

/** SQLite's plan of a drizzle query, one detail line each (EXPLAIN QUERY PLAN against the real local D1). */
export async function queryPlan(query: { toSQL(): { sql: string; params: unknown[] } }): Promise<string[]> {
  const { sql, params } = query.toSQL();
  const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ detail: string }>();
  return plan.results.map((r) => r.detail);
}

export { expectInvalid } from "./helpers";
