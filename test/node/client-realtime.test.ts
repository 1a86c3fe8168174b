import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../bench/server.mjs";
import type { ChatEvent, ChatSocket, HubUpdate, MessengerClient, SendResult } from "../../client";
import { PASSWORD } from "./api";
import { FAST_BACKOFF, signedUpClient, testNetwork, until } from "./client-helpers";

/**
 * The client library's sockets against a real `wrangler dev`: a chat socket that loses its
 * connection resumes from its last eventSeq with no gap and no duplicate, its outbox delivers
 * what was sent meanwhile (and what lost its ack) exactly once with the same clientMessageId,
 * typing is throttled, an ended session stops it; the realtime socket resumes by updateSeq.
 */

let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  server = await startServer("client-realtime", { port: 0, vars: { ARGON2_MEMORY_KIB: "64", ARGON2_ITERATIONS: "1" } });
});
afterAll(async () => {
  await server?.stop();
});

/** A text message from `client` through REST (as another device or app would send it). */
async function postText(client: MessengerClient, chatId: string, text: string) {
  const sent = await client.api.post("/api/v1/chats/{chatId}/messages", {
    path: { chatId },
    body: { clientMessageId: crypto.randomUUID(), type: "text", text },
  });
  if (!("message" in sent)) throw new Error("a scheduled message, not a sent one");
  return sent;
}

/** The chat's whole history as `client` sees it, oldest first. */
const history = async (client: MessengerClient, chatId: string) =>
  (await client.api.get("/api/v1/chats/{chatId}/messages", { path: { chatId }, query: { after: 0, limit: 100 } })).items;

/** A started chat socket, once it is connected and caught up. */
async function readySocket(socket: ChatSocket): Promise<ChatSocket> {
  const ready = socket.next("ready", { timeoutMs: 10_000 });
  socket.start();
  await ready;
  return socket;
}

