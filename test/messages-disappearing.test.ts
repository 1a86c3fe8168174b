import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { roomFor } from "../src/rooms/client";
import { C, cid, createDirect, createGroup, getChat, history, openChatSocket, runAlarmAt, send, sendRaw } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { PNG } from "./media-fixtures";
import { mediaRow, upload } from "./media-helpers";

/** Disappearing messages: erased by the room's alarm when their time comes (the clock is moved, the alarm run). */

const setTtl = (u: TestUser, chatId: string, seconds: unknown) =>
  api("PUT", `${C}/${chatId}/message-ttl`, { token: u.accessToken, body: { seconds } });
const items = async (u: TestUser, chatId: string) => (await history(u, chatId, "?limit=100")).body.items as any[];

afterEach(() => vi.useRealTimers());

describe("disappearing messages", () => {
  it("a chat's time to live erases each later message that long after it was sent, everywhere", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const before = await send(a, chat.id, "stays forever");
    expectError(await setTtl(b, chat.id, 3600), 403, "permission_denied");
    // A minute (the clock moves past it below; an hour would outlive the test's access tokens).
    const set = await setTtl(a, chat.id, 60);
    expect(set.status, set.text).toBe(200);
    expect(set.body.chat.messageTtlSeconds).toBe(60);
    const notice = (await items(b, chat.id)).find((m) => m.type === "system" && m.system.event === "ttl_changed");
    expect(notice.system).toMatchObject({ actorId: a.id, seconds: 60 });

    const item = await upload(a, PNG, { type: "image/png", name: "secret.png" });
    const res = await sendRaw(a, chat.id, { clientMessageId: cid(), type: "image", text: "self destructing", attachments: [item.id] });
    expect(res.status, res.text).toBe(201);
    const m = res.body.message;
    expect(Date.parse(m.expiresAt) - Date.parse(m.createdAt)).toBe(60_000);
    expect(before.expiresAt).toBeNull();
    await api("PUT", `${C}/${chat.id}/messages/${m.id}/reactions/${encodeURIComponent("👍")}`, { token: b.accessToken });

    const socket = await openChatSocket(b, chat.id);
    const sentAt = Date.parse(m.createdAt);
    await runAlarmAt(chat.id, sentAt + 59_000);
    expect((await items(b, chat.id)).find((x) => x.id === m.id).text).toBe("self destructing");
    await runAlarmAt(chat.id, sentAt + 61_000);
    const live = await socket.next("message.expired", (f) => f.messageId === m.id);
    expect(live.seq).toBe(m.seq);
    const gone = (await items(b, chat.id)).find((x) => x.id === m.id);
    expect(gone).toMatchObject({ deleted: true, text: null, attachments: [], reactions: [], expiresAt: null });
    expect((await items(b, chat.id)).find((x) => x.id === before.id).text).toBe("stays forever");
    const events = (await api("GET", `${C}/${chat.id}/events?after=0&limit=1000`, { token: b.accessToken })).body.events;
    expect(events.filter((e: any) => e.type === "message.expired").map((e: any) => e.messageId)).toEqual([m.id]);
    // Replay keeps only the tombstone of what it once carried.
    const replayed = events.find((e: any) => e.type === "message.new" && e.message.id === m.id);
    expect(replayed.message).toMatchObject({ deleted: true, text: null, attachments: [] });
    expect(JSON.stringify(events)).not.toContain("self destructing");
    const search = await api("GET", `${C}/${chat.id}/search?q=destructing`, { token: a.accessToken });
    expect(search.body.items).toEqual([]);
    expect(await mediaRow(item.id)).toBeNull();
    socket.close();
  });

  it("a message's own ttlSeconds works without a chat setting; turning the setting off stops it for later messages", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const own = (await sendRaw(a, chat.id, { clientMessageId: cid(), text: "five seconds", ttlSeconds: 5 })).body.message;
    expect(Date.parse(own.expiresAt) - Date.parse(own.createdAt)).toBe(5_000);
    expect((await setTtl(a, chat.id, 60)).status).toBe(200);
    const timed = await send(a, chat.id, "a minute");
    expect((await setTtl(a, chat.id, null)).body.chat.messageTtlSeconds).toBeNull();
    const kept = await send(a, chat.id, "kept");
    expect(kept.expiresAt).toBeNull();
    await runAlarmAt(chat.id, Date.parse(timed.createdAt) + 61_000);
    const texts = (await items(a, chat.id)).filter((m) => m.senderId && !m.deleted).map((m) => m.text);
    expect(texts).toEqual(["kept"]);
  });

  it("attachments whose drop failed are dropped by a later alarm", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const item = await upload(a, PNG, { type: "image/png" });
    const m = (await sendRaw(a, chat.id, { clientMessageId: cid(), type: "image", attachments: [item.id], ttlSeconds: 5 })).body.message;
    const stub = roomFor(env, chat.id);
    const host = (room: ChatRoom) => (room as unknown as { log: { host: { detachMedia: (ids: string[]) => Promise<void> } } }).log.host;
    const real = await runInDurableObject(stub, (room: ChatRoom) => {
      const h = host(room);
      const original = h.detachMedia;
      h.detachMedia = () => Promise.reject(new Error("D1 is unavailable"));
      return original;
    });
    await runAlarmAt(chat.id, Date.parse(m.createdAt) + 6_000);
    expect(await mediaRow(item.id)).not.toBeNull(); // still there: the drop failed
    const pending = await runInDurableObject(stub, (room: ChatRoom, state) => {
      host(room).detachMedia = real;
      return state.storage.sql.exec("SELECT message_id FROM expired_media").toArray();
    });
    expect(pending).toEqual([{ message_id: m.id }]);
    expect(await runAlarmAt(chat.id, Date.parse(m.createdAt) + 40_000)).toBe(true);
    expect(await mediaRow(item.id)).toBeNull();
  });

  it("either person sets it in a direct chat; bad values are 400", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createDirect(a, b);
    expect((await setTtl(b, chat.id, 86_400)).body.chat.messageTtlSeconds).toBe(86_400);
    expect((await setTtl(a, chat.id, 604_800)).body.chat.messageTtlSeconds).toBe(604_800);
    expectError(await setTtl(a, chat.id, 4), 400, "validation_failed");
    expectError(await setTtl(a, chat.id, "day"), 400, "validation_failed");
    expectError(await sendRaw(a, chat.id, { clientMessageId: cid(), text: "x", ttlSeconds: 1 }), 400, "validation_failed");
    expect((await getChat(a, chat.id)).body.chat.messageTtlSeconds).toBe(604_800);
  });
});
