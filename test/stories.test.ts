import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectError, expectInvalid, signUp } from "./helpers";
import { expireStory, getStory, insertMedia, MISSING, postRaw, postStory, S } from "./story-helpers";

const DAY = 24 * 60 * 60 * 1000;

describe("POST /stories", () => {
  it("posts a text story live for 24 hours, with defaults for background and font", async () => {
    const a = await signUp();
    const before = Date.now();
    const story = await postStory(a, { text: "  good morning  ", audience: { kind: "everyone" } });
    expect(story).toMatchObject({
      authorId: a.id,
      type: "text",
      text: "good morning",
      background: "#000000",
      font: "sans",
      mediaId: null,
      mimeType: null,
      caption: null,
      viewed: true,
      audience: "everyone",
      viewCount: 0,
    });
    const created = Date.parse(story.createdAt);
    expect(created).toBeGreaterThanOrEqual(before);
    expect(Date.parse(story.expiresAt) - created).toBe(DAY);
    const styled = await postStory(a, { background: "#1E90ff", font: "serif" });
    expect(styled).toMatchObject({ background: "#1E90ff", font: "serif" });
    const row = await env.DB.prepare("SELECT author_id, type, text, audience FROM stories WHERE id = ?").bind(story.id).first();
    expect(row).toEqual({ author_id: a.id, type: "text", text: "good morning", audience: "everyone" });
  });

  it("posts image and video stories from my own story media, each media item once", async () => {
    const a = await signUp();
    const image = await insertMedia(a, { mimeType: "image/png" });
    const video = await insertMedia(a, { mimeType: "video/mp4" });
    const s1 = await postStory(a, { type: "image", text: undefined, mediaId: image, caption: "sunset" });
    expect(s1).toMatchObject({ type: "image", mediaId: image, mimeType: "image/png", caption: "sunset", text: null, background: null });
    const s2 = await postStory(a, { type: "video", text: undefined, mediaId: video });
    expect(s2).toMatchObject({ type: "video", mediaId: video, mimeType: "video/mp4", caption: null });
    expectError(await postRaw(a, { type: "image", mediaId: image, audience: { kind: "everyone" } }), 422, "media_in_use");
  });

  it("refuses media that is not mine (404), of another purpose or the wrong type (422)", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const body = (type: string, mediaId: string) => ({ type, mediaId, audience: { kind: "everyone" } });
    expectError(await postRaw(a, body("image", await insertMedia(b))), 404, "not_found");
    expectError(await postRaw(a, body("image", MISSING)), 404, "not_found");
    const attachment = await insertMedia(a, { purpose: "attachment" });
    expect(expectError(await postRaw(a, body("image", attachment)), 422, "media_wrong_purpose").details).toEqual({ purpose: "attachment" });
    expectError(await postRaw(a, body("video", await insertMedia(a, { mimeType: "image/jpeg" }))), 422, "media_type_mismatch");
    expectError(await postRaw(a, body("image", await insertMedia(a, { mimeType: "video/webm" }))), 422, "media_type_mismatch");
    expect((await env.DB.prepare("SELECT count(*) AS n FROM stories WHERE author_id = ?").bind(a.id).first())!.n).toBe(0);
  });

  it("validates the body: 400 with the offending field", async () => {
    const a = await signUp();
    const text = (extra: Record<string, unknown>) => ({ type: "text", text: "hi", audience: { kind: "everyone" }, ...extra });
    expectInvalid(await postRaw(a, text({ background: "blue" })), "body.background");
    expectInvalid(await postRaw(a, text({ background: "#12345" })), "body.background");
    expectInvalid(await postRaw(a, text({ font: "comic" })), "body.font");
    expectInvalid(await postRaw(a, text({ text: "   " })), "body.text");
    expectInvalid(await postRaw(a, text({ text: "x".repeat(2001) })), "body.text");
    expectInvalid(await postRaw(a, text({ mediaId: MISSING })), "body");
    expectInvalid(
      await postRaw(a, { type: "image", mediaId: MISSING, caption: "x".repeat(1001), audience: { kind: "everyone" } }),
      "body.caption",
    );
    expectInvalid(await postRaw(a, { type: "image", audience: { kind: "everyone" } }), "body.mediaId");
    expectInvalid(await postRaw(a, { type: "gif", audience: { kind: "everyone" } }), "body.type");
    expectInvalid(await postRaw(a, text({ audience: { kind: "friends" } })), "body.audience.kind");
    expectInvalid(await postRaw(a, text({ audience: { kind: "selected" } })), "body.audience.userIds");
    expectInvalid(await postRaw(a, text({ audience: { kind: "selected", userIds: [] } })), "body.audience.userIds");
    expectInvalid(await postRaw(a, text({ audience: { kind: "everyone", userIds: [MISSING] } })), "body.audience.userIds");
    expectInvalid(await postRaw(a, text({ audience: undefined })), "body.audience");
    expectInvalid(await postRaw(a, text({ viewCount: 5 })), "body");
    // A caption of exactly 1,000 characters is fine.
    const media = await insertMedia(a);
    expect((await postRaw(a, { type: "image", mediaId: media, caption: "y".repeat(1000), audience: { kind: "everyone" } })).status).toBe(
      201,
    );
  });

  it("refuses unknown users and myself in the audience lists, with the bad ids", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const err = expectError(
      await postRaw(a, { type: "text", text: "hi", audience: { kind: "selected", userIds: [b.id, MISSING], exceptUserIds: [a.id] } }),
      400,
      "invalid_user_ids",
    );
    expect(err.details.userIds).toEqual([MISSING, a.id]);
  });

  it("allows 60 stories an hour per author, then 429 rate_limited", async () => {
    const a = await signUp();
    for (let i = 0; i < 60; i++) await postStory(a, { text: `n${i}` });
    const err = expectError(await postRaw(a, { type: "text", text: "one more", audience: { kind: "everyone" } }), 429, "rate_limited");
    expect(err.details.retryAfter).toBeGreaterThan(0);
    expect((await postStory(await signUp())).type).toBe("text");
  });

  it("needs a token", async () => {
    expectError(await postRaw(undefined, { type: "text", text: "hi", audience: { kind: "everyone" } }), 401, "unauthorized");
    expectError(await api("GET", S), 401, "unauthorized");
    expectError(await api("GET", `${S}/me`), 401, "unauthorized");
    expectError(await api("GET", `${S}/${MISSING}`), 401, "unauthorized");
  });
});

