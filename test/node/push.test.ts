import { importJWK, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../bench/server.mjs";
import { apiClient, PASSWORD } from "./api";
import { type Delivery, decrypt, PushReceiver, type Subscription } from "./push-receiver";

/**
 * End to end for Web Push: a real `wrangler dev` (its push queue and consumer included) notifies a
 * local stand-in push service (push-receiver.ts). What arrives is checked with implementations
 * independent of the server's: the body is decrypted with `http_ece` (RFC 8291 aes128gcm) using
 * keys made by node:crypto, as a browser makes them, and the VAPID token (RFC 8292) is verified
 * with `jose` against the key the API hands out. Nobody opens a realtime socket, so the
 * recipient's devices count as offline and are notified.
 */

let server: Awaited<ReturnType<typeof startServer>>;
const api = apiClient(() => server.baseUrl, "2001:db8:70::");

interface User {
  id: string;
  token: string;
  name: string;
}

async function newUser(label: string): Promise<User> {
  const name = `${label[0]?.toUpperCase()}${label.slice(1)} Push`;
  const username = `push_${Date.now().toString(36)}_${label}`;
  const registered = await api("POST", "/auth/register", { body: { username, password: PASSWORD, displayName: name } });
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  return { id: registered.body.user.id, token: registered.body.tokens.accessToken, name };
}

/** Register `sub` as a push target of `user`'s session; answers the raw response. */
const addTarget = (user: User, sub: Subscription) =>
  api("POST", "/push/targets", { token: user.token, body: { kind: "webpush", subscription: sub.json } });

/** Send a text message as `from`, asserting 201; answers its seq. */
async function send(from: User, chatId: string, text: string, extra: Record<string, unknown> = {}): Promise<number> {
  const sent = await api("POST", `/chats/${chatId}/messages`, {
    token: from.token,
    body: { clientMessageId: crypto.randomUUID(), type: "text", text, ...extra },
  });
  expect(sent.status, JSON.stringify(sent.body)).toBe(201);
  return sent.body.message.seq;
}

/** Poll `probe` every 250 ms until it answers true, failing after `timeoutMs`. */
async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("Web Push notifications through the push queue", () => {
  const receiver = new PushReceiver();
  let vapidKey: string;
  let alice: User;
  let bob: User;
  let chatId: string;
  let groupId: string;
  let phone: Subscription;
  /** Messages that must never notify; checked once more at the end, in case a push came late. */
  let silentSeq = 0;
  let mutedSeq = 0;
  /** Whether a delivery to `phone` notifies of message `seq` of `chat` (the direct chat by default). */
  const carries =
    (seq: number, chat = chatId) =>
    (d: Delivery) => {
      const payload = decrypt(d, phone);
      return payload.chatId === chat && payload.seq === seq;
    };

  beforeAll(async () => {
    await receiver.start();
    server = await startServer("push-e2e", { port: 0, vars: { ARGON2_MEMORY_KIB: "64", ARGON2_ITERATIONS: "1" } });
    alice = await newUser("alice");
    bob = await newUser("bob");
    const created = await api("POST", "/chats", { token: alice.token, body: { type: "direct", memberIds: [bob.id] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    chatId = created.body.chat.id;
  });
  afterAll(async () => {
    await server?.stop();
    await receiver.stop();
  });

  it("hands out the VAPID key and registers a subscription once", async () => {
    const key = await api("GET", "/push/vapid-key");
    expect(key.status).toBe(200);
    vapidKey = key.body.publicKey;
    const raw = Buffer.from(vapidKey, "base64url");
    expect([raw.length, raw[0]]).toEqual([65, 4]);

    phone = receiver.subscribe("/push/bob-phone");
    const added = await addTarget(bob, phone);
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body.target).toMatchObject({ kind: "webpush", endpoint: phone.json.endpoint, current: true });
    const again = await addTarget(bob, phone);
    expect(again.status).toBe(200);
    expect(again.body.target.id).toBe(added.body.target.id);
    const listed = await api("GET", "/push/targets", { token: bob.token });
    expect(listed.body.targets.map((t: any) => t.id)).toEqual([added.body.target.id]);
  });

  it("notifies of a direct message: VAPID-signed, aes128gcm, with a preview", async () => {
    const from = receiver.deliveries.length;
    const seq = await send(alice, chatId, "hello bob, are you there?");
    const [push] = await receiver.waitFor(phone, carries(seq), { from });
    const { headers } = push!;
    expect(headers).toMatchObject({
      "content-encoding": "aes128gcm",
      "content-type": "application/octet-stream",
      ttl: "86400",
      urgency: "high",
      topic: chatId.replace(/-/g, ""),
    });
    expect(headers.topic).toHaveLength(32);

    const auth = /^vapid t=([\w.-]+), k=([\w-]+)$/.exec(headers.authorization ?? "");
    expect(auth, headers.authorization).not.toBeNull();
    const [, jwt, k] = auth!;
    expect(k).toBe(vapidKey);
    const raw = Buffer.from(k!, "base64url");
    const jwk = { kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33).toString("base64url") };
    const { payload: claims } = await jwtVerify(jwt!, await importJWK(jwk, "ES256"), { algorithms: ["ES256"], audience: receiver.origin });
    expect(claims.sub).toMatch(/^(mailto:|https:)/);
    const now = Date.now() / 1000;
    expect(claims.exp).toBeGreaterThan(now);
    expect(claims.exp).toBeLessThanOrEqual(now + 24 * 3600);

    expect(decrypt(push!, phone)).toEqual({
      type: "message",
      chatId,
      seq,
      count: 1,
      mention: false,
      chatType: "direct",
      chatName: null,
      sender: { id: alice.id, name: alice.name },
      text: "hello bob, are you there?",
    });
  });

  it("leaves the sender and the text out with previews off", async () => {
    const off = await api("PATCH", "/users/me/preferences", { token: bob.token, body: { version: 0, notifications: { previews: false } } });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect(off.body.notifications).toEqual({ previews: false, direct: true, groups: true });
    try {
      const from = receiver.deliveries.length;
      const seq = await send(alice, chatId, "this text stays on the server");
      const [push] = await receiver.waitFor(phone, carries(seq), { from });
      expect(decrypt(push!, phone)).toEqual({ type: "message", chatId, seq, count: 1, mention: false, chatType: "direct", chatName: null });
    } finally {
      await api("PATCH", "/users/me/preferences", {
        token: bob.token,
        body: { version: off.body.version, notifications: { previews: true } },
      });
    }
  });

  it("does not notify of a silent message", async () => {
    const from = receiver.deliveries.length;
    silentSeq = await send(alice, chatId, "shh, no buzz", { silent: true });
    const seq = await send(alice, chatId, "and now a normal one");
    // Weighed in one flush, count 1 says the silent one was not counted; a push of its own is looked for here and at the end.
    const [push] = await receiver.waitFor(phone, carries(seq), { from });
    expect(decrypt(push!, phone)).toMatchObject({ seq, count: 1, text: "and now a normal one" });
    expect(receiver.to(phone, from).map((d) => decrypt(d, phone).seq)).toEqual([seq]);
  });

  it("notifies of a muted group only when mentioned", async () => {
    // Carol, in the group too and not muting it, shows when each message's notifications went out.
    const carol = await newUser("carol");
    const carolsPhone = receiver.subscribe("/push/carol-phone");
    expect((await addTarget(carol, carolsPhone)).status).toBe(201);
    const name = "Push group";
    const created = await api("POST", "/chats", { token: alice.token, body: { type: "group", name, memberIds: [bob.id, carol.id] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    groupId = created.body.chat.id;
    const plain = await send(alice, groupId, "morning, group");
    const [push] = await receiver.waitFor(phone, carries(plain, groupId));
    expect(push!.headers.urgency).toBe("normal");
    expect(decrypt(push!, phone)).toMatchObject({ chatType: "group", chatName: name, mention: false, text: "morning, group" });

    const muted = await api("PUT", `/chats/${groupId}/settings`, { token: bob.token, body: { mutedUntil: "2999-01-01T00:00:00Z" } });
    expect(muted.status, JSON.stringify(muted.body)).toBe(200);
    expect(muted.body.settings.muted).toBe(true);
    const from = receiver.deliveries.length;
    mutedSeq = await send(alice, groupId, "nobody needs to hear this");
    // Carol is notified of it: the room has weighed it for a push, so the mention below is weighed on its own.
    await receiver.waitFor(carolsPhone, (d) => decrypt(d, carolsPhone).seq === mutedSeq, { from });
    const seq = await send(alice, groupId, "but you, bob", { mentions: [bob.id] });
    const [mention] = await receiver.waitFor(phone, carries(seq, groupId), { from });
    expect(mention!.headers.urgency).toBe("high");
    expect(decrypt(mention!, phone)).toMatchObject({ count: 1, mention: true, sender: { id: alice.id }, text: "but you, bob" });
    expect(receiver.to(phone, from).map((d) => decrypt(d, phone).seq)).toEqual([seq]);
  });

  it("prunes a target its push service says is gone (410)", async () => {
    const gone = receiver.subscribe("/push/bob-old-laptop");
    receiver.answer(gone.path, 410);
    const added = await addTarget(bob, gone);
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const from = receiver.deliveries.length;
    const seq = await send(alice, chatId, "anyone on the old laptop?");
    const [refused] = await receiver.waitFor(gone, () => true, { from });
    expect(refused!.status).toBe(410);
    expect(decrypt(refused!, gone).seq).toBe(seq);
    await receiver.waitFor(phone, carries(seq), { from });

    const targetIds = async () => (await api("GET", "/push/targets", { token: bob.token })).body.targets.map((t: any) => t.id);
    await eventually("the gone target pruned", async () => !(await targetIds()).includes(added.body.target.id));
    expect(await targetIds()).toHaveLength(1);
    expect(receiver.to(gone)).toHaveLength(1);
  });

  it("retries with backoff when the push service fails (500)", async () => {
    receiver.answer(phone.path, 500);
    const from = receiver.deliveries.length;
    const seq = await send(alice, chatId, "second time lucky");
    const [failed, delivered] = await receiver.waitFor(phone, carries(seq), { from, count: 2, timeoutMs: 45_000 });
    expect([failed!.status, delivered!.status]).toEqual([500, 201]);
    // The queue's backoff: about 5 s (± 20 %) before the second attempt.
    expect(delivered!.at - failed!.at).toBeGreaterThanOrEqual(3_500);
    expect(decrypt(delivered!, phone)).toMatchObject({ seq, count: 1, text: "second time lucky", sender: { id: alice.id } });
  });

  it("never delivered the silent or the muted message, even late", () => {
    expect(silentSeq * mutedSeq).toBeGreaterThan(0);
    const notified = receiver.to(phone).map((d) => `${decrypt(d, phone).chatId}:${decrypt(d, phone).seq}`);
    expect(notified).not.toContain(`${chatId}:${silentSeq}`);
    expect(notified).not.toContain(`${groupId}:${mutedSeq}`);
  });
});
