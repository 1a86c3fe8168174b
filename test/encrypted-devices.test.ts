import { describe, expect, it } from "vitest";
import { C, cid, expectInvalid, ok, openChatSocket } from "./chat-helpers";
import { type Device, envelopeFor, pair, readAs, sendEncrypted, userWithDevices } from "./encrypted-helpers";
import { api, expectError, logIn } from "./helpers";
import { curveKeyPair, deviceKeys } from "./keys-helpers";

/**
 * Encrypted chats and the devices behind them: device numbers are never reused, envelopes are
 * bound to the registration they were encrypted for, the device check follows the key server's
 * reachability rules (blocks, inactive accounts), and the limits that keep a send possible.
 */

const keysOf = (identity: ReturnType<typeof curveKeyPair>, registrationId: number) => deviceKeys(identity, { registrationId }).body;

describe("device numbers and registrations", () => {
  it("a number freed by a reset is never given again, and an open socket never reads another registration's envelope", async () => {
    const alice = await userWithDevices(1);
    const bob = await userWithDevices(3);
    const [phone, laptop, tablet] = bob as [Device, Device, Device];
    const chat = (
      await ok(await api("POST", C, { token: alice[0]!.token, body: { type: "direct", memberIds: [phone.user.id], encrypted: true } }), 201)
    ).chat;
    const laptopSocket = await openChatSocket(laptop.user, chat.id, laptop.token);
    // The phone resets the identity: every other device's keys go; the tablet registers again.
    const identity = curveKeyPair();
    const reset = await api("PUT", "/api/v1/keys", { token: phone.token, body: { ...keysOf(identity, 901), resetIdentity: true } });
    expect(reset.body).toEqual({ deviceId: phone.deviceId });
    const again = await api("PUT", "/api/v1/keys", { token: tablet.token, body: keysOf(identity, 902) });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.deviceId).toBe(4); // not the laptop's freed 2 (nor its own old 3)
    const newcomer = await logIn(phone.user.username, undefined, { deviceId: "bob-new-device" });
    const fresh = await api("PUT", "/api/v1/keys", { token: newcomer.body.tokens.accessToken, body: keysOf(identity, 903) });
    expect(fresh.body.deviceId).toBe(5);

    const phoneNow = { ...phone, registrationId: 901 };
    const tabletNow = { ...tablet, deviceId: 4, registrationId: 902 };
    const freshDevice = { user: phone.user, token: newcomer.body.tokens.accessToken, deviceId: 5, registrationId: 903, identity };
    const envelopes = [envelopeFor(phoneNow), envelopeFor(tabletNow), envelopeFor(freshDevice)];
    const sent = (await ok(await sendEncrypted(alice[0]!, chat.id, { envelopes }), 201)).message;
    const frame = await laptopSocket.next("message.new", (f) => f.message.id === sent.id);
    expect(frame.message.envelope).toBeNull();
    const ack = await laptopSocket.request({ type: "envelope.ack", messageIds: [sent.id] });
    expect(ack).toMatchObject({ type: "ack", acknowledged: [] });
    expect((await readAs(tabletNow, chat.id)).at(-1).envelope).toEqual({ deviceId: 4, type: 3, body: envelopes[1]!.body });
    laptopSocket.close();
  });

  it("an account may have keys on six devices; the seventh is refused", async () => {
    const [first] = await userWithDevices(6);
    const seventh = await logIn(first!.user.username, undefined, { deviceId: "seventh" });
    const res = await api("PUT", "/api/v1/keys", { token: seventh.body.tokens.accessToken, body: keysOf(first!.identity, 77) });
    expectError(res, 409, "too_many_devices");
  });
});

