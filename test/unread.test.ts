import { describe, expect, it } from "vitest";
import { exactUnread } from "../src/chats/list";
import type { RoomEnv } from "../src/chats/room-sync";
import { C, createDirect, createGroup, flush, getChat, send, unread } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";

const read = (u: TestUser, chatId: string, seq: number) => api("POST", `${C}/${chatId}/read`, { token: u.accessToken, body: { seq } });
const settings = (u: TestUser, chatId: string, body: unknown) => api("PUT", `${C}/${chatId}/settings`, { token: u.accessToken, body });
const listed = async (u: TestUser, chatId: string) =>
  ((await api("GET", C, { token: u.accessToken })).body.items as any[]).find((c) => c.id === chatId);

describe("unread counts", () => {
  it("count others' messages only, drop with reads, and agree across the list, the chat and /unread", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    await send(a, chat.id, "mine 1");
    await send(a, chat.id, "mine 2");
    const fromB = [await send(b, chat.id, "b1"), await send(b, chat.id, "b2"), await send(b, chat.id, "b3")];
    await flush(chat.id);
    expect(await unread(a)).toEqual({ total: 3, mentions: 0, chats: [{ chatId: chat.id, count: 3, mentions: 0, muted: false }] });
    expect((await listed(a, chat.id)).unreadCount).toBe(3);
    expect((await getChat(a, chat.id)).body.chat.unreadCount).toBe(3);
    // b's own messages never count for b; sending marked everything before it read.
    expect(await unread(b)).toEqual({ total: 0, mentions: 0, chats: [] });
    expect((await read(a, chat.id, fromB[1]!.seq)).body).toEqual({ seq: fromB[1]!.seq, unread: 1, mentions: 0 });
    expect(await unread(a)).toEqual({ total: 1, mentions: 0, chats: [{ chatId: chat.id, count: 1, mentions: 0, muted: false }] });
    await read(a, chat.id, fromB[2]!.seq);
    expect(await unread(a)).toEqual({ total: 0, mentions: 0, chats: [] });
    expect((await listed(a, chat.id)).unreadCount).toBe(0);
  });

  it("deleting an unread message lowers the count; so does hiding it for me; system messages never count", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const [m1, m2] = [await send(b, chat.id, "oops"), await send(b, chat.id, "keep")];
    await send(b, chat.id, "spam");
    await flush(chat.id);
    expect((await unread(a)).total).toBe(3);
    expect((await api("DELETE", `${C}/${chat.id}/messages/${m1.id}`, { token: b.accessToken })).status).toBe(204);
    expect((await unread(a)).total).toBe(2);
    await api("DELETE", `${C}/${chat.id}/messages/${m2.id}?for=me`, { token: a.accessToken });
    expect((await unread(a)).total).toBe(1);
    // An `added` system message is not unread.
    expect((await api("POST", `${C}/${chat.id}/members`, { token: b.accessToken, body: { userIds: [c.id] } })).status).toBe(200);
    await flush(chat.id);
    expect((await unread(a)).total).toBe(1);
  });

  it("sum over chats; muted chats stay listed but leave the total", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const group = await createGroup(b, [a]);
    const direct = await createDirect(c, a);
    await send(b, group.id, "g1");
    await send(b, group.id, "g2");
    await send(c, direct.id, "d1");
    await flush(group.id);
    await flush(direct.id);
    const before = await unread(a);
    expect(before.total).toBe(3);
    expect(before.chats).toHaveLength(2);
    expect(before.chats).toEqual(
      expect.arrayContaining([
        { chatId: group.id, count: 2, mentions: 0, muted: false },
        { chatId: direct.id, count: 1, mentions: 0, muted: false },
      ]),
    );
    await settings(a, group.id, { mutedUntil: new Date(Date.now() + 60_000).toISOString() });
    const muted = await unread(a);
    expect(muted.total).toBe(1);
    expect(muted.chats).toEqual(
      expect.arrayContaining([
        { chatId: group.id, count: 2, mentions: 0, muted: true },
        { chatId: direct.id, count: 1, mentions: 0, muted: false },
      ]),
    );
    expect(await listed(a, group.id)).toMatchObject({ unreadCount: 2, muted: true });
    await settings(a, direct.id, { mutedUntil: "forever" });
    expect((await unread(a)).total).toBe(0);
    await settings(a, group.id, { mutedUntil: null });
    expect((await unread(a)).total).toBe(2);
  });

  it("forgets chats I was removed from", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    await send(a, chat.id, "hello b");
    await flush(chat.id);
    expect((await unread(b)).total).toBe(1);
    await api("DELETE", `${C}/${chat.id}/members/${b.id}`, { token: a.accessToken });
    expect(await unread(b)).toEqual({ total: 0, mentions: 0, chats: [] });
  });

  it("asks a room only when D1 says the chat may have unread messages", async () => {
    const asked: string[] = [];
    const fakeEnv = {
      CHAT_ROOM: {
        idFromName: (name: string) => name,
        get: (id: string) => ({
          unread: async () => {
            asked.push(id);
            return { ok: true, value: { count: 7, mentions: 2, readSeq: 0, lastSeq: 9 } };
          },
        }),
      },
    } as unknown as RoomEnv;
    const counts = await exactUnread(fakeEnv, "me", [
      { chatId: "read-up", lastSeq: 5, readSeq: 5 },
      { chatId: "behind", lastSeq: 9, readSeq: 2 },
      { chatId: "empty", lastSeq: 0, readSeq: 0 },
    ]);
    expect(asked).toEqual(["behind"]);
    const none = { count: 0, mentions: 0 };
    expect(Object.fromEntries(counts)).toEqual({ "read-up": none, behind: { count: 7, mentions: 2 }, empty: none });
  });

  it("needs a token", async () => {
    expectError(await api("GET", `${C}/unread`), 401, "unauthorized");
  });
});
