import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { feedAuthorsQuery, feedStoriesQuery } from "../src/stories/feed";
import { addContact, block } from "./chat-helpers";
import { expectError, signUp, type TestUser } from "./helpers";
import { expireStory, feed, follow, getStory, postStory, setCloseFriends, view } from "./story-helpers";

/** Pin a story's posting time (the feed orders authors by their newest story). */
const setCreated = (id: string, at: number) => env.DB.prepare("UPDATE stories SET created_at = ? WHERE id = ?").bind(at, id).run();

describe("story audiences", () => {
  it("everyone, contacts, close friends, selected and except, blocks both ways and strangers: feed and get-one agree", async () => {
    const a = await signUp();
    const [contact, friend, selected, excepted, blockedByA, blockerOfA, stranger] = (await Promise.all(
      Array.from({ length: 7 }, () => signUp()),
    )) as [TestUser, TestUser, TestUser, TestUser, TestUser, TestUser, TestUser];
    const viewers = { contact, friend, selected, excepted, blockedByA, blockerOfA, stranger } as Record<string, TestUser>;
    // Everyone has the author in their contacts, so the author is a source of every feed.
    for (const v of Object.values(viewers)) await addContact(v, a);
    await addContact(a, contact);
    await addContact(a, excepted);
    await setCloseFriends(a, [friend]);
    await block(a, blockedByA);
    await block(blockerOfA, a);

    const everyone = await postStory(a, { text: "E", audience: { kind: "everyone", exceptUserIds: [excepted.id] } });
    const contacts = await postStory(a, { text: "C", audience: { kind: "contacts" } });
    const close = await postStory(a, { text: "F", audience: { kind: "close_friends" } });
    const chosen = await postStory(a, {
      text: "S",
      audience: { kind: "selected", userIds: [selected.id, excepted.id, blockedByA.id], exceptUserIds: [excepted.id] },
    });
    const expected: Record<string, string[]> = {
      contact: [everyone.id, contacts.id],
      friend: [everyone.id, close.id],
      selected: [everyone.id, chosen.id],
      excepted: [contacts.id],
      blockedByA: [],
      blockerOfA: [],
      stranger: [everyone.id],
    };
    const all = [everyone.id, contacts.id, close.id, chosen.id];
    for (const [name, v] of Object.entries(viewers)) {
      const { ids, storyIds } = await feed(v);
      expect(storyIds, name).toEqual(expected[name]);
      expect(ids, name).toEqual(expected[name]!.length ? [a.id] : []);
      for (const id of all) {
        const res = await getStory(v, id);
        if (expected[name]!.includes(id)) expect(res.status, `${name} ${id}`).toBe(200);
        else expectError(res, 404, "not_found");
      }
    }
    // The author sees all four and never finds themselves in their own feed.
    for (const id of all) expect((await getStory(a, id)).status).toBe(200);
    expect((await feed(a)).ids).toEqual([]);
  });

  it("close friends are read when the story is looked at; removing someone hides it from them", async () => {
    const [a, f] = [await signUp(), await signUp()];
    await follow(f, a);
    await setCloseFriends(a, [f]);
    const story = await postStory(a, { audience: { kind: "close_friends" } });
    expect((await getStory(f, story.id)).status).toBe(200);
    await setCloseFriends(a, []);
    expectError(await getStory(f, story.id), 404, "not_found");
    expect((await feed(f)).ids).toEqual([]);
  });

  it("a block placed after posting hides the story both ways at once", async () => {
    const [a, v, w] = [await signUp(), await signUp(), await signUp()];
    await addContact(v, a);
    await follow(w, a);
    const story = await postStory(a);
    const byV = await postStory(v);
    expect((await feed(v)).storyIds).toEqual([story.id]);
    await block(v, a);
    await block(a, w);
    expectError(await getStory(v, story.id), 404, "not_found");
    expectError(await getStory(a, byV.id), 404, "not_found");
    expectError(await getStory(w, story.id), 404, "not_found");
    expect((await feed(v)).ids).toEqual([]);
    expect((await feed(w)).ids).toEqual([]);
  });

  it("expired stories never show, swept or not; banned authors' stories are gone", async () => {
    const [a, b, v] = [await signUp(), await signUp(), await signUp()];
    await follow(v, a);
    await follow(v, b);
    const old = await postStory(a);
    const live = await postStory(a);
    const banned = await postStory(b);
    await expireStory(old.id);
    await env.DB.prepare("UPDATE users SET status = 'banned' WHERE id = ?").bind(b.id).run();
    expect((await feed(v)).storyIds).toEqual([live.id]);
    expectError(await getStory(v, old.id), 404, "not_found");
    expectError(await getStory(v, banned.id), 404, "not_found");
    await expireStory(live.id);
    expect((await feed(v)).ids).toEqual([]);
  });
});

