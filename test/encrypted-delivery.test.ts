import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { roomFor } from "../src/rooms/client";
import { ENVELOPE_TTL_MS } from "../src/rooms/envelopes";
import { C, ok, openChatSocket, runAlarmAt } from "./chat-helpers";
import { envelopeFor, pair, readAs, sendEncrypted } from "./encrypted-helpers";
import { api, expectError, logIn } from "./helpers";

/**
 * Per-device delivery in encrypted chats: a device acknowledges its envelopes (REST or socket),
 * which erases them and tells the sender; unacknowledged ones are erased after 30 days; what
 * would show content to the server is refused.
 */

afterEach(() => vi.useRealTimers());

/** Alice's first device sends to every other device of the pair; answers the message and its envelopes. */
async function sendToAll({ alice, bob, chat }: Awaited<ReturnType<typeof pair>>) {
  const envelopes = [envelopeFor(bob[0]!), envelopeFor(bob[1]!), envelopeFor(alice[1]!)];
  const message = (await ok(await sendEncrypted(alice[0]!, chat.id, { envelopes, ciphertext: "AQID" }), 201)).message;
  return { message, envelopes };
}

/** The room's stored envelope bodies for a message (null once erased). */
async function storedBodies(chatId: string, seq: number): Promise<(string | null)[]> {
  const rows = await runInRoom(chatId, (sql) =>
    sql.exec<{ body: string | null }>("SELECT body FROM envelopes WHERE seq = ? ORDER BY user_id, device_id", seq).toArray(),
  );
  return rows.map((r) => r.body);
}

/** Run `fn` on the chat room's SQLite. */
function runInRoom<T>(chatId: string, fn: (sql: SqlStorage) => T): Promise<T> {
  return runInDurableObject(roomFor(env, chatId), (_instance, state) => fn(state.storage.sql));
}

const ack = (token: string, chatId: string, messageIds: string[]) =>
  api("POST", `${C}/${chatId}/envelopes/ack`, { token, body: { messageIds } });
const deliveries = (token: string, chatId: string, messageId: string) =>
  api("GET", `${C}/${chatId}/messages/${messageId}/deliveries`, { token });

describe("acknowledging envelopes", () => {
  it("erases the device's envelope, tells the sender live and in its state; a second ack changes nothing", async () => {
    const p = await pair();
    const { alice, bob, chat } = p;
    const aliceSocket = await openChatSocket(alice[0]!.user, chat.id, alice[0]!.token);
    const { message } = await sendToAll(p);
    expect((await ok(await deliveries(alice[0]!.token, chat.id, message.id))).deliveries.map((d: any) => d.status)).toEqual([
      "pending",
      "pending",
      "pending",
    ]);

    expect(await ok(await ack(bob[0]!.token, chat.id, [message.id, crypto.randomUUID()]))).toEqual({ acknowledged: [message.id] });
    const told = await aliceSocket.next("envelope.delivered", (f) => f.messageId === message.id);
    expect(told).toMatchObject({ seq: message.seq, userId: bob[0]!.user.id, deviceId: bob[0]!.deviceId });
    expect((await readAs(bob[0]!, chat.id)).at(-1)).toMatchObject({ id: message.id, envelope: null, ciphertext: "AQID" });
    // Bob's other device still has its own.
    expect((await readAs(bob[1]!, chat.id)).at(-1).envelope).not.toBeNull();
    expect(await ok(await ack(bob[0]!.token, chat.id, [message.id]))).toEqual({ acknowledged: [] });

    const state = (await ok(await deliveries(alice[0]!.token, chat.id, message.id))).deliveries;
    const bobPhone = state.find((d: any) => d.userId === bob[0]!.user.id && d.deviceId === bob[0]!.deviceId);
    expect(bobPhone).toMatchObject({ status: "delivered", deliveredAt: told.deliveredAt });
    expect(state.filter((d: any) => d.status === "pending")).toHaveLength(2);
    expect((await storedBodies(chat.id, message.seq)).filter((b) => b === null)).toHaveLength(1);
    // Only the sender sees where the envelopes stand.
    expectError(await deliveries(bob[0]!.token, chat.id, message.id), 403, "not_message_author");
    aliceSocket.close();
  });

  it("the socket's envelope.ack does the same for its own device", async () => {
    const p = await pair();
    const { bob, chat } = p;
    const laptop = await openChatSocket(bob[1]!.user, chat.id, bob[1]!.token);
    const { message } = await sendToAll(p);
    const answer = await laptop.request({ type: "envelope.ack", messageIds: [message.id] });
    expect(answer).toMatchObject({ type: "ack", acknowledged: [message.id] });
    expect((await readAs(bob[1]!, chat.id)).at(-1).envelope).toBeNull();
    expect((await readAs(bob[0]!, chat.id)).at(-1).envelope).not.toBeNull();
    const bad = await laptop.request({ type: "envelope.ack", messageIds: ["nope"] });
    expect(bad).toMatchObject({ type: "error", code: "validation_failed" });
    laptop.close();
  });

  it("a device without keys has no envelopes to acknowledge", async () => {
    const p = await pair();
    const { message } = await sendToAll(p);
    const keyless = await logIn(p.bob[0]!.user.username, undefined, { deviceId: "bob-tablet" });
    const token = keyless.body.tokens.accessToken;
    expect((await readAs({ ...p.bob[0]!, token }, p.chat.id)).at(-1).envelope).toBeNull();
    expectError(await ack(token, p.chat.id, [message.id]), 422, "no_key_device");
  });
});

