import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { hubFor } from "../src/hubs/client";
import { BASE, logIn, type TestUser, uniqueIp } from "./helpers";
import { TestSocket } from "./room-helpers";

/** Ask for the realtime socket (`GET /api/v1/realtime`) with a token in the query. */
export const upgradeRealtime = (token: string, headers: Record<string, string> = { Upgrade: "websocket" }) =>
  exports.default.fetch(
    new Request(`${BASE}/api/v1/realtime?access_token=${token}`, { headers: { "cf-connecting-ip": uniqueIp(), ...headers } }),
  );

/** Open my realtime socket and wait for `hello`. */
export async function openRealtime(token: string): Promise<{ socket: TestSocket; hello: any }> {
  const res = await upgradeRealtime(token);
  expect(res.status, res.status === 101 ? "" : await res.text()).toBe(101);
  const socket = new TestSocket(res.webSocket!);
  res.webSocket!.accept();
  return { socket, hello: await socket.next("hello") };
}

/** A second session of the same account (another device). */
export const secondDevice = async (u: TestUser, deviceId = `dev-${crypto.randomUUID()}`) =>
  (await logIn(u.username, undefined, { deviceId })).body as { tokens: { accessToken: string }; session: { id: string } };

/** Move the clock to `ms` (restore with vi.useRealTimers) and run the user's hub alarm. */
export async function runHubAlarmAt(userId: string, ms: number): Promise<boolean> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(ms);
  return runDurableObjectAlarm(hubFor(env, userId));
}
