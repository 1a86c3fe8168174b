import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { roomFor } from "../src/rooms/client";
import { RoomStore } from "../src/rooms/store";
import { canViewStoryMedia } from "../src/stories/access";
import { addContact, block, C, createDirect, history, send } from "./chat-helpers";
import { api, expectError, expectInvalid, signUp, type TestUser } from "./helpers";
import { expireStory, insertMedia, MISSING, postStory, S, setCloseFriends, view } from "./story-helpers";

const viewers = (u: TestUser, id: string, query = "") => api("GET", `${S}/${id}/views${query}`, { token: u.accessToken });
const reply = (u: TestUser, id: string, body: unknown) => api("POST", `${S}/${id}/reply`, { token: u.accessToken, body });

describe("POST /stories/{id}/view and GET /stories/{id}/views", () => {
  it("records each viewer once, ignores the author, and lists viewers newest first for the owner only", async () => {
    const a = await signUp();
    const vs = await Promise.all(Array.from({ length: 3 }, () => signUp({ displayName: "Viewer" })));
    const story = await postStory(a);
    for (const v of vs) expect((await view(v, story.id)).status).toBe(204);
    expect((await view(vs[0]!, story.id)).status).toBe(204); // repeat: nothing changes
    expect((await view(a, story.id)).status).toBe(204); // the author: not counted
    const stored = await env.DB.prepare("SELECT viewer_id, viewed_at FROM story_views WHERE story_id = ? ORDER BY viewed_at")
      .bind(story.id)
      .all<{ viewer_id: string; viewed_at: number }>();
    expect(stored.results.map((r) => r.viewer_id).sort()).toEqual(vs.map((v) => v.id).sort());
    // Give the views distinct times so the order is known.
    for (const [i, v] of vs.entries())
      await env.DB.prepare("UPDATE story_views SET viewed_at = ? WHERE story_id = ? AND viewer_id = ?")
        .bind(1_000_000 + i, story.id, v.id)
        .run();

    const mine = await api("GET", `${S}/${story.id}`, { token: a.accessToken });
    expect(mine.body.story).toMatchObject({ viewCount: 3, viewed: true });
    const theirs = await api("GET", `${S}/${story.id}`, { token: vs[0]!.accessToken });
    expect(theirs.body.story.viewed).toBe(true);

    const first = await viewers(a, story.id, "?limit=2");
    expect(first.status, first.text).toBe(200);
    expect(first.body.items.map((i: any) => i.user.id)).toEqual([vs[2]!.id, vs[1]!.id]);
    expect(first.body.items[0]).toMatchObject({ user: { displayName: "Viewer" }, viewedAt: new Date(1_000_002).toISOString() });
    const second = await viewers(a, story.id, `?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ items: [{ user: { id: vs[0]!.id } }], nextCursor: null });

    expectError(await viewers(vs[0]!, story.id), 404, "not_found");
    expectError(await viewers(a, MISSING), 404, "not_found");
    expectInvalid(await viewers(a, story.id, "?limit=0"), "query.limit");
  });

  it("leaves out viewers blocked by, or blocking, the author since they viewed", async () => {
    const [a, b, c, d] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const story = await postStory(a);
    for (const v of [b, c, d]) expect((await view(v, story.id)).status).toBe(204);
    await block(a, b);
    await block(c, a);
    const list = await viewers(a, story.id);
    expect(list.body.items.map((i: any) => i.user.id)).toEqual([d.id]);
  });

  it("is 404 for stories the caller may not see, and for expired ones", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    await setCloseFriends(a, [b]);
    const story = await postStory(a, { audience: { kind: "close_friends" } });
    expectError(await view(c, story.id), 404, "not_found");
    expectError(await view(c, MISSING), 404, "not_found");
    expect((await view(b, story.id)).status).toBe(204);
    await expireStory(story.id);
    expectError(await view(b, story.id), 404, "not_found");
    expectError(await viewers(a, story.id), 404, "not_found");
  });
});

describe("POST /stories/{id}/reply", () => {
  it("arrives as a direct message referencing the story, in a chat created when needed", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const story = await postStory(a);
    const res = await reply(b, story.id, { text: "  nice!  ", clientMessageId: "r-1" });
    expect(res.status, res.text).toBe(201);
    expect(res.body.message).toMatchObject({ senderId: b.id, type: "text", text: "nice!", storyReply: { storyId: story.id } });
    // A retry returns the same message.
    const again = await reply(b, story.id, { text: "nice!", clientMessageId: "r-1" });
    expect(again.status).toBe(200);
    expect(again.body.message.id).toBe(res.body.message.id);

    const chat = await createDirect(a, b);
    expect(chat.id).toBe(res.body.message.chatId);
    const items = (await history(a, chat.id)).body.items.filter((m: any) => m.type === "text");
    expect(items).toEqual([expect.objectContaining({ id: res.body.message.id, storyReply: { storyId: story.id }, text: "nice!" })]);
    // Ordinary messages carry no story.
    expect((await send(a, chat.id, "thanks")).storyReply).toBeNull();
    // A second reply (no client id) lands in the same chat.
    const second = await reply(b, story.id, { text: "again" });
    expect(second.status).toBe(201);
    expect(second.body.message.chatId).toBe(chat.id);
    const chats = await api("GET", C, { token: b.accessToken });
    expect(chats.body.items.filter((c: any) => c.type === "direct").map((c: any) => c.id)).toEqual([chat.id]);
  });

  it("refuses my own story, stories I may not see, bad text, and replies across a block", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    await addContact(a, b);
    const story = await postStory(a, { audience: { kind: "contacts" } });
    expectError(await reply(a, story.id, { text: "me" }), 400, "cannot_reply_to_own_story");
    expectError(await reply(stranger, story.id, { text: "hi" }), 404, "not_found");
    expectError(await reply(b, MISSING, { text: "hi" }), 404, "not_found");
    expectInvalid(await reply(b, story.id, { text: "   " }), "body.text");
    expectInvalid(await reply(b, story.id, { text: "hi", storyId: story.id }), "body");
    await block(b, a);
    expectError(await reply(b, story.id, { text: "hi" }), 404, "not_found");
  });

  it("adds the story column to rooms created before story replies", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createDirect(a, b);
    await send(a, chat.id, "before");
    await runInDurableObject(roomFor(env, chat.id), async (_room, state) => {
      state.storage.sql.exec("ALTER TABLE messages DROP COLUMN story_id");
      new RoomStore(state.storage.sql);
      const names = state.storage.sql
        .exec<{ name: string }>("PRAGMA table_info(messages)")
        .toArray()
        .map((c) => c.name);
      expect(names).toContain("story_id");
    });
  });
});

describe("canViewStoryMedia", () => {
  it("answers for exactly the story's audience, only while the story is live", async () => {
    const db = createDb(env.DB);
    const [a, friend, other, blocker] = [await signUp(), await signUp(), await signUp(), await signUp()];
    await setCloseFriends(a, [friend, blocker]);
    await block(blocker, a);
    const mediaId = await insertMedia(a);
    const unused = await insertMedia(a);
    const story = await postStory(a, { type: "image", text: undefined, mediaId, audience: { kind: "close_friends" } });
    expect(await canViewStoryMedia(db, mediaId, a.id)).toBe(true);
    expect(await canViewStoryMedia(db, mediaId, friend.id)).toBe(true);
    expect(await canViewStoryMedia(db, mediaId, other.id)).toBe(false);
    expect(await canViewStoryMedia(db, mediaId, blocker.id)).toBe(false);
    expect(await canViewStoryMedia(db, unused, a.id)).toBe(false);
    expect(await canViewStoryMedia(db, MISSING, a.id)).toBe(false);
    expect((await api("DELETE", `${S}/${story.id}`, { token: a.accessToken })).status).toBe(204);
    expect(await canViewStoryMedia(db, mediaId, friend.id)).toBe(false);
  });
});