describe("client library: chat socket", () => {
  const network = testNetwork();
  let alice: Awaited<ReturnType<typeof signedUpClient>>;
  let bob: Awaited<ReturnType<typeof signedUpClient>>;
  let chatId: string;

  beforeAll(async () => {
    alice = await signedUpClient(server.baseUrl, "alice", { WebSocket: network.WebSocket });
    bob = await signedUpClient(server.baseUrl, "bob");
    const created = await alice.client.api.post("/api/v1/chats", { body: { type: "group", name: "Resume", memberIds: [bob.user.id] } });
    expect(created.invited).toEqual([]);
    chatId = created.chat.id;
  });

  it("delivers every message once across a lost connection, and sends the outbox with the same clientMessageIds", async () => {
    const socket = await readySocket(alice.client.chatSocket(chatId));
    const events: ChatEvent[] = [];
    socket.on("event", (event) => events.push(event));
    const newMessages = () => events.flatMap((e) => (e.type === "message.new" ? [e.message] : []));

    const live = [await socket.send({ text: "one" }), await socket.send({ text: "two" })];
    expect(live.map((r) => [r.message.text, r.duplicate])).toEqual([
      ["one", false],
      ["two", false],
    ]);
    const heard = socket.next("message.new", { match: (e) => e.message.text === "three", timeoutMs: 5000 });
    const fromBob = await postText(bob.client, chatId, "three");
    expect((await heard).message.id).toBe(fromBob.message.id);

    // The network goes away: reconnection attempts fail until it is back.
    network.offline = true;
    const lost = socket.next("disconnected", { timeoutMs: 5000 });
    network.dropAll();
    await lost;
    const queued: Promise<SendResult>[] = [socket.send({ text: "four" }), socket.send({ text: "five" })];
    const pending = socket.pending();
    expect(pending.map((p) => p.content.text)).toEqual(["four", "five"]);
    const missed = [await postText(bob.client, chatId, "six"), await postText(bob.client, chatId, "seven")];
    expect(socket.ready).toBe(false);

    const resumed = socket.next("ready", { timeoutMs: 10_000 });
    network.offline = false;
    expect(await resumed).toMatchObject({ resumed: true });
    const sent = await Promise.all(queued);
    expect(sent.map((r) => [r.message.text, r.message.clientMessageId, r.duplicate])).toEqual(
      pending.map((p) => [p.content.text, p.clientMessageId, false]),
    );
    expect(socket.pending()).toEqual([]);

    // The chat's "created" notice, then the messages in the order the server stored them: the
    // outbox went out after the reconnect, after what bob sent meanwhile.
    const [created, ...stored] = await history(alice.client, chatId);
    expect(created?.type).toBe("system");
    expect(stored.map((m) => m.text)).toEqual(["one", "two", "three", "six", "seven", "four", "five"]);
    await until(() => newMessages().length === stored.length, "every message on the socket");
    // Every stored message reached this socket exactly once, in order: replayed ones included.
    expect(newMessages().map((m) => m.id)).toEqual(stored.map((m) => m.id));
    const seqs = events.map((e) => e.eventSeq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(missed.every((m) => newMessages().some((n) => n.id === m.message.id))).toBe(true);
    expect(socket.lastEventSeq).toBe(Math.max(...seqs));
    socket.close();
  });

  it("sends again a message whose ack was lost, and it is stored once", async () => {
    const socket = await readySocket(alice.client.chatSocket(chatId));
    const clientMessageId = crypto.randomUUID();
    // The server stores the message, but its answer never arrives: the connection breaks first.
    network.filter = (text) => {
      if (!text.includes('"ack"') || !text.includes(clientMessageId)) return true;
      network.filter = null;
      network.dropAll();
      return false;
    };
    const heard: string[] = [];
    socket.on("message.new", (e) => {
      if (e.message.clientMessageId === clientMessageId) heard.push(e.message.id);
    });
    const reconnected = socket.next("ready", { timeoutMs: 10_000 });
    const result = await socket.send({ text: "once" }, { clientMessageId });
    await reconnected;
    expect(result.duplicate).toBe(true);
    expect(result.message.clientMessageId).toBe(clientMessageId);
    const copies = (await history(alice.client, chatId)).filter((m) => m.clientMessageId === clientMessageId);
    expect(copies.map((m) => m.id)).toEqual([result.message.id]);
    // Its event reached the socket once: live with the lost answer, or replayed after the reconnect.
    await until(() => heard.length > 0, "the message's event");
    expect(heard).toEqual([result.message.id]);
    socket.close();
  });

  it("throttles typing: many keystrokes make one typing.start, then one stop", async () => {
    const watcher = await readySocket(bob.client.chatSocket(chatId));
    const typist = await readySocket(alice.client.chatSocket(chatId));
    const seen: boolean[] = [];
    watcher.on("typing", (frame) => {
      if (frame.userId === alice.user.id) seen.push(frame.typing);
    });
    for (let i = 0; i < 20; i++) typist.typing();
    const stopped = watcher.next("typing", { match: (f) => f.userId === alice.user.id && !f.typing, timeoutMs: 5000 });
    typist.stopTyping();
    await stopped;
    expect(seen).toEqual([true, false]);
    typist.close();
    watcher.close();
  });

  it("stops, signed out, when the server ends the socket's session (4005), and refuses sends from then on", async () => {
    const phone = await signedUpClient(server.baseUrl, "phone");
    const signIn = await phone.client.auth.signIn({ identifier: bob.user.username, password: PASSWORD, deviceName: "phone" });
    if (signIn.status !== "signedIn") throw new Error("no 2FA here");
    const socket = await readySocket(phone.client.chatSocket(chatId));
    const closed = socket.next("disconnected", { timeoutMs: 5000 });
    const stopped = socket.next("stopped", { timeoutMs: 5000 });
    const signedOut = phone.client.auth.next("signedOut", { timeoutMs: 5000 });
    await bob.client.api.delete("/api/v1/auth/sessions/{id}", { path: { id: signIn.signedIn.session.id } });
    expect((await closed).code).toBe(4005);
    expect(await signedOut).toEqual({ reason: "session_revoked" });
    await stopped;
    expect(socket.state).toBe("stopped");
    await expect(socket.send({ text: "too late" })).rejects.toMatchObject({ code: "socket_closed" });
  });
});

describe("client library: realtime socket", () => {
  it("resumes by updateSeq: updates made while disconnected arrive once, in order", async () => {
    const network = testNetwork();
    const carol = await signedUpClient(server.baseUrl, "carol", { WebSocket: network.WebSocket, backoff: FAST_BACKOFF });
    const { chat } = await carol.client.api.post("/api/v1/chats", { body: { type: "group", name: "Mine" } });
    const settings = (body: { pinned?: boolean; archived?: boolean; hidden?: boolean }) =>
      carol.client.api.put("/api/v1/chats/{chatId}/settings", { path: { chatId: chat.id }, body });

    const socket = carol.client.userSocket();
    const ready = socket.next("ready", { timeoutMs: 10_000 });
    socket.start();
    await ready;
    const updates: HubUpdate[] = [];
    socket.on("update", (update) => updates.push(update));

    const pinned = socket.next("chat.settings", { match: (u) => u.pinned, timeoutMs: 5000 });
    await settings({ pinned: true });
    await pinned;

    network.offline = true;
    const lost = socket.next("disconnected", { timeoutMs: 5000 });
    network.dropAll();
    await lost;
    await settings({ archived: true });
    await settings({ hidden: true });

    const resumed = socket.next("ready", { timeoutMs: 10_000 });
    network.offline = false;
    expect(await resumed).toMatchObject({ resumed: true });
    const mine = updates.flatMap((u) => (u.type === "chat.settings" ? [[u.pinned, u.archived, u.hidden]] : []));
    expect(mine).toEqual([
      [true, false, false],
      [true, true, false],
      [true, true, true],
    ]);
    const seqs = updates.map((u) => u.updateSeq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(socket.lastUpdateSeq).toBe(seqs.at(-1));
    expect(network.attempts).toBeGreaterThan(1);
    socket.close();
  });
});
