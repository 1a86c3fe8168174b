import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { api, expectError, signUp } from "./helpers";
import { JPEG, MP4 } from "./media-fixtures";
import { fetchContent, getMedia, M, mediaRow, storedObjects, upload, usage } from "./media-helpers";
import { expireStory, postStory } from "./story-helpers";

/** Story media end to end: uploaded through /media, shown by a story, read by its audience only. */
describe("story media", () => {
  it("follow the story's audience: its viewers read the file, others get 404, blocked people too", async () => {
    const [author, friend, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    await api("PUT", "/api/v1/users/me/close-friends", { token: author.accessToken, body: { userIds: [friend.id] } });
    const item = await upload(author, JPEG, { type: "image/jpeg", purpose: "story" });
    const story = await postStory(author, { type: "image", text: undefined, mediaId: item.id, audience: { kind: "close_friends" } });
    expect(story.mediaId).toBe(item.id);

    const seen = await getMedia(friend, item.id);
    expect(seen.status, seen.text).toBe(200);
    const content = await fetchContent(seen.body.url);
    expect(content.status).toBe(200);
    expect(content.bytes).toEqual(JPEG);
    expectError(await getMedia(stranger, item.id), 404, "not_found");

    // A block hides the story, and with it the file, at once.
    await api("POST", "/api/v1/users/me/blocked", { token: author.accessToken, body: { userId: friend.id } });
    expectError(await getMedia(friend, item.id), 404, "not_found");
    // The signed URL handed out before the block no longer serves the bytes either.
    expect((await fetchContent(seen.body.url)).status).toBe(404);
  });

  it("cannot be deleted while a live story shows it; the story sweep removes it with the story", async () => {
    const author = await signUp();
    const item = await upload(author, MP4, { type: "video/mp4", purpose: "story" });
    const story = await postStory(author, { type: "video", text: undefined, mediaId: item.id });
    const refused = expectError(await api("DELETE", `${M}/${item.id}`, { token: author.accessToken }), 409, "media_in_use");
    expect(refused.details).toEqual({ usedBy: "story" });
    expect(await usage(author.id)).toBe(MP4.byteLength);

    await expireStory(story.id);
    // An expired story's file is no longer readable by others, even before the sweep.
    const other = await signUp();
    expectError(await getMedia(other, item.id), 404, "not_found");
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "*/5 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await mediaRow(item.id)).toBeNull();
    expect(await storedObjects([item.id])).toBe(0);
    expect(await usage(author.id)).toBe(0);
  });

  it("a story upload no story used is deleted by the hourly job after a day; one a story shows stays", async () => {
    const author = await signUp();
    const unused = await upload(author, JPEG, { type: "image/jpeg", purpose: "story" });
    const shown = await upload(author, JPEG, { type: "image/jpeg", purpose: "story" });
    await postStory(author, { type: "image", text: undefined, mediaId: shown.id });
    await env.DB.prepare("UPDATE media SET created_at = ? WHERE id IN (?, ?)")
      .bind(Date.now() - 25 * 3600_000, unused.id, shown.id)
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "0 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await mediaRow(unused.id)).toBeNull();
    expect(await storedObjects([unused.id, shown.id])).toBe(1);
    expect(await usage(author.id)).toBe(JPEG.byteLength);
  });
});
