import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { roomFor } from "../src/rooms/client";
import { C, cid, createGroup, history, openChatSocket, runAlarmAt, send, sendRaw } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { PNG } from "./media-fixtures";
import { getMedia, upload } from "./media-helpers";

/** Scheduled messages: stored in the room, sent by its alarm when due (no sleeping: the clock is moved, the alarm run). */

const MINUTE = 60_000;
const at = (ms: number) => new Date(ms).toISOString();
const schedule = (u: TestUser, chatId: string, body: Record<string, unknown>) =>
  sendRaw(u, chatId, { clientMessageId: cid(), text: "later", ...body });
const scheduledOf = async (u: TestUser, chatId: string) =>
  (await api("GET", `${C}/${chatId}/scheduled`, { token: u.accessToken })).body.items as any[];
const texts = async (u: TestUser, chatId: string) =>
  (await history(u, chatId, "?limit=100")).body.items.filter((m: any) => m.senderId).map((m: any) => m.text);
const events = async (u: TestUser, chatId: string) =>
  (await api("GET", `${C}/${chatId}/events?after=0&limit=1000`, { token: u.accessToken })).body.events as any[];

afterEach(() => vi.useRealTimers());

describe("scheduled messages", () => {
  it("are kept from everyone else until the alarm sends them, with the seq of that moment", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const sendAt = Date.now() + 10 * MINUTE;
    const body = { clientMessageId: cid(), text: "good morning", scheduledAt: at(sendAt) };
    const res = await sendRaw(a, chat.id, body);
    expect(res.status, res.text).toBe(202);
    expect(res.body.scheduled).toMatchObject({ chatId: chat.id, text: "good morning", type: "text", scheduledAt: at(sendAt) });
    const again = await sendRaw(a, chat.id, body);
    expect(again.status).toBe(202);
    expect(again.body.scheduled.id).toBe(res.body.scheduled.id);

    expect((await scheduledOf(a, chat.id)).map((s) => s.id)).toEqual([res.body.scheduled.id]);
    expect(await scheduledOf(b, chat.id)).toEqual([]);
    expect(await texts(b, chat.id)).toEqual([]);
    expect((await events(b, chat.id)).some((e) => e.type.startsWith("message.scheduled"))).toBe(false);
    expect((await events(a, chat.id)).filter((e) => e.type === "message.scheduled")).toHaveLength(1);
    const later = await send(b, chat.id, "in between");

    const socket = await openChatSocket(b, chat.id);
    expect(await runAlarmAt(chat.id, sendAt - 1000)).toBe(true); // not yet due
    expect(await texts(b, chat.id)).toEqual(["in between"]);
    await runAlarmAt(chat.id, sendAt + 1000);
    const live = await socket.next("message.new", (f) => f.message.text === "good morning");
    expect(live.message).toMatchObject({ id: res.body.scheduled.id, senderId: a.id, seq: later.seq + 1 });
    expect(await texts(b, chat.id)).toEqual(["in between", "good morning"]);
    expect(await scheduledOf(a, chat.id)).toEqual([]);
    socket.close();
  });

  it("are edited, sent early and cancelled by their author only", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const soon = Date.now() + 5 * MINUTE;
    const [one, two] = [
      (await schedule(a, chat.id, { text: "first draft", scheduledAt: at(soon) })).body.scheduled,
      (await schedule(a, chat.id, { text: "cancel me", scheduledAt: at(soon) })).body.scheduled,
    ];
    const path = (id: string, tail = "") => `${C}/${chat.id}/scheduled/${id}${tail}`;
    for (const [method, tail] of [
      ["PATCH", ""],
      ["DELETE", ""],
      ["POST", "/send"],
    ] as const) {
      const res = await api(method, path(one.id, tail), { token: b.accessToken, body: method === "PATCH" ? { text: "x" } : undefined });
      expectError(res, 404, "not_found");
    }
    const edited = await api("PATCH", path(one.id), { token: a.accessToken, body: { text: "final text", scheduledAt: at(soon + MINUTE) } });
    expect(edited.status, edited.text).toBe(200);
    expect(edited.body.scheduled).toMatchObject({ text: "final text", scheduledAt: at(soon + MINUTE) });
    expectError(await api("PATCH", path(one.id), { token: a.accessToken, body: {} }), 400, "validation_failed");

    expect((await api("DELETE", path(two.id), { token: a.accessToken })).status).toBe(204);
    const now = await api("POST", path(one.id, "/send"), { token: a.accessToken });
    expect(now.status, now.text).toBe(200);
    expect(now.body.message).toMatchObject({ id: one.id, text: "final text" });
    await runAlarmAt(chat.id, soon + 2 * MINUTE);
    expect(await texts(b, chat.id)).toEqual(["final text"]);
    expect((await events(a, chat.id)).map((e) => e.type)).toContain("message.scheduled.cancelled");
  });

  it("use up the send budget when scheduled: slow mode applies; their attachments stay the author's until sent", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    await api("PATCH", `${C}/${chat.id}`, { token: a.accessToken, body: { slowModeSeconds: 60 } });
    const later = at(Date.now() + 10 * MINUTE);
    const item = await upload(b, PNG, { type: "image/png" });
    const first = await schedule(b, chat.id, { type: "image", text: undefined, attachments: [item.id], scheduledAt: later });
    expect(first.status, first.text).toBe(202);
    expectError(await schedule(b, chat.id, { scheduledAt: later }), 429, "slow_mode");
    // Members cannot read the attachment before the message exists; the author can.
    expectError(await getMedia(a, item.id), 404, "not_found");
    expect((await getMedia(b, item.id)).status).toBe(200);
    expect((await api("POST", `${C}/${chat.id}/scheduled/${first.body.scheduled.id}/send`, { token: b.accessToken })).status).toBe(200);
    expect((await getMedia(a, item.id)).status).toBe(200);
  });

  it("refuse a time in the past or more than a year ahead", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    expectError(await schedule(a, chat.id, { scheduledAt: at(Date.now() - MINUTE) }), 400, "validation_failed");
    expectError(await schedule(a, chat.id, { scheduledAt: at(Date.now() + 400 * 24 * 60 * MINUTE) }), 400, "validation_failed");
    expectError(await schedule(a, chat.id, { scheduledAt: "tomorrow" }), 400, "validation_failed");
    const poll = { question: "Lunch?", options: [{ text: "yes" }, { text: "no" }], closesAt: at(Date.now() + 5 * MINUTE) };
    const closesFirst = await schedule(a, chat.id, { type: "poll", text: undefined, poll, scheduledAt: at(Date.now() + 10 * MINUTE) });
    expectError(closesFirst, 400, "validation_failed");
    expect(await scheduledOf(a, chat.id)).toEqual([]);
  });

  it("a message due while the room is evicted is sent once when it wakes", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const sendAt = Date.now() + MINUTE;
    expect((await schedule(a, chat.id, { text: "after the restart", scheduledAt: at(sendAt) })).status).toBe(202);
    await evictDurableObject(roomFor(env, chat.id));
    expect(await runAlarmAt(chat.id, sendAt + MINUTE)).toBe(true);
    await runAlarmAt(chat.id, sendAt + 2 * MINUTE);
    expect(await texts(b, chat.id)).toEqual(["after the restart"]);
  });

  it("over the socket: message.send with scheduledAt acks the scheduled message", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const socket = await openChatSocket(a, chat.id);
    const ack = await socket.request({
      type: "message.send",
      clientMessageId: cid(),
      messageType: "text",
      text: "ping",
      scheduledAt: at(Date.now() + MINUTE),
    });
    expect(ack).toMatchObject({ type: "ack", duplicate: false, scheduled: { text: "ping" } });
    expect(await scheduledOf(a, chat.id)).toHaveLength(1);
    socket.close();
  });

  it("one the chat's rules refuse when due is dropped, and its author is told why", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    const sendAt = Date.now() + MINUTE;
    const scheduled = (await schedule(b, chat.id, { text: "too late", scheduledAt: at(sendAt) })).body.scheduled;
    expect((await api("POST", `${C}/${chat.id}/freeze`, { token: a.accessToken })).status).toBe(200);
    await runAlarmAt(chat.id, sendAt + 1000);
    expect(await scheduledOf(b, chat.id)).toEqual([]);
    const failed = (await events(b, chat.id)).find((e) => e.type === "message.scheduled.failed");
    expect(failed).toMatchObject({ id: scheduled.id, error: { code: "chat_frozen" } });
    expect((await events(a, chat.id)).some((e) => e.type === "message.scheduled.failed")).toBe(false);
  });
});
