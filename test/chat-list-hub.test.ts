import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CHANNEL_REFRESH_MS } from "../src/hubs/chat-order";
import { hubFor } from "../src/hubs/client";
import { C, createChannel, createDirect, createGroup, flush, MISSING, ok, send } from "./chat-helpers";
import { api, signUp, type TestUser } from "./helpers";

/**
 * The chat list's order comes from the user's hub (O(page) D1 rows however many chats): kept by
 * the hub's updates, healed from D1 where they disagree, channels refreshed lazily.
 */

afterEach(() => vi.useRealTimers());

const list = async (u: TestUser, query = "") => (await ok(await api("GET", `${C}${query}`, { token: u.accessToken }))) as any;
const ids = async (u: TestUser, query = "") => (await list(u, query)).items.map((c: any) => c.id);
const settings = (u: TestUser, chatId: string, body: unknown) => api("PUT", `${C}/${chatId}/settings`, { token: u.accessToken, body });

/** Run `fn` on the user's hub's SQLite. */
const inHub = <T>(userId: string, fn: (sql: SqlStorage) => T) =>
  runInDurableObject(hubFor(env, userId), (_hub, state) => fn(state.storage.sql));

describe("the chat list from the hub", () => {
  it("orders by activity as rooms report it, pinned first, with archived and hidden apart", async () => {
    const [me, other] = await Promise.all([signUp(), signUp()]);
    const [a, b, c] = [await createGroup(me, [other]), await createGroup(me, [other]), await createGroup(me, [other])];
    expect(await ids(me)).toEqual([c.id, b.id, a.id]);
    await send(other, a.id, "a is newest now");
    await flush(a.id);
    expect(await ids(me)).toEqual([a.id, c.id, b.id]);
    await ok(await settings(me, b.id, { pinned: true }));
    await ok(await settings(me, c.id, { archived: true }));
    expect(await ids(me)).toEqual([b.id, a.id]);
    expect(await ids(me, "?archived=true")).toEqual([c.id]);
    // The D1 version of the same data agrees: each chat's view carries what the order used.
    const items = (await list(me)).items;
    expect(items.map((i: any) => [i.pinned, i.archived])).toEqual([
      [true, false],
      [false, false],
    ]);
  });

  it("a hidden direct chat comes back to the list when it is opened again", async () => {
    const [me, other] = await Promise.all([signUp(), signUp()]);
    const direct = await createDirect(me, other);
    await ok(await settings(me, direct.id, { hidden: true }));
    expect(await ids(me)).toEqual([]);
    expect(await ids(me, "?hidden=true")).toEqual([direct.id]);
    await createDirect(me, other);
    expect(await ids(me)).toEqual([direct.id]);
  });

  it("pages through every chat once, in order", async () => {
    const [me, other] = await Promise.all([signUp(), signUp()]);
    const made: string[] = [];
    for (let i = 0; i < 12; i++) made.push((await createGroup(me, [other])).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await list(me, `?limit=5${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.items.map((c: any) => c.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
  });

  it("heals from D1: a chat the hub missed leaving is dropped, a wrong activity corrected", async () => {
    const [me, other] = await Promise.all([signUp(), signUp()]);
    const [a, b] = [await createGroup(me, [other]), await createGroup(me, [other])];
    expect(await ids(me)).toEqual([b.id, a.id]);
    await inHub(me.id, (sql) => {
      sql.exec(
        "INSERT INTO chat_order (chat_id, pinned, pinned_at, last_activity_at, archived, hidden, lazy) VALUES (?, 0, NULL, ?, 0, 0, 0)",
        MISSING,
        Date.now() + 60_000,
      );
      sql.exec("UPDATE chat_order SET last_activity_at = 1 WHERE chat_id = ?", b.id);
    });
    // This page still follows the hub's order, without the chat D1 does not have; the hub is corrected.
    expect(await ids(me)).toEqual([a.id, b.id]);
    const rows = await inHub(me.id, (sql) =>
      sql.exec<{ chat_id: string }>("SELECT chat_id FROM chat_order ORDER BY last_activity_at DESC").toArray(),
    );
    expect(rows.map((r) => r.chat_id)).toEqual([b.id, a.id]);
    expect(await ids(me)).toEqual([b.id, a.id]);
  });

  it("a chat the hub lost comes back with its next activity", async () => {
    const [me, other] = await Promise.all([signUp(), signUp()]);
    const [a, b] = [await createGroup(me, [other]), await createGroup(me, [other])];
    expect(await ids(me)).toEqual([b.id, a.id]);
    await inHub(me.id, (sql) => sql.exec("DELETE FROM chat_order WHERE chat_id = ?", a.id));
    expect(await ids(me)).toEqual([b.id]);
    await send(other, a.id, "still here");
    await flush(a.id);
    expect(await ids(me)).toEqual([a.id, b.id]);
  });

  it("channels are not told of each post: their activity is read again when the list is older than the refresh interval", async () => {
    const [me, admin] = await Promise.all([signUp(), signUp()]);
    const channel = await createChannel(admin, [me]);
    const group = await createGroup(me, [admin]);
    expect(await ids(me)).toEqual([group.id, channel.id]);
    await send(admin, channel.id, "news");
    await flush(channel.id);
    // Pages of one: the channel is not on the page read, so nothing there corrects the hub.
    expect(await ids(me, "?limit=1")).toEqual([group.id]); // not yet: the hub was not told
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + CHANNEL_REFRESH_MS + 1000);
    expect(await ids(me, "?limit=1")).toEqual([channel.id]);
  });
});
