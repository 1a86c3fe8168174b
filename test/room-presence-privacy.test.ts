import { describe, expect, it } from "vitest";
import { addContact, block, createGroup, openChatSocket, setPrivacy } from "./chat-helpers";
import { api, signUp, type TestUser } from "./helpers";
import type { TestSocket } from "./room-helpers";

const online = (s: TestSocket) => [...(s.frames[0].online as string[])].sort();
const presenceOf = (s: TestSocket, userId: string, since = 0) =>
  s.frames.slice(since).filter((f) => f.type === "presence" && f.userId === userId);

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
    expect(await sb.next("presence", (f) => f.userId === c.id && f.online)).toBeTruthy();
    expect(online(sc)).toEqual([a.id, c.id].sort());
    sb.close();
    await settle(sa, sc);
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
    expect(await sa.next("presence", (f) => f.userId === b.id && f.online)).toBeTruthy();
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
    await settle(sa);
    expect(presenceOf(sa, b.id)).toEqual([]);
    expect(online(await openChatSocket(a, chatId))).not.toContain(b.id);
  });

  it("changes apply to live sockets at once: privacy, blocks and contacts", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chatId = await group(a, b);
    const sa = await openChatSocket(a, chatId);
    const sb = await openChatSocket(b, chatId);
    expect(await sa.next("presence", (f) => f.userId === b.id && f.online)).toBeTruthy();

    let mark = sa.frames.length;
    await setPrivacy(b, { lastSeen: "nobody" });
    expect(await sa.next("presence", (f) => f.userId === b.id && !f.online, mark)).toBeTruthy();
    mark = sa.frames.length;
    await setPrivacy(b, { lastSeen: "everyone" });
    expect(await sa.next("presence", (f) => f.userId === b.id && f.online, mark)).toBeTruthy();

    mark = sa.frames.length;
    const markB = sb.frames.length;
    await block(b, a);
    expect(await sa.next("presence", (f) => f.userId === b.id && !f.online, mark)).toBeTruthy();
    expect(await sb.next("presence", (f) => f.userId === a.id && !f.online, markB)).toBeTruthy();
    mark = sa.frames.length;
    expect((await api("DELETE", `/api/v1/users/me/blocked/${a.id}`, { token: b.accessToken })).status).toBe(204);
    expect(await sa.next("presence", (f) => f.userId === b.id && f.online, mark)).toBeTruthy();

    await setPrivacy(b, { lastSeen: "contacts" });
    await addContact(b, a);
    mark = sa.frames.length;
    expect((await api("DELETE", `/api/v1/users/me/contacts/${a.id}`, { token: b.accessToken })).status).toBe(204);
    expect(await sa.next("presence", (f) => f.userId === b.id && !f.online, mark)).toBeTruthy();
    await settle(sa);
    expect(
      sa.frames
        .slice(mark)
        .filter((f) => f.type === "presence" && f.userId === b.id)
        .at(-1).online,
    ).toBe(false);
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
