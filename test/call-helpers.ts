import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { callRoomFor } from "../src/calls/client";
import { RING_TIMEOUT_MS } from "../src/calls/config";
import { C, createDirect, createGroup, ok } from "./chat-helpers";
import { api, type TestUser } from "./helpers";
import { openRealtime, secondDevice } from "./hub-helpers";
import type { TestSocket } from "./room-helpers";

/** Helpers for the calls tests: starting calls, devices with realtime sockets, the call's alarm. */
export const CALLS = "/api/v1/calls";

/** POST /calls as `u` (the raw answer). */
export const startCallRaw = (u: TestUser, chatId: string, kind = "audio", token = u.accessToken) =>
  api("POST", CALLS, { token, body: { chatId, kind } });

/** Start a call (201) and answer its body `{call, iceServers, turnExpiresAt}`. */
export async function startCall(u: TestUser, chatId: string, kind = "audio", token = u.accessToken) {
  return ok(await startCallRaw(u, chatId, kind, token), 201);
}

/** A device: a session of `u` (the first one, or a new sign-in) with its realtime socket open. */
export interface Device {
  user: TestUser;
  sessionId: string;
  token: string;
  socket: TestSocket;
}

/** Open the realtime socket of `u`'s first session. */
export async function firstDevice(u: TestUser): Promise<Device> {
  const { socket } = await openRealtime(u.accessToken);
  return { user: u, sessionId: u.sessionId, token: u.accessToken, socket };
}

/** Sign `u` in again (another device) and open that session's realtime socket. */
export async function anotherDevice(u: TestUser): Promise<Device> {
  const login = await secondDevice(u);
  const { socket } = await openRealtime(login.tokens.accessToken);
  return { user: u, sessionId: login.session.id, token: login.tokens.accessToken, socket };
}

/** A direct chat between two users, each with one device online. */
export async function directWithDevices(a: TestUser, b: TestUser) {
  const chat = await createDirect(a, b);
  const [da, db] = await Promise.all([firstDevice(a), firstDevice(b)]);
  return { chat, da, db };
}

/** A group of `owner` and `members`. */
export const groupOf = (owner: TestUser, members: TestUser[]) => createGroup(owner, members);

/** A call's row and its participants' rows, straight from D1 (participants by user id). */
export async function callRows(callId: string) {
  const call = await env.DB.prepare("SELECT * FROM calls WHERE id = ?").bind(callId).first<Record<string, any>>();
  const { results } = await env.DB.prepare("SELECT * FROM call_participants WHERE call_id = ?").bind(callId).all<Record<string, any>>();
  return { call, participants: Object.fromEntries(results.map((r) => [r.user_id as string, r])) };
}

/** The chat's system messages about calls (oldest first). */
export async function callNotices(u: TestUser, chatId: string) {
  const res = await ok(await api("GET", `${C}/${chatId}/messages?limit=100`, { token: u.accessToken }));
  return (res.items as any[]).filter((m) => m.type === "system" && m.system?.event === "call");
}

/** Move the clock to `ms` (restore with vi.useRealTimers) and run the call's alarm. */
export async function runCallAlarmAt(callId: string, ms: number): Promise<boolean> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(ms);
  return runDurableObjectAlarm(callRoomFor(env, callId));
}

/** Run the call's alarm once its ring timeout has passed (the clock moved past it; restore with vi.useRealTimers). */
export const timeOutRinging = (call: { id: string; startedAt: string }) =>
  runCallAlarmAt(call.id, Date.parse(call.startedAt) + RING_TIMEOUT_MS + 1);

/** Send a call frame on a device's socket and wait for its ack or error. */
export const callFrame = (device: Device, frame: Record<string, unknown>) => device.socket.request(frame);

/** Expect the frame answered with `ack`, and answer it. */
export async function acked(answer: Promise<any>) {
  const frame = await answer;
  expect(frame?.type, JSON.stringify(frame)).toBe("ack");
  return frame;
}

/** Expect the frame answered with an `error` of `code`. */
export async function refused(answer: Promise<any>, code: string) {
  const frame = await answer;
  expect(frame?.type, JSON.stringify(frame)).toBe("error");
  expect(frame.code, JSON.stringify(frame)).toBe(code);
  return frame;
}