describe("GET /stories (feed)", () => {
  it("puts authors with unviewed stories first, then newest first, and pages over authors", async () => {
    const v = await signUp();
    const authors = await Promise.all(Array.from({ length: 5 }, () => signUp()));
    const [a1, a2, a3, a4, a5] = authors as [TestUser, TestUser, TestUser, TestUser, TestUser];
    for (const a of authors) await follow(v, a);
    const base = Date.now() - 60_000;
    const s1 = await postStory(a1);
    const s2a = await postStory(a2);
    const s2b = await postStory(a2);
    const s3 = await postStory(a3);
    const s4 = await postStory(a4);
    const s5 = await postStory(a5);
    for (const [i, s] of [s1, s2a, s2b, s3, s4, s5].entries()) await setCreated(s.id, base + i * 1000);
    // a4 and a5 fully viewed (a5's newest is the newest overall); a2 half viewed.
    for (const s of [s4, s5, s2a]) expect((await view(v, s.id)).status).toBe(204);

    const { authors: entries, ids, pages } = await feed(v, 2);
    expect(pages).toBe(3);
    expect(ids).toEqual([a3.id, a2.id, a1.id, a5.id, a4.id]);
    expect(entries.map((e) => e.hasUnviewed)).toEqual([true, true, true, false, false]);
    const second = entries[1];
    expect(second.author).toMatchObject({ id: a2.id, username: a2.username });
    expect(second.latestAt).toBe(new Date(base + 2000).toISOString());
    expect(second.stories.map((s: any) => [s.id, s.viewed])).toEqual([
      [s2a.id, true],
      [s2b.id, false],
    ]);
    expect(second.stories[0]).toMatchObject({ authorId: a2.id, audience: null, viewCount: null });
  });

  it("reads the viewer's sources and the live stories, never a whole table", async () => {
    const db = createDb(env.DB);
    const v = await signUp();
    const people = await Promise.all(Array.from({ length: 30 }, () => signUp()));
    for (const p of people) await addContact(v, p);
    const posters = people.slice(0, 3);
    for (const p of posters) await postStory(p);
    // Noise the feed must not read: stories of people the viewer does not follow.
    const others = await Promise.all(Array.from({ length: 3 }, () => signUp()));
    for (const o of others) for (let i = 0; i < 3; i++) await postStory(o);

    const at = Date.now();
    for (const query of [
      feedAuthorsQuery(v.id, at, 20, null),
      feedStoriesQuery(
        v.id,
        at,
        posters.map((p) => p.id),
      ),
    ]) {
      const plan = (await db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${query}`)).map((r) => r.detail);
      const scans = plan.filter((d) => /^SCAN (?!src|grouped|json_each|CONSTANT)/.test(d));
      expect(scans, plan.join("\n")).toEqual([]);
    }
    const res = await db.run(feedAuthorsQuery(v.id, at, 20, null));
    expect(res.results).toHaveLength(3);
    // Each of the 30 contacts: its index entry and one probe of stories_author_idx; then a
    // handful of primary-key probes per live story (visibility, viewed). The 9 other stories: none.
    expect(res.meta.rows_read).toBeLessThanOrEqual(2 * 30 + 3 * 8);
  });
});
