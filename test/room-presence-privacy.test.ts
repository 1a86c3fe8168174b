import { describe, expect, it } from "vitest";
import { addContact, block, createGroup, openChatSocket, setPrivacy } from "./chat-helpers";
import { api, signUp, type TestUser } from "./helpers";
import type { TestSocket } from "./room-helpers";

const online = (s: TestSocket) => [...(s.frames[0].online as string[])].sort();
const presenceOf = (s: TestSocket, userId: string, since = 0) => s.presenceOf(userId, since);

/** Wait until a ping round trip completed: every frame the room sent before it has arrived. */
const settle = async (...sockets: TestSocket[]) => {
  for (const s of sockets) expect(await s.request({ type: "ping" })).toMatchObject({ type: "ack" });
};

async function group(...members: TestUser[]) {
  const [owner, ...rest] = members;
  return (await createGroup(owner!, rest)).id as string;
}

describe("presence in rooms follows lastSeen privacy and blocks", () => {
  it("`nobody`: never in hello's online list nor in presence frames, for anyone else", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    await setPrivacy(b, { lastSeen: "nobody" });
    const chatId = await group(a, b, c);
    const sb = await openChatSocket(b, chatId);
    const sa = await openChatSocket(a, chatId);
    expect(online(sa)).toEqual([a.id].sort());
    // B still sees the others (their settings allow it) and themselves.
    const sc = await openChatSocket(c, chatId);
    expect(await sb.nextPresence(c.id, true)).toBeTruthy();
    expect(online(sc)).toEqual([a.id, c.id].sort());
    sb.close();
    // A later change everyone may see: once it arrived, anything about B would have too (flushes keep order).
    const d = await signUp();
    await api("POST", `/api/v1/chats/${chatId}/members`, { token: a.accessToken, body: { userIds: [d.id] } });
    (await openChatSocket(d, chatId)).close();
    expect(await sa.nextPresence(d.id, false)).toBeTruthy();
    expect(await sc.nextPresence(d.id, false)).toBeTruthy();
    expect(presenceOf(sa, b.id)).toEqual([]);
    expect(presenceOf(sc, b.id)).toEqual([]);
  });

  it("`contacts`: only people the user added as contacts see them online", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    await setPrivacy(b, { lastSeen: "contacts" });
    await addContact(b, a);
    const chatId = await group(a, b, c);
    const sa = await openChatSocket(a, chatId);
    const sc = await openChatSocket(c, chatId);
    await openChatSocket(b, chatId);
    expect(await sa.nextPresence(b.id, true)).toBeTruthy();
    await settle(sc);
    expect(presenceOf(sc, b.id)).toEqual([]);
    expect(online(await openChatSocket(a, chatId))).toContain(b.id);
    expect(online(await openChatSocket(c, chatId))).not.toContain(b.id);
  });

  it("a block in either direction hides both from each other", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    await block(a, b);
    const chatId = await group(c, a, b);
    const sa = await openChatSocket(a, chatId);
    const sb = await openChatSocket(b, chatId);
    expect(online(sb)).not.toContain(a.id);
    const sc = await openChatSocket(c, chatId);
    expect(online(sc)).toEqual([a.id, b.id, c.id].sort());
    // C came online after B: once A heard of C, anything about B would have arrived too.
    expect(await sa.nextPresence(c.id, true)).toBeTruthy();
    expect(presenceOf(sa, b.id)).toEqual([]);
    expect(online(await openChatSocket(a, chatId))).not.toContain(b.id);
  });

  /** A and B in a group, each with a socket, B seen online by A. */
  async function pair() {
    const [a, b] = [await signUp(), await signUp()];
    const chatId = await group(a, b);
    const sa = await openChatSocket(a, chatId);
    const sb = await openChatSocket(b, chatId);
    expect(await sa.nextPresence(b.id, true)).toBeTruthy();
    return { a, b, sa, sb };
  }

  it("a lastSeen change applies to live sockets at once", async () => {
    const { b, sa } = await pair();
    let mark = sa.frames.length;
    await setPrivacy(b, { lastSeen: "nobody" });
    expect(await sa.nextPresence(b.id, false, mark)).toBeTruthy();
    mark = sa.frames.length;
    await setPrivacy(b, { lastSeen: "everyone" });
    expect(await sa.nextPresence(b.id, true, mark)).toBeTruthy();
  });

  it("a block and an unblock apply to live sockets at once, both ways", async () => {
    const { a, b, sa, sb } = await pair();
    let mark = sa.frames.length;
    const markB = sb.frames.length;
    await block(b, a);
    expect(await sa.nextPresence(b.id, false, mark)).toBeTruthy();
    expect(await sb.nextPresence(a.id, false, markB)).toBeTruthy();
    mark = sa.frames.length;
    expect((await api("DELETE", `/api/v1/users/me/blocked/${a.id}`, { token: b.accessToken })).status).toBe(204);
    expect(await sa.nextPresence(b.id, true, mark)).toBeTruthy();
  });

  it("removing a contact under `contacts` applies to live sockets at once", async () => {
    const { a, b, sa } = await pair();
    await setPrivacy(b, { lastSeen: "contacts" });
    await addContact(b, a);
    const mark = sa.frames.length;
    expect((await api("DELETE", `/api/v1/users/me/contacts/${a.id}`, { token: b.accessToken })).status).toBe(204);
    expect(await sa.nextPresence(b.id, false, mark)).toBeTruthy();
    await settle(sa);
    expect(presenceOf(sa, b.id, mark).at(-1)?.online).toBe(false);
  });

  it("read receipts turned off apply to chats at once", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chatId = await group(a, b);
    const sa = await openChatSocket(a, chatId);
    const sent = await sa.request({ type: "message.send", clientMessageId: "rr1", text: "read me" });
    await setPrivacy(b, { readReceipts: false });
    const res = await api("POST", `/api/v1/chats/${chatId}/read`, { token: b.accessToken, body: { seq: sent.message.seq } });
    expect(res.status, res.text).toBe(200);
    await settle(sa);
    expect(sa.frames.some((f) => f.type === "receipt" && f.userId === b.id && f.kind === "read")).toBe(false);
    const receipts = await api("GET", `/api/v1/chats/${chatId}/messages/${sent.message.id}/receipts`, { token: a.accessToken });
    expect(receipts.body.read).toEqual([]);
  });
});
