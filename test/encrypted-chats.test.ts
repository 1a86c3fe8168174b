import { describe, expect, it } from "vitest";
import { C, cid, createGroup, expectInvalid, ok, openChatSocket, sendRaw } from "./chat-helpers";
import { encryptedDirect, envelopeFor, pair, readAs, sendEncrypted, socketWithHeaders, userWithDevices } from "./encrypted-helpers";
import { api, expectError, logIn } from "./helpers";
import { b64 } from "./keys-helpers";

/**
 * End-to-end encrypted chats: only opaque ciphertext is stored; an envelope set must match the
 * members' key devices; each device gets only its own envelope, live, in history and in events,
 * until it acknowledges it (or 30 days pass); the sender sees where each one stands.
 */

describe("creating encrypted chats", () => {
  it("an encrypted direct chat is a second chat beside the plain one; channels cannot be encrypted", async () => {
    const [a, b] = await Promise.all([userWithDevices(1), userWithDevices(1)]);
    const encrypted = await encryptedDirect(a[0]!, b[0]!);
    expect(encrypted).toMatchObject({ type: "direct", encrypted: true, name: b[0]!.user.username });
    const plain = await ok(await api("POST", C, { token: a[0]!.token, body: { type: "direct", memberIds: [b[0]!.user.id] } }), 201);
    expect(plain.chat.id).not.toBe(encrypted.id);
    expect(plain.chat.encrypted).toBe(false);
    // Opening it again (from either side) finds the same encrypted chat.
    const again = await api("POST", C, { token: b[0]!.token, body: { type: "direct", memberIds: [a[0]!.user.id], encrypted: true } });
    expect(again.status).toBe(200);
    expect(again.body.chat.id).toBe(encrypted.id);
    const channel = await api("POST", C, { token: a[0]!.token, body: { type: "channel", name: "News", encrypted: true } });
    expectInvalid(channel, "body.encrypted");
  });
});

describe("what an encrypted chat takes", () => {
  it("refuses plain text, and encrypted messages elsewhere; stores nothing refused", async () => {
    const { alice, chat } = await pair();
    expectError(
      await sendRaw(alice[0]!.user, chat.id, { clientMessageId: cid(), type: "text", text: "in the clear" }),
      422,
      "encryption_required",
    );
    const group = await createGroup(alice[0]!.user);
    expectError(await sendEncrypted(alice[0]!, group.id, { ciphertext: b64(Uint8Array.of(1, 2, 3)) }), 422, "not_encrypted");
    expectInvalid(await sendEncrypted(alice[0]!, chat.id, { ciphertext: "AQID", text: "leak" }), "body.text");
    expectInvalid(await sendEncrypted(alice[0]!, chat.id, {}), "body.ciphertext");
    expectInvalid(await sendEncrypted(alice[0]!, chat.id, { ciphertext: "not base64!" }), "body.ciphertext");
    expectInvalid(await sendEncrypted(alice[0]!, chat.id, { ciphertext: b64(new Uint8Array(64 * 1024 + 1)) }), "body.ciphertext");
    const twice = envelopeFor(alice[1]!);
    expectInvalid(await sendEncrypted(alice[0]!, chat.id, { envelopes: [twice, twice] }), "body.envelopes");
    expect(await readAs(alice[0]!, chat.id)).toEqual([expect.objectContaining({ type: "system" })]);
  });

  it("a ciphertext-only send (a sender-key message) reaches everyone as one blob", async () => {
    const { alice, bob, chat } = await pair();
    const blob = b64(crypto.getRandomValues(new Uint8Array(300)));
    const sent = await ok(await sendEncrypted(alice[0]!, chat.id, { ciphertext: blob }), 201);
    expect(sent.message).toMatchObject({ type: "encrypted", text: null, ciphertext: blob, envelope: null, entities: [] });
    const seen = (await readAs(bob[1]!, chat.id)).at(-1);
    expect(seen).toMatchObject({ id: sent.message.id, ciphertext: blob, envelope: null });
  });
});

