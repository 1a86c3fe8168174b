import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { roomFor, unwrap } from "../src/rooms/client";
import { writeChatSummary } from "../src/rooms/directory";
import { DEFAULT_PERMISSIONS } from "../src/rooms/types";
import { block, C, createDirect, createGroup, expectSendRefused, flush, send, unread } from "./chat-helpers";
import { api, expectError, signUp } from "./helpers";
import { seedUsers } from "./room-helpers";

/** How the room and the D1 directory stay in step: the cases where one must heal or follow the other. */
describe("room ↔ directory", () => {
  it("starts a member added later at the chat's end: earlier messages are not unread for them", async () => {
    const [owner, late] = [await signUp(), await signUp()];
    const chat = await createGroup(owner);
    for (let i = 0; i < 3; i++) await send(owner, chat.id, `before ${i}`);
    await flush(chat.id);
    const added = await api("POST", `${C}/${chat.id}/members`, { token: owner.accessToken, body: { userIds: [late.id] } });
    expect(added.status, added.text).toBe(200);
    expect((await unread(late)).total).toBe(0);
    const row = await env.DB.prepare(
      "SELECT m.read_seq, c.last_seq FROM chat_members m JOIN chats c ON c.id = m.chat_id WHERE m.chat_id = ? AND m.user_id = ?",
    )
      .bind(chat.id, late.id)
      .first<{ read_seq: number; last_seq: number }>();
    // "created" + 3 messages: the newcomer starts at seq 4.
    expect(row).toEqual({ read_seq: 4, last_seq: 4 });
    await send(owner, chat.id, "after");
    await flush(chat.id);
    expect(await unread(late)).toMatchObject({ total: 1, chats: [{ chatId: chat.id, count: 1 }] });
    // History before joining stays readable.
    const history = await api("GET", `${C}/${chat.id}/messages?limit=10`, { token: late.accessToken });
    expect(history.body.items.filter((m: { type: string }) => m.type === "text")).toHaveLength(4);
  });

  it("reads its settings back from D1 when its configure call never arrived", async () => {
    const [a] = await seedUsers(1);
    const chatId = crypto.randomUUID();
    const at = Date.now();
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO chats (id, type, name, permissions, member_count, created_by, created_at, updated_at, last_activity_at, frozen_at) VALUES (?, 'group', 'lost', ?, 1, ?, ?, ?, ?, ?)",
      ).bind(chatId, JSON.stringify(DEFAULT_PERMISSIONS), a!, at, at, at, at),
      env.DB.prepare("INSERT INTO chat_members (chat_id, user_id, role, joined_at) VALUES (?, ?, 'owner', ?)").bind(chatId, a!, at),
    ]);
    const room = roomFor(env, chatId);
    // The chat is frozen in D1: the room learns that too, not just that the chat exists.
    expect(await room.send({ userId: a!, clientMessageId: "x", type: "text", text: "hi" })).toMatchObject({
      ok: false,
      error: { code: "chat_frozen" },
    });
    await env.DB.prepare("UPDATE chats SET frozen_at = NULL WHERE id = ?").bind(chatId).run();
    unwrap(await room.configure({ chatId, type: "group", frozen: false, slowModeSeconds: 0, permissions: DEFAULT_PERMISSIONS }));
    expect(unwrap(await room.send({ userId: a!, clientMessageId: "y", type: "text", text: "hi" })).message.seq).toBe(1);
    // A room for a chat D1 does not know stays a 404.
    expect(await roomFor(env, crypto.randomUUID()).history(a!, { limit: 5 })).toMatchObject({ ok: false, error: { status: 404 } });
  });

  it("applies new default permissions to every plain member at once, without an event per member", async () => {
    const [owner, m1, m2] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(owner, [m1, m2]);
    const before = (await api("GET", `${C}/${chat.id}/events?after=0&limit=1000`, { token: owner.accessToken })).body
      .lastEventSeq as number;
    const patch = await api("PATCH", `${C}/${chat.id}`, { token: owner.accessToken, body: { permissions: { sendMessages: false } } });
    expect(patch.status, patch.text).toBe(200);
    await expectSendRefused(m1, chat.id, 403, "send_forbidden");
    await expectSendRefused(m2, chat.id, 403, "send_forbidden");
    expect((await send(owner, chat.id, "owners still post")).seq).toBeGreaterThan(0);
    const events = (await api("GET", `${C}/${chat.id}/events?after=${before}&limit=1000`, { token: owner.accessToken })).body.events as {
      type: string;
    }[];
    expect(events.filter((e) => e.type === "member.updated")).toEqual([]);
    // A member's own override wins over the defaults.
    const grant = await api("PATCH", `${C}/${chat.id}/members/${m1.id}`, {
      token: owner.accessToken,
      body: { permissions: { sendMessages: true } },
    });
    expect(grant.status, grant.text).toBe(200);
    expect((await send(m1, chat.id, "allowed again")).senderId).toBe(m1.id);
    await expectSendRefused(m2, chat.id, 403, "send_forbidden");
  });

  it("stops messages in a direct chat while either person blocks the other, and resumes after unblocking", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createDirect(a, b);
    await send(a, chat.id, "hi");
    await block(b, a);
    await expectSendRefused(a, chat.id, 403, "blocked");
    await expectSendRefused(b, chat.id, 403, "blocked");
    // History stays readable for both.
    const texts = (await api("GET", `${C}/${chat.id}/messages`, { token: a.accessToken })).body.items.filter(
      (m: { type: string }) => m.type === "text",
    );
    expect(texts.map((m: { text: string }) => m.text)).toEqual(["hi"]);
    const unblock = await api("DELETE", `/api/v1/users/me/blocked/${a.id}`, { token: b.accessToken });
    expect(unblock.status).toBe(204);
    expect((await send(a, chat.id, "hello again")).text).toBe("hello again");
  });

  it("copies a sender's read position to D1 at the next flush, so chats I wrote in last are not unread candidates", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    await send(b, chat.id, "from b");
    await send(a, chat.id, "from a");
    await flush(chat.id);
    const rows = await env.DB.prepare("SELECT user_id, read_seq FROM chat_members WHERE chat_id = ? ORDER BY read_seq")
      .bind(chat.id)
      .all<{ user_id: string; read_seq: number }>();
    const seqs = Object.fromEntries(rows.results.map((r) => [r.user_id, r.read_seq]));
    expect(seqs[a.id]).toBe(3);
    expect(seqs[b.id]).toBe(2);
    expect(await unread(b)).toMatchObject({ total: 1 });
    expect(await unread(a)).toMatchObject({ total: 0, chats: [] });
    expectError(await api("GET", `${C}/${chat.id}/messages`, {}), 401, "unauthorized");
  });

  it("moves the read positions of one flush forward only, and only for members of this chat", async () => {
    const [a, b, c, outsider] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c]);
    const other = await createGroup(outsider, [a]);
    const readSeqs = async (chatId: string) => {
      const rows = await env.DB.prepare("SELECT user_id, read_seq FROM chat_members WHERE chat_id = ?")
        .bind(chatId)
        .all<{ user_id: string; read_seq: number }>();
      return Object.fromEntries(rows.results.map((r) => [r.user_id, r.read_seq]));
    };
    await env.DB.prepare("UPDATE chat_members SET read_seq = 40 WHERE chat_id = ? AND user_id = ?").bind(chat.id, b.id).run();
    const before = { chat: await readSeqs(chat.id), other: await readSeqs(other.id) };

    const reads = [
      { userId: a.id, seq: 30 },
      { userId: b.id, seq: 35 }, // behind what b has read: stays at 40
      { userId: outsider.id, seq: 50 }, // not a member here: nothing to move
    ];
    await writeChatSummary(env.DB, { chatId: chat.id, lastSeq: 50, lastActivityAt: Date.now(), preview: null, reads, messagesDelta: 0 });

    expect(await readSeqs(chat.id)).toEqual({ ...before.chat, [a.id]: 30, [b.id]: 40 });
    expect(await readSeqs(other.id)).toEqual(before.other);
  });
});
