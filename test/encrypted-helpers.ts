import { expect } from "vitest";
import { C, cid, ok, upgradeChat } from "./chat-helpers";
import { api, logIn, signUp, type TestUser } from "./helpers";
import { b64, curveKeyPair, deviceKeys } from "./keys-helpers";
import { TestSocket } from "./room-helpers";

/** Helpers for the encrypted-chat tests: users with several key devices, envelopes, encrypted sends. */

/** One signed-in device with its keys uploaded: its token, key device number and registration id. */
export interface Device {
  user: TestUser;
  token: string;
  deviceId: number;
  registrationId: number;
  /** The account's identity key pair (every device of an account shares it). */
  identity: ReturnType<typeof curveKeyPair>;
}

let registrations = 100;

/** Upload keys for the session of `token` (the account's identity `identity`). */
async function withKeys(user: TestUser, token: string, identity: ReturnType<typeof curveKeyPair>): Promise<Device> {
  const registrationId = ++registrations;
  const res = await api("PUT", "/api/v1/keys", { token, body: deviceKeys(identity, { registrationId }).body });
  expect(res.status, res.text).toBe(200);
  return { user, token, deviceId: res.body.deviceId, registrationId, identity };
}

/** A user with `count` devices, each with keys (the first is the sign-up session). */
export async function userWithDevices(count: number): Promise<Device[]> {
  const user = await signUp();
  const identity = curveKeyPair();
  const devices = [await withKeys(user, user.accessToken, identity)];
  for (let i = 1; i < count; i++) {
    const login = await logIn(user.username, undefined, { deviceId: `${user.username}-device-${i}` });
    expect(login.status, login.text).toBe(200);
    devices.push(await withKeys(user, login.body.tokens.accessToken, identity));
  }
  return devices;
}

/** The encrypted direct chat of two devices' users, opened by `a`. */
export async function encryptedDirect(a: Device, b: Device) {
  const res = await api("POST", C, { token: a.token, body: { type: "direct", memberIds: [b.user.id], encrypted: true } });
  expect(res.status, res.text).toBe(201);
  return res.body.chat;
}

/** An envelope for `to`, its body naming the device (so tests can tell whose it is). */
export const envelopeFor = (to: Device, registrationId = to.registrationId) => ({
  userId: to.user.id,
  deviceId: to.deviceId,
  registrationId,
  type: 3,
  body: b64(new TextEncoder().encode(`for ${to.user.id}/${to.deviceId}`)),
});

/** POST an encrypted message from device `from`. */
export const sendEncrypted = (from: Device, chatId: string, body: Record<string, unknown>) =>
  api("POST", `${C}/${chatId}/messages`, { token: from.token, body: { clientMessageId: cid(), type: "encrypted", ...body } });

/** The latest history page as device `d` sees it. */
export const readAs = async (d: Device, chatId: string) =>
  (await ok(await api("GET", `${C}/${chatId}/messages`, { token: d.token }))).items;

/** Alice (2 devices) and Bob (2 devices) in an encrypted direct chat. */
export async function pair() {
  const [alice, bob] = await Promise.all([userWithDevices(2), userWithDevices(2)]);
  const chat = await encryptedDirect(alice[0]!, bob[0]!);
  return { alice, bob, chat };
}

/** Open a chat socket through the Worker with extra request headers. */
export async function socketWithHeaders(chatId: string, token: string, headers: Record<string, string>): Promise<TestSocket> {
  const res = await upgradeChat(chatId, token, headers);
  expect(res.status).toBe(101);
  const socket = new TestSocket(res.webSocket!);
  res.webSocket!.accept();
  await socket.next("hello");
  return socket;
}