describe("GET /stories/me, GET and DELETE /stories/{id}", () => {
  it("lists my live stories oldest first, paginated; expired ones are gone before any sweep", async () => {
    const a = await signUp();
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await postStory(a, { text: `s${i}` }));
    await expireStory(made[1].id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: any = await api("GET", `${S}/me?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token: a.accessToken });
      expect(res.status, res.text).toBe(200);
      seen.push(...res.body.items.map((s: any) => s.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([made[0].id, made[2].id, made[3].id, made[4].id]);
    expect(pages).toBe(2);
    expectError(await getStory(a, made[1].id), 404, "not_found");
    expectError(await api("GET", `${S}/me?cursor=garbage`, { token: a.accessToken }), 400, "invalid_cursor");
  });

  it("gets one story; another viewer sees no owner fields", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const story = await postStory(a);
    const mine = await getStory(a, story.id);
    expect(mine.status).toBe(200);
    expect(mine.body.story).toMatchObject({ id: story.id, audience: "everyone", viewCount: 0, viewed: true });
    const theirs = await getStory(b, story.id);
    expect(theirs.status).toBe(200);
    expect(theirs.body.story).toMatchObject({ id: story.id, audience: null, viewCount: null, viewed: false });
    expectError(await getStory(b, MISSING), 404, "not_found");
    expectInvalid(await getStory(b, "not-a-uuid"), "params.id");
  });

  it("deletes my story at once (expires now, swept later); someone else's or an unknown id is 404", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const story = await postStory(a);
    expectError(await api("DELETE", `${S}/${story.id}`, { token: b.accessToken }), 404, "not_found");
    expectError(await api("DELETE", `${S}/${MISSING}`, { token: a.accessToken }), 404, "not_found");
    expect((await getStory(b, story.id)).status).toBe(200);
    const res = await api("DELETE", `${S}/${story.id}`, { token: a.accessToken });
    expect(res.status, res.text).toBe(204);
    expectError(await getStory(a, story.id), 404, "not_found");
    expectError(await getStory(b, story.id), 404, "not_found");
    expectError(await api("DELETE", `${S}/${story.id}`, { token: a.accessToken }), 404, "not_found");
    const row = await env.DB.prepare("SELECT expires_at FROM stories WHERE id = ?").bind(story.id).first<{ expires_at: number }>();
    expect(row!.expires_at).toBeLessThanOrEqual(Date.now());
    expect((await api("GET", `${S}/me`, { token: a.accessToken })).body.items).toEqual([]);
  });
});