describe("the device check follows the key server's rules", () => {
  it("members who block the sender (or whom the sender blocks) are left out, as GET /keys leaves them out", async () => {
    const [alice, bob, carol] = await Promise.all([userWithDevices(1), userWithDevices(1), userWithDevices(1)]);
    const group = (
      await ok(
        await api("POST", C, {
          token: alice[0]!.token,
          body: { type: "group", name: "Secret", encrypted: true, memberIds: [bob[0]!.user.id, carol[0]!.user.id] },
        }),
        201,
      )
    ).chat;
    const blocked = await api("POST", "/api/v1/users/me/blocked", { token: carol[0]!.token, body: { userId: alice[0]!.user.id } });
    expect(blocked.status).toBe(201);
    expect((await api("GET", `/api/v1/keys/${carol[0]!.user.id}/devices`, { token: alice[0]!.token })).status).toBe(404);
    const withCarol = await sendEncrypted(alice[0]!, group.id, { envelopes: [envelopeFor(bob[0]!), envelopeFor(carol[0]!)] });
    expectError(withCarol, 409, "device_mismatch");
    expect(withCarol.body.error.details).toEqual({ missingDevices: [], extraDevices: [{ userId: carol[0]!.user.id, deviceId: 1 }] });
    await ok(await sendEncrypted(alice[0]!, group.id, { envelopes: [envelopeFor(bob[0]!)] }), 201);
  });
});

describe("refusals that keep the rules in one place", () => {
  it("scheduling an encrypted message in a plain chat, mentions in an encrypted one, acks in a plain one", async () => {
    const { alice, bob, chat } = await pair();
    const plain = (await ok(await api("POST", C, { token: alice[0]!.token, body: { type: "direct", memberIds: [bob[0]!.user.id] } }), 201))
      .chat;
    const later = new Date(Date.now() + 3600_000).toISOString();
    expectError(await sendEncrypted(alice[0]!, plain.id, { ciphertext: "AQID", scheduledAt: later }), 422, "not_encrypted");
    expect((await api("GET", `${C}/${plain.id}/scheduled`, { token: alice[0]!.token })).body.items).toEqual([]);
    expectInvalid(await sendEncrypted(alice[0]!, chat.id, { ciphertext: "AQID", mentions: [bob[0]!.user.id] }), "body.mentions");
    const message = (
      await ok(
        await api("POST", `${C}/${plain.id}/messages`, { token: alice[0]!.token, body: { clientMessageId: cid(), text: "hi" } }),
        201,
      )
    ).message;
    expectError(
      await api("POST", `${C}/${plain.id}/envelopes/ack`, { token: bob[0]!.token, body: { messageIds: [message.id] } }),
      422,
      "not_encrypted",
    );
  });

  it("an id acknowledged twice in one call counts once", async () => {
    const { alice, bob, chat } = await pair();
    const envelopes = [envelopeFor(bob[0]!), envelopeFor(bob[1]!), envelopeFor(alice[1]!)];
    const sent = (await ok(await sendEncrypted(alice[0]!, chat.id, { envelopes }), 201)).message;
    const res = await api("POST", `${C}/${chat.id}/envelopes/ack`, { token: bob[0]!.token, body: { messageIds: [sent.id, sent.id] } });
    expect(await ok(res)).toEqual({ acknowledged: [sent.id] });
  });

  it("a shadow-banned member's envelopes reach only their own devices", async () => {
    const [owner, member] = await Promise.all([userWithDevices(1), userWithDevices(2)]);
    const body = { type: "group", name: "Secret", encrypted: true, memberIds: [member[0]!.user.id] };
    const secret = (await ok(await api("POST", C, { token: owner[0]!.token, body }), 201)).chat;
    const ban = await api("POST", `${C}/${secret.id}/bans`, { token: owner[0]!.token, body: { userId: member[0]!.user.id, shadow: true } });
    expect(ban.status).toBe(201);
    const envelopes = [envelopeFor(owner[0]!), envelopeFor(member[1]!)];
    const sent = (await ok(await sendEncrypted(member[0]!, secret.id, { envelopes }), 201)).message;
    const deliveries = (await ok(await api("GET", `${C}/${secret.id}/messages/${sent.id}/deliveries`, { token: member[0]!.token })))
      .deliveries;
    expect(deliveries.map((d: any) => d.userId)).toEqual([member[0]!.user.id]);
    expect((await readAs(member[1]!, secret.id)).at(-1).envelope).not.toBeNull();
    expect((await readAs(owner[0]!, secret.id)).map((m: any) => m.id)).not.toContain(sent.id);
  });
});
