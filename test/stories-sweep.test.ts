import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { sweepExpiredStories } from "../src/stories/sweep";
import { api, signUp, type TestUser } from "./helpers";
import { expireStory, insertMedia, postStory, S, view } from "./story-helpers";

/** Run the real scheduled handler as the 5-minute cron at `scheduledTime`. */
async function runCron(scheduledTime: number) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** An image story whose bytes are in R2 at the media row's key. */
async function imageStory(u: TestUser, size: number, audience: Record<string, unknown> = { kind: "everyone" }) {
  const mediaId = await insertMedia(u, { size });
  await env.MEDIA.put(`media/${mediaId}`, new Uint8Array(size));
  const story = await postStory(u, { type: "image", text: undefined, mediaId, audience });
  return { story, mediaId };
}

const count = async (table: string, column: string, ids: string[]) =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} IN (SELECT value FROM json_each(?))`)
    .bind(JSON.stringify(ids))
    .first<{ n: number }>())!.n;
const storageBytes = async (u: TestUser) =>
  (await env.DB.prepare("SELECT bytes FROM storage_usage WHERE user_id = ?").bind(u.id).first<{ bytes: number }>())!.bytes;

describe("sweepExpiredStories and the 5-minute cron", () => {
  it("removes expired stories in bounded batches with their views, audience, media rows and R2 objects, releasing storage", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const images = [await imageStory(a, 100), await imageStory(a, 200, { kind: "selected", userIds: [b.id] }), await imageStory(a, 300)];
    const texts = [await postStory(a, { audience: { kind: "everyone", exceptUserIds: [c.id] } }), await postStory(a)];
    const live = await imageStory(a, 1000);
    for (const s of [...images.map((i) => i.story), texts[0]]) expect((await view(b, s.id)).status).toBe(204);
    expect(await storageBytes(a)).toBe(1600);

    const expired = [...images.map((i) => i.story.id), ...texts.map((t) => t.id)];
    const now = Date.now();
    // Distinct expiries: the sweep takes the oldest first.
    for (const [i, id] of expired.entries()) await expireStory(id, now - 10_000 + i);
    const mediaIds = images.map((i) => i.mediaId);

    const first = await sweepExpiredStories(env, now, 2);
    expect(first).toEqual({ stories: 2, views: 2, audience: 1, media: 2, bytes: 300 });
    expect(await count("stories", "id", expired)).toBe(3);
    expect(await storageBytes(a)).toBe(1300);
    expect(await env.MEDIA.head(`media/${mediaIds[0]}`)).toBeNull();
    expect(await env.MEDIA.head(`media/${mediaIds[2]}`)).not.toBeNull();

    await runCron(now);
    expect(await count("stories", "id", expired)).toBe(0);
    expect(await count("story_views", "story_id", expired)).toBe(0);
    expect(await count("story_audience", "story_id", expired)).toBe(0);
    expect(await count("media", "id", mediaIds)).toBe(0);
    for (const id of mediaIds) expect(await env.MEDIA.head(`media/${id}`)).toBeNull();
    expect(await storageBytes(a)).toBe(1000);
    // The live story and its media are untouched.
    expect(await count("stories", "id", [live.story.id])).toBe(1);
    expect(await env.MEDIA.head(`media/${live.mediaId}`)).not.toBeNull();
    expect((await api("GET", `${S}/${live.story.id}`, { token: b.accessToken })).status).toBe(200);

    // Nothing left: a repeat changes nothing.
    expect(await sweepExpiredStories(env, now)).toEqual({ stories: 0, views: 0, audience: 0, media: 0, bytes: 0 });
    expect(await storageBytes(a)).toBe(1000);
  });

  it("sweeps deleted stories like expired ones", async () => {
    const a = await signUp();
    const { story, mediaId } = await imageStory(a, 50);
    expect((await api("DELETE", `${S}/${story.id}`, { token: a.accessToken })).status).toBe(204);
    await runCron(Date.now() + 1);
    expect(await count("stories", "id", [story.id])).toBe(0);
    expect(await count("media", "id", [mediaId])).toBe(0);
    expect(await env.MEDIA.head(`media/${mediaId}`)).toBeNull();
  });
});

describe("admin stats.stories", () => {
  it("counts live stories: expired and deleted ones drop out at once, before the sweep", async () => {
    const admin = await signUp();
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.id).run();
    const stories = async () => {
      const res = await api("GET", "/api/v1/admin/stats", { token: admin.accessToken });
      expect(res.status, res.text).toBe(200);
      return res.body.stories as number;
    };
    const base = await stories();
    const a = await signUp();
    const made = [await postStory(a), await postStory(a), await postStory(a)];
    expect(await stories()).toBe(base + 3);
    await expireStory(made[0].id);
    expect((await api("DELETE", `${S}/${made[1].id}`, { token: a.accessToken })).status).toBe(204);
    expect(await stories()).toBe(base + 1);
    await sweepExpiredStories(env, Date.now());
    expect(await stories()).toBe(base + 1);
    const counter = await env.DB.prepare("SELECT value FROM stat_counters WHERE key = 'stories'").first<{ value: number }>();
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM stories").first<{ n: number }>();
    expect(counter!.value).toBe(rows!.n);
  });
});

describe("account deletion", () => {
  it("expires the erased author's stories at once (the sweep takes their media) and removes the erased viewer's views", async () => {
    const [author, viewer, other] = [await signUp(), await signUp(), await signUp()];
    const { story, mediaId } = await imageStory(author, 70);
    const textStory = await postStory(author);
    const others = await postStory(other);
    for (const id of [story.id, others.id]) expect((await view(viewer, id)).status).toBe(204);

    expect((await api("DELETE", "/api/v1/users/me", { token: viewer.accessToken, body: { password: viewer.password } })).status).toBe(204);
    expect(await count("story_views", "viewer_id", [viewer.id])).toBe(0);
    expect((await api("GET", `${S}/${others.id}`, { token: other.accessToken })).body.story.viewCount).toBe(0);

    expect((await api("DELETE", "/api/v1/users/me", { token: author.accessToken, body: { password: author.password } })).status).toBe(204);
    // The image story's file went with the account's media (and its row with the file); the text
    // story is expired at once, hidden everywhere, and the sweep removes it.
    expect(await count("stories", "id", [story.id])).toBe(0);
    expect(await env.MEDIA.head(`media/${mediaId}`)).toBeNull();
    const row = await env.DB.prepare("SELECT expires_at FROM stories WHERE id = ?").bind(textStory.id).first<{ expires_at: number }>();
    expect(row!.expires_at).toBeLessThanOrEqual(Date.now());
    for (const id of [story.id, textStory.id]) expect((await api("GET", `${S}/${id}`, { token: other.accessToken })).status).toBe(404);
    await runCron(Date.now() + 1);
    expect(await count("stories", "id", [story.id, textStory.id])).toBe(0);
  });
});