describe("the envelope set must match the members' devices", () => {
  it("missing and extra devices answer 409, stale registrations 410; the retry with the same id succeeds once", async () => {
    const { alice, bob, chat } = await pair();
    const carol = (await userWithDevices(1))[0]!;
    const clientMessageId = cid();
    const attempt = (envelopes: unknown[]) =>
      api("POST", `${C}/${chat.id}/messages`, { token: alice[0]!.token, body: { clientMessageId, type: "encrypted", envelopes } });

    const partial = await attempt([envelopeFor(bob[0]!), envelopeFor(carol)]);
    expectError(partial, 409, "device_mismatch");
    expect(partial.body.error.details.missingDevices).toEqual(
      expect.arrayContaining([
        { userId: bob[1]!.user.id, deviceId: bob[1]!.deviceId },
        { userId: alice[1]!.user.id, deviceId: alice[1]!.deviceId },
      ]),
    );
    expect(partial.body.error.details.missingDevices).toHaveLength(2);
    expect(partial.body.error.details.extraDevices).toEqual([{ userId: carol.user.id, deviceId: carol.deviceId }]);
    // The sending device itself is not expected: an envelope for it is extra.
    const self = await attempt([envelopeFor(bob[0]!), envelopeFor(bob[1]!), envelopeFor(alice[1]!), envelopeFor(alice[0]!)]);
    expect(self.body.error.details).toEqual({ missingDevices: [], extraDevices: [{ userId: alice[0]!.user.id, deviceId: 1 }] });

    const stale = await attempt([envelopeFor(bob[0]!), envelopeFor(bob[1]!, 16000), envelopeFor(alice[1]!)]);
    expectError(stale, 410, "stale_devices");
    expect(stale.body.error.details).toEqual({ staleDevices: [{ userId: bob[1]!.user.id, deviceId: bob[1]!.deviceId }] });
    expect(await readAs(alice[0]!, chat.id)).toHaveLength(1); // the `created` notice only

    const full = [envelopeFor(bob[0]!), envelopeFor(bob[1]!), envelopeFor(alice[1]!)];
    const sent = await ok(await attempt(full), 201);
    const retry = await ok(await attempt(full), 200);
    expect(retry.message.id).toBe(sent.message.id);
    expect(await readAs(alice[0]!, chat.id)).toHaveLength(2);
  });
});

describe("each device gets only its own envelope", () => {
  it("in history, in a single message and in replayed events; the sending device gets none", async () => {
    const { alice, bob, chat } = await pair();
    const envelopes = [envelopeFor(bob[0]!), envelopeFor(bob[1]!), envelopeFor(alice[1]!)];
    const sent = (await ok(await sendEncrypted(alice[0]!, chat.id, { envelopes }), 201)).message;
    expect(sent.envelope).toBeNull();
    for (const [device, envelope] of [
      [bob[0]!, envelopes[0]!],
      [bob[1]!, envelopes[1]!],
      [alice[1]!, envelopes[2]!],
    ] as const) {
      const mine = { deviceId: envelope.deviceId, type: 3, body: envelope.body };
      expect((await readAs(device, chat.id)).at(-1).envelope).toEqual(mine);
      expect((await ok(await api("GET", `${C}/${chat.id}/messages/${sent.id}`, { token: device.token }))).message.envelope).toEqual(mine);
      const events = await ok(await api("GET", `${C}/${chat.id}/events?after=0`, { token: device.token }));
      const event = events.events.find((e: any) => e.type === "message.new" && e.message.id === sent.id);
      expect(event.message.envelope).toEqual(mine);
      expect(JSON.stringify(events)).not.toContain(envelopes.find((e) => e !== envelope)!.body);
    }
    expect((await readAs(alice[0]!, chat.id)).at(-1).envelope).toBeNull();
  });

  it("live: each socket hears the message with its device's envelope, and a header naming another device is ignored", async () => {
    const { alice, bob, chat } = await pair();
    const [bobPhone, bobLaptop] = await Promise.all([
      openChatSocket(bob[0]!.user, chat.id),
      openChatSocket(bob[1]!.user, chat.id, bob[1]!.token),
    ]);
    // A client that names a key device itself gets the one its session has (none here: no keys).
    const keyless = await logIn(bob[0]!.user.username, undefined, { deviceId: "bob-no-keys" });
    const forged = await socketWithHeaders(chat.id, keyless.body.tokens.accessToken, { "x-key-device-id": String(bob[1]!.deviceId) });
    const envelopes = [envelopeFor(bob[0]!), envelopeFor(bob[1]!), envelopeFor(alice[1]!)];
    const sent = (await ok(await sendEncrypted(alice[0]!, chat.id, { envelopes }), 201)).message;
    const onPhone = await bobPhone.next("message.new", (f) => f.message.id === sent.id);
    const onLaptop = await bobLaptop.next("message.new", (f) => f.message.id === sent.id);
    const onForged = await forged.next("message.new", (f) => f.message.id === sent.id);
    expect(onPhone.message.envelope).toEqual({ deviceId: bob[0]!.deviceId, type: 3, body: envelopes[0]!.body });
    expect(onLaptop.message.envelope).toEqual({ deviceId: bob[1]!.deviceId, type: 3, body: envelopes[1]!.body });
    expect(onForged.message.envelope).toBeNull();
    expect(onPhone.eventSeq).toBe(onLaptop.eventSeq);
    expect(JSON.stringify(bobPhone.frames)).not.toContain(envelopes[1]!.body);
    for (const s of [bobPhone, bobLaptop, forged]) s.close();
  });
});
