import {
  CiphertextMessageType,
  groupDecrypt,
  groupEncrypt,
  IdentityKeyPair,
  KEMKeyPair,
  KEMPublicKey,
  KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  processPreKeyBundle,
  processSenderKeyDistributionMessage,
  SenderKeyDistributionMessage,
  SignalMessage,
  SignedPreKeyRecord,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from "@signalapp/libsignal-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../bench/server.mjs";
import { apiClient, PASSWORD } from "./api";
import { createSignalStores, type SignalStores } from "./signal-stores";

/**
 * End to end with the official Signal client library (@signalapp/libsignal-client, native): two
 * accounts upload keys exactly as libsignal serializes them, start a session from a bundle the
 * server hands out, and exchange messages through an encrypted chat (REST, socket, acks).
 */

let server: Awaited<ReturnType<typeof startServer>>;
const api = apiClient(() => server.baseUrl, "2001:db8:5e::");

/** Standard base64 with padding, as the API carries keys and ciphertexts. */
const toBase64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const utf8 = (text: string) => Uint8Array.from(new TextEncoder().encode(text));
const fromUtf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** One account with one device: its libsignal stores and the key upload it sent. */
interface Client {
  id: string;
  token: string;
  registrationId: number;
  stores: SignalStores;
  address: ProtocolAddress;
  upload: Awaited<ReturnType<typeof generateKeys>>;
}

/** Fresh keys for a device, saved in `stores`, and the upload body carrying exactly their serialized bytes. */
async function generateKeys(identity: IdentityKeyPair, registrationId: number, stores: SignalStores) {
  const signed = (keyId: number, publicKey: Uint8Array<ArrayBuffer>) => ({
    keyId,
    publicKey: toBase64(publicKey),
    signature: toBase64(identity.privateKey.sign(publicKey)),
  });
  const signedPreKey = PrivateKey.generate();
  const signedPublic = signedPreKey.getPublicKey().serialize();
  await stores.signedPreKeys.saveSignedPreKey(
    1,
    SignedPreKeyRecord.new(1, Date.now(), signedPreKey.getPublicKey(), signedPreKey, identity.privateKey.sign(signedPublic)),
  );
  const kyber = async (keyId: number) => {
    const pair = KEMKeyPair.generate();
    const publicKey = pair.getPublicKey().serialize();
    await stores.kyberPreKeys.saveKyberPreKey(keyId, KyberPreKeyRecord.new(keyId, Date.now(), pair, identity.privateKey.sign(publicKey)));
    return signed(keyId, publicKey);
  };
  const lastResort = await kyber(500);
  stores.kyberPreKeys.lastResortIds.add(500);
  const preKeys = [];
  for (const keyId of [101, 102, 103]) {
    const key = PrivateKey.generate();
    await stores.preKeys.savePreKey(keyId, PreKeyRecord.new(keyId, key.getPublicKey(), key));
    preKeys.push({ keyId, publicKey: toBase64(key.getPublicKey().serialize()) });
  }
  return {
    identityKey: toBase64(identity.publicKey.serialize()),
    registrationId,
    signedPreKey: signed(1, signedPublic),
    pqLastResortPreKey: lastResort,
    preKeys,
    pqPreKeys: [await kyber(201)],
  };
}

/** Register an account and upload its device's freshly generated keys (asserting 200, device 1). */
async function newClient(label: string): Promise<Client> {
  const username = `ls_${Date.now().toString(36)}_${label}`;
  const registered = await api("POST", "/auth/register", { body: { username, password: PASSWORD } });
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  const identity = IdentityKeyPair.generate();
  const registrationId = 1 + Math.floor(Math.random() * 16380);
  const stores = createSignalStores(identity, registrationId);
  const upload = await generateKeys(identity, registrationId, stores);
  const token: string = registered.body.tokens.accessToken;
  const uploaded = await api("PUT", "/keys", { token, body: upload });
  expect(uploaded).toEqual({ status: 200, body: { deviceId: 1 } });
  const id: string = registered.body.user.id;
  return { id, token, registrationId, stores, address: ProtocolAddress.new(id, 1), upload };
}

/** `plaintext` encrypted for `to`'s device 1 with the session `from` holds, as a message envelope. */
async function envelopeFor(from: Client, to: Client, plaintext: string) {
  const ciphertext = await signalEncrypt(utf8(plaintext), to.address, from.address, from.stores.sessions, from.stores.identity);
  return { userId: to.id, deviceId: 1, registrationId: to.registrationId, type: ciphertext.type(), body: toBase64(ciphertext.serialize()) };
}

/** Decrypt an envelope (`{type, body}`) `to` received from `from`: a PreKey or a Whisper message. */
async function decryptEnvelope(to: Client, from: Client, envelope: { type: number; body: string }): Promise<string> {
  const { sessions, identity, preKeys, signedPreKeys, kyberPreKeys } = to.stores;
  const bytes = fromBase64(envelope.body);
  if (envelope.type === CiphertextMessageType.PreKey) {
    const message = PreKeySignalMessage.deserialize(bytes);
    return fromUtf8(await signalDecryptPreKey(message, from.address, to.address, sessions, identity, preKeys, signedPreKeys, kyberPreKeys));
  }
  expect(envelope.type).toBe(CiphertextMessageType.Whisper);
  return fromUtf8(await signalDecrypt(SignalMessage.deserialize(bytes), from.address, to.address, sessions, identity));
}

/** Post an encrypted message (`envelopes` and/or `ciphertext`) to `chatId` as `from`: the raw response. */
const postEncrypted = (from: Client, chatId: string, body: Record<string, unknown>) =>
  api("POST", `/chats/${chatId}/messages`, {
    token: from.token,
    body: { clientMessageId: crypto.randomUUID(), type: "encrypted", ...body },
  });

/** {@link postEncrypted}, asserting 201; answers the stored message. */
async function sendEncrypted(from: Client, chatId: string, body: Record<string, unknown>) {
  const sent = await postEncrypted(from, chatId, body);
  expect(sent.status, JSON.stringify(sent.body)).toBe(201);
  expect(sent.body.message).toMatchObject({ type: "encrypted" });
  return sent.body.message;
}

/** `client`'s view of a chat's history, by message id. */
async function history(client: Client, chatId: string): Promise<Map<string, any>> {
  const page = await api("GET", `/chats/${chatId}/messages`, { token: client.token });
  expect(page.status, JSON.stringify(page.body)).toBe(200);
  return new Map(page.body.items.map((m: any) => [m.id, m]));
}

/** A chat socket that records every frame (batches unpacked); `next` answers the first frame matching `match`, waiting up to 10 s for it. */
function openSocket(client: Client, chatId: string) {
  const socket = new WebSocket(`${server.baseUrl.replace(/^http/, "ws")}/api/v1/chats/${chatId}/ws?access_token=${client.token}`);
  const frames: any[] = [];
  const waiters = new Set<() => void>();
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(String(event.data));
    // Frames sent together arrive as one `batch` frame.
    frames.push(...(frame.type === "batch" ? frame.frames : [frame]));
    for (const wake of waiters) wake();
  });
  const next = (match: (frame: any) => boolean) =>
    new Promise<any>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      const check = () => {
        const frame = frames.find(match);
        if (!frame) return;
        done();
        resolve(frame);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no such frame within 10 s; got ${JSON.stringify(frames)}`));
      }, 10_000);
      waiters.add(check);
      check();
    });
  return { next, close: () => socket.close() };
}

describe("a libsignal client against the server", () => {
  let alice: Client;
  let bob: Client;
  let chatId: string;
  const ids = { first: "", reply: "", live: "" };

  beforeAll(async () => {
    server = await startServer("libsignal-e2e", { port: 0, vars: { ARGON2_MEMORY_KIB: "64", ARGON2_ITERATIONS: "1" } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("accepts keys exactly as libsignal serializes them", async () => {
    alice = await newClient("alice");
    bob = await newClient("bob");
    expect(await api("GET", "/keys/count", { token: bob.token })).toEqual({ status: 200, body: { count: 3, pqCount: 1 } });
  });

  it("hands out a bundle libsignal builds a session from", async () => {
    const fetched = await api("GET", `/keys/${bob.id}/*`, { token: alice.token });
    expect(fetched.status, JSON.stringify(fetched.body)).toBe(200);
    const { identityKey, devices } = fetched.body;
    expect(identityKey).toBe(bob.upload.identityKey);
    expect(devices).toEqual([
      {
        deviceId: 1,
        registrationId: bob.registrationId,
        signedPreKey: bob.upload.signedPreKey,
        preKey: bob.upload.preKeys[0],
        pqPreKey: bob.upload.pqPreKeys[0],
      },
    ]);
    expect(await api("GET", "/keys/count", { token: bob.token })).toEqual({ status: 200, body: { count: 2, pqCount: 0 } });
    // The bundle is built from the response alone.
    const [device] = devices;
    const bundle = PreKeyBundle.new(
      device.registrationId,
      device.deviceId,
      device.preKey.keyId,
      PublicKey.deserialize(fromBase64(device.preKey.publicKey)),
      device.signedPreKey.keyId,
      PublicKey.deserialize(fromBase64(device.signedPreKey.publicKey)),
      fromBase64(device.signedPreKey.signature),
      PublicKey.deserialize(fromBase64(identityKey)),
      device.pqPreKey.keyId,
      KEMPublicKey.deserialize(fromBase64(device.pqPreKey.publicKey)),
      fromBase64(device.pqPreKey.signature),
    );
    await processPreKeyBundle(bundle, bob.address, alice.address, alice.stores.sessions, alice.stores.identity);
    expect(await alice.stores.sessions.getSession(bob.address)).not.toBeNull();
  });

  it("carries a PreKey message and a Whisper reply through an encrypted direct chat", async () => {
    const created = await api("POST", "/chats", { token: alice.token, body: { type: "direct", memberIds: [bob.id], encrypted: true } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.chat).toMatchObject({ encrypted: true });
    chatId = created.body.chat.id;

    const first = await envelopeFor(alice, bob, "hello bob, from libsignal");
    expect(first.type).toBe(CiphertextMessageType.PreKey);
    // Envelopes must match bob's devices exactly, with their registration ids.
    const wrongDevice = await postEncrypted(alice, chatId, { envelopes: [{ ...first, deviceId: 2 }] });
    const bobsDevice = { userId: bob.id, deviceId: 1 };
    expect(wrongDevice).toMatchObject({
      status: 409,
      body: {
        error: { code: "device_mismatch", details: { missingDevices: [bobsDevice], extraDevices: [{ userId: bob.id, deviceId: 2 }] } },
      },
    });
    const stale = { ...first, registrationId: (bob.registrationId % 16380) + 1 };
    const wrongId = await postEncrypted(alice, chatId, { envelopes: [stale] });
    expect(wrongId).toMatchObject({ status: 410, body: { error: { code: "stale_devices", details: { staleDevices: [bobsDevice] } } } });

    ids.first = (await sendEncrypted(alice, chatId, { envelopes: [first] })).id;
    const bobsView = (await history(bob, chatId)).get(ids.first);
    expect(bobsView).toMatchObject({ type: "encrypted", text: null, ciphertext: null });
    expect(bobsView.envelope).toEqual({ deviceId: 1, type: CiphertextMessageType.PreKey, body: first.body });
    expect(await decryptEnvelope(bob, alice, bobsView.envelope)).toBe("hello bob, from libsignal");
    // The one-time prekey the session used is gone from bob's device.
    expect(bob.stores.preKeys.records.has(101)).toBe(false);

    const reply = await envelopeFor(bob, alice, "hi alice, decrypted fine");
    expect(reply.type).toBe(CiphertextMessageType.Whisper);
    ids.reply = (await sendEncrypted(bob, chatId, { envelopes: [reply] })).id;
    const alicesView = await history(alice, chatId);
    expect(alicesView.get(ids.first).envelope, "no envelope for the sending device").toBeNull();
    expect(await decryptEnvelope(alice, bob, alicesView.get(ids.reply).envelope)).toBe("hi alice, decrypted fine");
  });

  it("delivers a message's envelope on the receiver's socket", async () => {
    const socket = openSocket(bob, chatId);
    try {
      await socket.next((f) => f.type === "hello");
      const envelope = await envelopeFor(alice, bob, "live over the socket");
      ids.live = (await sendEncrypted(alice, chatId, { envelopes: [envelope] })).id;
      const frame = await socket.next((f) => f.type === "message.new" && f.message.id === ids.live);
      expect(frame.message.envelope).toEqual({ deviceId: 1, type: CiphertextMessageType.Whisper, body: envelope.body });
      expect(await decryptEnvelope(bob, alice, frame.message.envelope)).toBe("live over the socket");
    } finally {
      socket.close();
    }
  });

  it("erases acknowledged envelopes and reports them delivered to the sender", async () => {
    const deliveries = async (messageId: string) => {
      const res = await api("GET", `/chats/${chatId}/messages/${messageId}/deliveries`, { token: alice.token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.deliveries;
    };
    expect(await deliveries(ids.first)).toEqual([{ userId: bob.id, deviceId: 1, status: "pending", deliveredAt: null }]);
    const alicesSocket = openSocket(alice, chatId);
    try {
      await alicesSocket.next((f) => f.type === "hello");
      const acked = await api("POST", `/chats/${chatId}/envelopes/ack`, { token: bob.token, body: { messageIds: [ids.first, ids.live] } });
      expect(acked.status, JSON.stringify(acked.body)).toBe(200);
      expect([...acked.body.acknowledged].sort()).toEqual([ids.first, ids.live].sort());
      // The sender's sockets hear it live.
      const told = await alicesSocket.next((f) => f.type === "envelope.delivered" && f.messageId === ids.first);
      expect(told).toMatchObject({ userId: bob.id, deviceId: 1, deliveredAt: expect.any(String) });
    } finally {
      alicesSocket.close();
    }
    const bobsView = await history(bob, chatId);
    expect(bobsView.get(ids.first).envelope).toBeNull();
    expect(bobsView.get(ids.live).envelope).toBeNull();
    expect(await deliveries(ids.first)).toEqual([{ userId: bob.id, deviceId: 1, status: "delivered", deliveredAt: expect.any(String) }]);
  });

  it("carries a group's sender key in envelopes and its messages as one ciphertext", async () => {
    const created = await api("POST", "/chats", {
      token: alice.token,
      body: { type: "group", name: "libsignal group", memberIds: [bob.id], encrypted: true },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.chat).toMatchObject({ type: "group", encrypted: true });
    const groupId: string = created.body.chat.id;
    const distributionId = crypto.randomUUID();
    const distribution = await SenderKeyDistributionMessage.create(alice.address, distributionId, alice.stores.senderKeys);
    // The distribution message travels like any other: in a Whisper envelope per device (here as base64 text).
    const keyEnvelope = await envelopeFor(alice, bob, toBase64(distribution.serialize()));
    expect(keyEnvelope.type).toBe(CiphertextMessageType.Whisper);
    const keyMessage = await sendEncrypted(alice, groupId, { envelopes: [keyEnvelope] });
    const received = (await history(bob, groupId)).get(keyMessage.id).envelope;
    const distributionBytes = fromBase64(await decryptEnvelope(bob, alice, received));
    await processSenderKeyDistributionMessage(
      alice.address,
      SenderKeyDistributionMessage.deserialize(distributionBytes),
      bob.stores.senderKeys,
    );

    const groupCiphertext = await groupEncrypt(alice.address, distributionId, alice.stores.senderKeys, utf8("hello group"));
    expect(groupCiphertext.type()).toBe(CiphertextMessageType.SenderKey);
    const groupMessage = await sendEncrypted(alice, groupId, { ciphertext: toBase64(groupCiphertext.serialize()) });
    const stored = (await history(bob, groupId)).get(groupMessage.id);
    expect(stored).toMatchObject({ ciphertext: toBase64(groupCiphertext.serialize()), envelope: null });
    expect(fromUtf8(await groupDecrypt(alice.address, bob.stores.senderKeys, fromBase64(stored.ciphertext)))).toBe("hello group");
  });
});
