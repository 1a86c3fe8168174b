import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { BeforeSendConfig } from "../src/lib/config";
import { roomFor } from "../src/rooms/client";
import { MAX_SEND_ATTEMPTS } from "../src/rooms/scheduled-types";
import { C, cid, createGroup, history, runAlarmAt, sendRaw } from "./chat-helpers";
import { api, signUp, type TestUser } from "./helpers";

/**
 * When a scheduled message falls due: only an author who may act is sent for, and a send that
 * failed for a passing reason (a fail-closed before-send hook that is down) is retried with
 * backoff instead of being dropped, then given up after MAX_SEND_ATTEMPTS tries.
 */

const MINUTE = 60_000;
const at = (ms: number) => new Date(ms).toISOString();
const texts = async (u: TestUser, chatId: string) =>
  (await history(u, chatId, "?limit=100")).body.items.filter((m: any) => m.senderId).map((m: any) => m.text);
const failures = async (u: TestUser, chatId: string) =>
  ((await api("GET", `${C}/${chatId}/events?after=0&limit=1000`, { token: u.accessToken })).body.events as any[]).filter(
    (e) => e.type === "message.scheduled.failed",
  );
/** The room's stored row of a scheduled message (null once sent or dropped). */
const storedRow = (chatId: string, id: string) =>
  runInDurableObject(roomFor(env, chatId), (_room, state) => {
    const rows = state.storage.sql.exec<{ send_at: number; attempts: number }>("SELECT send_at, attempts FROM scheduled WHERE id = ?", id);
    return rows.toArray()[0] ?? null;
  });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A group where `author` scheduled "later" a minute from now. */
async function scheduledInGroup() {
  const [owner, author] = await Promise.all([signUp(), signUp()]);
  const chat = await createGroup(owner, [author]);
  const sendAt = Date.now() + MINUTE;
  const res = await sendRaw(author, chat.id, { clientMessageId: cid(), text: "later", scheduledAt: at(sendAt) });
  expect(res.status, res.text).toBe(202);
  return { owner, author, chat, sendAt, id: res.body.scheduled.id as string };
}

/** Give the chat's room a fail-closed before-send hook that answers 503 (down). */
async function failClosedHookDown(chatId: string) {
  await useFailClosedHook(chatId);
  vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response("down", { status: 503 }));
}

/** Give the chat's room a fail-closed before-send hook (as BEFORE_SEND_URL with BEFORE_SEND_FAILURE=closed would). */
async function useFailClosedHook(chatId: string) {
  const hook: BeforeSendConfig = { url: "https://hook.example.test/check", secret: null, timeoutMs: 1000, failClosed: true };
  await runInDurableObject(roomFor(env, chatId), (room) => {
    (room as unknown as { log: { host: { beforeSend: BeforeSendConfig | null } } }).log.host.beforeSend = hook;
  });
}

const setStatus = (userId: string, status: string, suspendedUntil: number | null = null) =>
  env.DB.prepare("UPDATE users SET status = ?, suspended_until = ? WHERE id = ?").bind(status, suspendedUntil, userId).run();

describe("a scheduled message falling due", () => {
  it("is dropped when its author is suspended, banned or deactivated, and the author is told why", async () => {
    for (const [status, code] of [
      ["suspended", "account_suspended"],
      ["banned", "account_banned"],
      ["deactivated", "account_deactivated"],
    ] as const) {
      const { owner, author, chat, sendAt, id } = await scheduledInGroup();
      await setStatus(author.id, status, status === "suspended" ? sendAt + 60 * MINUTE : null);
      await runAlarmAt(chat.id, sendAt + 1000);
      vi.useRealTimers();
      expect(await storedRow(chat.id, id)).toBeNull();
      expect(await texts(owner, chat.id)).toEqual([]);
      await setStatus(author.id, "active");
      expect(await failures(author, chat.id)).toMatchObject([{ id, error: { code } }]);
    }
  });

  it("is sent when its author's suspension already ran out", async () => {
    const { owner, author, chat, sendAt } = await scheduledInGroup();
    await setStatus(author.id, "suspended", sendAt - 1000);
    await runAlarmAt(chat.id, sendAt + 1000);
    vi.useRealTimers();
    expect(await texts(owner, chat.id)).toEqual(["later"]);
  });

  it("waits out a fail-closed hook that is down, with backoff, and is sent once it answers", async () => {
    const { owner, chat, sendAt, id } = await scheduledInGroup();
    await useFailClosedHook(chat.id);
    let hookUp = false;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () =>
      hookUp ? Response.json({ action: "allow" }) : new Response("down", { status: 502 }),
    );

    await runAlarmAt(chat.id, sendAt + 1000);
    const first = await storedRow(chat.id, id);
    expect(first).toMatchObject({ attempts: 1 });
    expect(first!.send_at - (sendAt + 1000)).toBe(30_000);
    await runAlarmAt(chat.id, first!.send_at);
    const second = await storedRow(chat.id, id);
    expect(second).toMatchObject({ attempts: 2 });
    expect(second!.send_at - first!.send_at).toBe(60_000); // doubled
    vi.useRealTimers();
    expect(await texts(owner, chat.id)).toEqual([]);

    hookUp = true;
    await runAlarmAt(chat.id, second!.send_at);
    vi.useRealTimers();
    expect(await storedRow(chat.id, id)).toBeNull();
    expect(await texts(owner, chat.id)).toEqual(["later"]);
  });

  it(`is given up after ${MAX_SEND_ATTEMPTS} failed tries, and its author told`, async () => {
    const { owner, author, chat, sendAt, id } = await scheduledInGroup();
    await failClosedHookDown(chat.id);
    let dueAt = sendAt + 1000;
    for (let attempt = 1; attempt <= MAX_SEND_ATTEMPTS; attempt++) {
      await runAlarmAt(chat.id, dueAt);
      const row = await storedRow(chat.id, id);
      if (attempt === MAX_SEND_ATTEMPTS) expect(row).toBeNull();
      else dueAt = row!.send_at;
    }
    vi.useRealTimers();
    expect(await texts(owner, chat.id)).toEqual([]);
    expect(await failures(author, chat.id)).toMatchObject([{ id, error: { code: "hook_unavailable" } }]);
  });

  it("starts its count of tries again when its author edits it", async () => {
    const { author, chat, sendAt, id } = await scheduledInGroup();
    await failClosedHookDown(chat.id);
    let dueAt = sendAt + 1000;
    for (let attempt = 1; attempt < MAX_SEND_ATTEMPTS; attempt++) {
      await runAlarmAt(chat.id, dueAt);
      dueAt = (await storedRow(chat.id, id))!.send_at;
    }
    vi.useRealTimers();
    const edited = await api("PATCH", `${C}/${chat.id}/scheduled/${id}`, { token: author.accessToken, body: { text: "later, edited" } });
    expect(edited.status, edited.text).toBe(200);
    expect(await storedRow(chat.id, id)).toMatchObject({ attempts: 0 });
    await runAlarmAt(chat.id, dueAt);
    expect(await storedRow(chat.id, id)).toMatchObject({ attempts: 1 });
  });
});
