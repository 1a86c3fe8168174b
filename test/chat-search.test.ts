import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChatRoom } from "../src/rooms/chat-room";
import { roomFor, unwrap } from "../src/rooms/client";
import { MessageIndex } from "../src/rooms/message-index";
import { parseQuery, toMatchExpression } from "../src/rooms/search-query";
import { buildSnippet } from "../src/rooms/snippet";
import { C, cid, createGroup, send, sendRaw, shadowBannedGroup } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { PNG } from "./media-fixtures";
import { upload } from "./media-helpers";
import { seedChat, seedUsers } from "./room-helpers";

/** Search inside a chat: the room's FTS5 index, what each member may see, ranking, filters, pages. */

const search = (u: TestUser, chatId: string, query: Record<string, string | number>) =>
  api("GET", `${C}/${chatId}/search?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`, {
    token: u.accessToken,
  });
async function found(u: TestUser, chatId: string, query: Record<string, string | number>): Promise<string[]> {
  const res = await search(u, chatId, query);
  expect(res.status, res.text).toBe(200);
  return res.body.items.map((h: any) => h.message.text);
}
const edit = (u: TestUser, chatId: string, id: string, text: string) =>
  api("PATCH", `${C}/${chatId}/messages/${id}`, { token: u.accessToken, body: { text } });

afterEach(() => vi.useRealTimers());