describe("erasing envelopes", () => {
  it("erases what nobody acknowledged within 30 days; the sender sees them expired", async () => {
    const p = await pair();
    const { message } = await sendToAll(p);
    await ack(p.bob[0]!.token, p.chat.id, [message.id]);
    await runAlarmAt(p.chat.id, Date.now() + ENVELOPE_TTL_MS + 1000);
    vi.useRealTimers(); // tokens expire long before 30 days: read back at today's time
    expect(await storedBodies(p.chat.id, message.seq)).toEqual([null, null, null]);
    expect((await readAs(p.bob[1]!, p.chat.id)).at(-1).envelope).toBeNull();
    const statuses = (await ok(await deliveries(p.alice[0]!.token, p.chat.id, message.id))).deliveries.map((d: any) => d.status).sort();
    expect(statuses).toEqual(["delivered", "expired", "expired"]);
  });

  it("deleting the message for everyone erases its ciphertext and envelopes, in history and in events", async () => {
    const p = await pair();
    const { message, envelopes } = await sendToAll(p);
    expect((await api("DELETE", `${C}/${p.chat.id}/messages/${message.id}`, { token: p.alice[0]!.token })).status).toBe(204);
    expect(await storedBodies(p.chat.id, message.seq)).toEqual([]);
    expect((await readAs(p.bob[0]!, p.chat.id)).at(-1)).toMatchObject({ deleted: true, ciphertext: null, envelope: null });
    const events = await ok(await api("GET", `${C}/${p.chat.id}/events?after=0`, { token: p.bob[0]!.token }));
    expect(JSON.stringify(events)).not.toContain(envelopes[0]!.body);
    expect(JSON.stringify(events)).not.toContain('"AQID"');
  });
});

describe("what the server would read is refused", () => {
  it("edits, reactions, drafts, scheduling and forwarding out", async () => {
    const p = await pair();
    const { message } = await sendToAll(p);
    const token = p.alice[0]!.token;
    const path = `${C}/${p.chat.id}`;
    expectError(await api("PATCH", `${path}/messages/${message.id}`, { token, body: { text: "edited" } }), 422, "encrypted_chat");
    expectError(await api("PUT", `${path}/messages/${message.id}/reactions/${encodeURIComponent("👍")}`, { token }), 422, "encrypted_chat");
    expectError(await api("PUT", `${path}/draft`, { token, body: { text: "typing…" } }), 422, "encrypted_chat");
    const later = new Date(Date.now() + 3600_000).toISOString();
    expectError(await sendEncrypted(p.alice[0]!, p.chat.id, { ciphertext: "AQID", scheduledAt: later }), 422, "encrypted_chat");
    const plain = await ok(await api("POST", C, { token, body: { type: "direct", memberIds: [p.bob[0]!.user.id] } }), 201);
    const forward = await api("POST", `${path}/messages/${message.id}/forward`, { token, body: { toChatIds: [plain.chat.id] } });
    expectError(forward, 403, "forwarding_disabled");
    const search = await ok(await api("GET", `${path}/search?q=AQID`, { token }));
    expect(search.items).toEqual([]);
  });
});