describe("search in a chat", () => {
  it("matches words, prefixes, phrases and OR, ignoring case and accents; the snippet marks matches and is HTML-safe", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    for (const text of ["Meet at the Café at noon", "release notes are up <script>", "the notes on the release", "deploying tonight"]) {
      await send(a, chat.id, text);
    }
    expect(await found(b, chat.id, { q: "cafe" })).toEqual(["Meet at the Café at noon"]);
    expect(await found(b, chat.id, { q: "CAFÉ noon" })).toEqual(["Meet at the Café at noon"]);
    expect(await found(b, chat.id, { q: "deploy*" })).toEqual(["deploying tonight"]);
    expect(await found(b, chat.id, { q: "deploy" })).toEqual([]);
    expect(await found(b, chat.id, { q: '"release notes"' })).toEqual(["release notes are up <script>"]);
    expect((await found(b, chat.id, { q: "release notes" })).sort()).toEqual(["release notes are up <script>", "the notes on the release"]);
    expect((await found(b, chat.id, { q: "cafe OR tonight" })).sort()).toEqual(["Meet at the Café at noon", "deploying tonight"]);
    expect((await found(b, chat.id, { q: "release notes OR noon" })).sort()).toEqual([
      "release notes are up <script>",
      "the notes on the release",
    ]);
    expect(await found(b, chat.id, { q: "meet noon OR tonight" })).toEqual(["Meet at the Café at noon"]);

    const res = await search(b, chat.id, { q: '"release notes"' });
    expect(res.body.items[0].snippet).toBe("<mark>release notes</mark> are up &lt;script&gt;");
    expect(res.body.items[0].message).toMatchObject({ chatId: chat.id, senderId: a.id, text: "release notes are up <script>" });
    expect(res.body.nextCursor).toBeNull();
  });

  it("cuts long texts around the first match and marks prefixes, accents and phrases as the index matched them", () => {
    const words = Array.from({ length: 30 }, (_, i) => `w${i}`);
    words[20] = "Überraschung";
    const text = `${words.join(" ")}!`;
    const { terms } = parseQuery("uberr*");
    // 16 tokens: the match with 3 before it, moved back so the window stays full at the end of the text.
    expect(buildSnippet(text, terms)).toBe("…w14 w15 w16 w17 w18 w19 <mark>Überraschung</mark> w21 w22 w23 w24 w25 w26 w27 w28 w29!");
    words.push(...Array.from({ length: 20 }, (_, i) => `v${i}`));
    expect(buildSnippet(words.join(" "), terms)).toBe(
      "…w17 w18 w19 <mark>Überraschung</mark> w21 w22 w23 w24 w25 w26 w27 w28 w29 v0 v1 v2…",
    );
    // Punctuation is no token, for the index either: "b c" matches "b> & c" (escaped, inside one mark).
    expect(buildSnippet("a <b> & c", parseQuery('"b c" OR a').terms)).toBe("<mark>a</mark> &lt;<mark>b&gt; &amp; c</mark>");
    expect(buildSnippet("x b c y", parseQuery('"b c"').terms)).toBe("x <mark>b c</mark> y");
  });

  it("finds Chinese and Japanese text by any run of its characters", async () => {
    const [a] = await Promise.all([signUp()]);
    const chat = await createGroup(a);
    await send(a, chat.id, "明日は東京タワーに行きます");
    await send(a, chat.id, "我们明天去北京");
    expect(await found(a, chat.id, { q: "東京" })).toEqual(["明日は東京タワーに行きます"]);
    expect(await found(a, chat.id, { q: "タワー" })).toEqual(["明日は東京タワーに行きます"]);
    expect(await found(a, chat.id, { q: "北京" })).toEqual(["我们明天去北京"]);
    expect(await found(a, chat.id, { q: "京北" })).toEqual([]);
    const res = await search(a, chat.id, { q: "東京" });
    expect(res.body.items[0].snippet).toBe("明日は<mark>東京</mark>タワーに行きます");
  });

  it("ranks by bm25 blended with recency; order=recent is newest first", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    // The clock goes back (the token, issued now, stays valid): a year ago, then two months ago, then now.
    const now = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now - 365 * 86_400_000);
    await send(a, chat.id, "budget budget budget review"); // the strongest match, but a year old
    vi.setSystemTime(now - 65 * 86_400_000);
    await send(a, chat.id, "budget review for the quarter and many other words besides");
    await send(a, chat.id, "budget budget review");
    vi.useRealTimers();
    expect(await found(a, chat.id, { q: "budget" })).toEqual([
      "budget budget review",
      "budget budget budget review",
      "budget review for the quarter and many other words besides",
    ]);
    expect(await found(a, chat.id, { q: "budget", order: "recent" })).toEqual([
      "budget budget review",
      "budget review for the quarter and many other words besides",
      "budget budget budget review",
    ]);
    const scores = (await search(a, chat.id, { q: "budget" })).body.items.map((h: any) => h.score);
    expect(scores).toEqual([...scores].sort((x, y) => y - x));
  });

  it("filters by sender, type, time and attachments", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a, [b]);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.parse("2026-03-01T12:00:00Z"));
    await send(a, chat.id, "photo plan from a");
    vi.setSystemTime(Date.parse("2026-03-02T12:00:00Z"));
    await send(b, chat.id, "photo plan from b");
    const item = await upload(b, PNG, { type: "image/png", name: "holiday.png" });
    const image = await sendRaw(b, chat.id, { clientMessageId: cid(), type: "image", text: "photo of the beach", attachments: [item.id] });
    expect(image.status, image.text).toBe(201);

    expect((await found(a, chat.id, { q: "photo", from: b.id })).sort()).toEqual(["photo of the beach", "photo plan from b"]);
    expect(await found(a, chat.id, { q: "photo", type: "image" })).toEqual(["photo of the beach"]);
    expect(await found(a, chat.id, { q: "photo", hasMedia: "true" })).toEqual(["photo of the beach"]);
    expect((await found(a, chat.id, { q: "photo", hasMedia: "false" })).sort()).toEqual(["photo plan from a", "photo plan from b"]);
    expect(await found(a, chat.id, { q: "photo", before: "2026-03-02T00:00:00Z" })).toEqual(["photo plan from a"]);
    expect(await found(a, chat.id, { q: "photo plan", after: "2026-03-02T00:00:00Z" })).toEqual(["photo plan from b"]);
    // Attachments are found by their file names.
    expect(await found(a, chat.id, { q: "holiday" })).toEqual(["photo of the beach"]);
  });

  it("pages through every match exactly once, in both orders", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    for (let i = 0; i < 23; i++) await send(a, chat.id, `status update ${i}${" filler".repeat(i % 5)}`);
    for (const order of ["relevance", "recent"]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await search(a, chat.id, { q: "status", order, limit: 10, ...(cursor ? { cursor } : {}) });
        expect(res.status, res.text).toBe(200);
        seen.push(...res.body.items.map((h: any) => h.message.text));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(23);
      expect(new Set(seen).size).toBe(23);
    }
    const first = await search(a, chat.id, { q: "status", limit: 5 });
    expectError(await search(a, chat.id, { q: "update", limit: 5, cursor: first.body.nextCursor }), 400, "invalid_cursor");
  });

  it("follows edits, deletes, clearing, hiding and shadow bans", async () => {
    const { owner, b, c, chat } = await shadowBannedGroup();
    const m1 = await send(owner, chat.id, "the old wording");
    const m2 = await send(owner, chat.id, "soon deleted wording");
    const m3 = await send(owner, chat.id, "hidden wording");
    await send(b, chat.id, "shadow wording");
    expect((await edit(owner, chat.id, m1.id, "the new phrasing")).status).toBe(200);
    expect(await found(c, chat.id, { q: "old" })).toEqual([]);
    expect(await found(c, chat.id, { q: "phrasing" })).toEqual(["the new phrasing"]);
    expect((await api("DELETE", `${C}/${chat.id}/messages/${m2.id}`, { token: owner.accessToken })).status).toBe(204);
    expect((await api("DELETE", `${C}/${chat.id}/messages/${m3.id}?for=me`, { token: c.accessToken })).status).toBe(204);
    expect(await found(c, chat.id, { q: "wording" })).toEqual([]);
    expect(await found(owner, chat.id, { q: "wording" })).toEqual(["hidden wording"]);
    expect((await found(b, chat.id, { q: "wording" })).sort()).toEqual(["hidden wording", "shadow wording"]);

    expect((await api("POST", `${C}/${chat.id}/truncate`, { token: owner.accessToken })).status).toBe(200);
    expect(await found(owner, chat.id, { q: "phrasing OR wording" })).toEqual([]);
    expect(await found(b, chat.id, { q: "wording" })).toEqual([]);
  });

  it("refuses unreadable queries with 400 invalid_query and non-members with 404", async () => {
    const [a, outsider] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(a);
    await send(a, chat.id, "hello there");
    for (const q of ['"unclosed phrase', "OR hello", "hello OR", "!!! ???", "hello OR OR there"]) {
      expectError(await search(a, chat.id, { q }), 400, "invalid_query");
    }
    // FTS5 syntax typed by a person is searched as words, never run as syntax.
    expect(await found(a, chat.id, { q: "hello NEAR(there) body:x (" })).toEqual([]);
    expect(await found(a, chat.id, { q: "hello-there" })).toEqual(["hello there"]);
    expectError(await search(a, chat.id, { q: "" }), 400, "validation_failed");
    expectError(await search(a, chat.id, { q: "hello", before: "yesterday" }), 400, "validation_failed");
    expectError(await search(outsider, chat.id, { q: "hello" }), 404, "not_found");
  });

  it("never indexes an encrypted chat", async () => {
    const [userId] = await seedUsers(1);
    const { room } = await seedChat("group", [[userId!, "owner"]], { encrypted: true });
    // Plain text is refused there; what is sent is opaque.
    await expect(room.send({ userId: userId!, clientMessageId: cid(), type: "text", text: "in the clear" })).resolves.toMatchObject({
      ok: false,
      error: { code: "encryption_required" },
    });
    const ciphertext = btoa("opaque ciphertext");
    unwrap(await room.send({ userId: userId!, clientMessageId: cid(), type: "encrypted", ciphertext }));
    const indexed = await runInDurableObject(
      room,
      (_: ChatRoom, state) => state.storage.sql.exec("SELECT count(*) AS n FROM message_fts").one().n,
    );
    expect(indexed).toBe(0);
    const page = unwrap(await room.search(userId!, { q: "ciphertext", filters: {}, order: "relevance", limit: 10 }));
    expect(page.items).toEqual([]);
  });

  it("indexes what a room held before the index existed", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    await send(a, chat.id, "written before the index");
    const hits = await runInDurableObject(roomFor(env, chat.id), (_: ChatRoom, state) => {
      state.storage.sql.exec("DROP TABLE message_fts");
      const index = new MessageIndex(state.storage.sql);
      return index.search({
        viewerId: a.id,
        match: toMatchExpression("index"),
        filters: {},
        order: "recent",
        now: Date.now(),
        after: null,
        limit: 10,
      });
    });
    expect(hits.map((h) => h.row.text)).toEqual(["written before the index"]);
  });
});
