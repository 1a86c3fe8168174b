import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import worker from "../src/index";
import { attachOwnedMedia, detachMessageMedia } from "../src/media/attachments";
import { sweepUnattachedMedia } from "../src/media/sweep";
import { api, STRONG_PASSWORD, signUp } from "./helpers";
import { OPAQUE, PNG } from "./media-fixtures";
import { mediaRow, storedObjects, upload, usage } from "./media-helpers";

/** Attach without a message type's rule (the lifecycle is what is tested). */
const noTypeRule = () => {};

const db = createDb(env.DB);
const HOUR = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR;

/** Any AppError `fn` throws, as {status, code, details}. */
async function thrown(fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch (err) {
    return err as { status: number; code: string; details?: any };
  }
  throw new Error("expected an error");
}

const refs = async (mediaId: string) =>
  (await env.DB.prepare("SELECT chat_id, message_id FROM media_refs WHERE media_id = ? ORDER BY message_id").bind(mediaId).all()).results;

/** Run the real scheduled handler for `cron` at `scheduledTime`. */
async function runCron(cron: string, scheduledTime: number) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("attachOwnedMedia / detachMessageMedia", () => {
  it("attaches only the owner's attachments, idempotently", async () => {
    const [owner, other] = await Promise.all([signUp(), signUp()]);
    const item = await upload(owner, OPAQUE);
    const avatar = await upload(owner, PNG, { type: "image/png", purpose: "avatar" });
    const chatId = crypto.randomUUID();
    const messageId = crypto.randomUUID();

    expect(
      await thrown(() => attachOwnedMedia(db, { mediaIds: [item.id], ownerId: other.id, chatId, messageId }, noTypeRule)),
    ).toMatchObject({
      status: 404,
      code: "not_found",
      details: { mediaId: item.id },
    });
    expect(
      await thrown(() => attachOwnedMedia(db, { mediaIds: [crypto.randomUUID()], ownerId: owner.id, chatId, messageId }, noTypeRule)),
    ).toMatchObject({
      status: 404,
    });
    expect(
      await thrown(() => attachOwnedMedia(db, { mediaIds: [item.id, avatar.id], ownerId: owner.id, chatId, messageId }, noTypeRule)),
    ).toMatchObject({
      status: 422,
      code: "media_not_attachable",
    });
    expect(await refs(item.id)).toEqual([]);

    await attachOwnedMedia(db, { mediaIds: [item.id, item.id], ownerId: owner.id, chatId, messageId }, noTypeRule);
    const firstAttached = (await mediaRow(item.id)).attached_at;
    expect(firstAttached).toBeTypeOf("number");
    await attachOwnedMedia(db, { mediaIds: [item.id], ownerId: owner.id, chatId, messageId }, noTypeRule);
    expect(await refs(item.id)).toEqual([{ chat_id: chatId, message_id: messageId }]);
    expect((await mediaRow(item.id)).attached_at).toBe(firstAttached);
  });

  it("deletes an item with its last referencing message, not before", async () => {
    const owner = await signUp();
    const item = await upload(owner, OPAQUE);
    const chatId = crypto.randomUUID();
    const [m1, m2] = [crypto.randomUUID(), crypto.randomUUID()];
    await attachOwnedMedia(db, { mediaIds: [item.id], ownerId: owner.id, chatId, messageId: m1 }, noTypeRule);
    await attachOwnedMedia(db, { mediaIds: [item.id], ownerId: owner.id, chatId, messageId: m2 }, noTypeRule);

    expect(await detachMessageMedia(db, env, chatId, [m1])).toEqual({ refs: 1, items: 0, bytes: 0 });
    expect(await storedObjects([item.id])).toBe(1);
    expect(await detachMessageMedia(db, env, chatId, [m2, crypto.randomUUID()])).toEqual({ refs: 1, items: 1, bytes: OPAQUE.byteLength });
    expect(await mediaRow(item.id)).toBeNull();
    expect(await storedObjects([item.id])).toBe(0);
    expect(await usage(owner.id)).toBe(0);
    // Again: nothing left to do.
    expect(await detachMessageMedia(db, env, chatId, [m2])).toEqual({ refs: 0, items: 0, bytes: 0 });
  });
});

describe("hourly sweep of unattached media", () => {
  it("deletes attachments never attached after 24 hours, through the hourly cron, idempotently", async () => {
    const owner = await signUp();
    const [stale, fresh, sent, avatar] = [
      await upload(owner, OPAQUE),
      await upload(owner, OPAQUE),
      await upload(owner, OPAQUE),
      await upload(owner, PNG, { type: "image/png", purpose: "avatar" }),
    ];
    const now = Date.now();
    await env.DB.prepare("UPDATE media SET created_at = ? WHERE id IN (?, ?, ?)")
      .bind(now - 25 * HOUR, stale.id, sent.id, avatar.id)
      .run();
    await attachOwnedMedia(
      db,
      { mediaIds: [sent.id], ownerId: owner.id, chatId: crypto.randomUUID(), messageId: crypto.randomUUID() },
      noTypeRule,
    );
    const before = await usage(owner.id);

    // The 5-minute schedule does not run the media sweep.
    await runCron("*/5 * * * *", now);
    expect(await mediaRow(stale.id)).not.toBeNull();

    await runCron("0 * * * *", now);
    expect(await mediaRow(stale.id)).toBeNull();
    expect(await storedObjects([stale.id])).toBe(0);
    expect(await storedObjects([fresh.id, sent.id, avatar.id])).toBe(3);
    expect(await usage(owner.id)).toBe(before - OPAQUE.byteLength);

    expect(await sweepUnattachedMedia(env, now)).toEqual({ items: 0, bytes: 0, storyItems: 0 });
  });

  it("works in bounded batches", async () => {
    const owner = await signUp();
    const items = [await upload(owner, OPAQUE), await upload(owner, OPAQUE), await upload(owner, OPAQUE)];
    const now = Date.now();
    await env.DB.prepare("UPDATE media SET created_at = ? WHERE owner_id = ?")
      .bind(now - 30 * DAY_MS, owner.id)
      .run();
    // Older than anything other tests leave behind, so this batch takes exactly these.
    const first = await sweepUnattachedMedia(env, now, 2);
    expect(first.items).toBe(2);
    expect(await storedObjects(items.map((i) => i.id))).toBe(1);
  });
});

describe("reservations of uploads cut off mid-way", () => {
  it("a one-request upload holds its reservation as an uploads row until it becomes an item; one left behind is freed by the hourly job", async () => {
    const owner = await signUp();
    const item = await upload(owner, OPAQUE);
    // Success: the item replaced its reservation row in one transaction.
    expect(await env.DB.prepare("SELECT count(*) AS n FROM uploads WHERE id = ?").bind(item.id).first("n")).toBe(0);
    expect(await usage(owner.id)).toBe(OPAQUE.byteLength);
    // What a Worker cut off mid-upload leaves: the reservation and its row, no item, no object.
    const orphan = crypto.randomUUID();
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare("UPDATE storage_usage SET bytes = bytes + 5000 WHERE user_id = ?").bind(owner.id),
      env.DB.prepare(
        "INSERT INTO uploads (id, owner_id, purpose, length, created_at, expires_at) VALUES (?, ?, 'attachment', 5000, ?, ?)",
      ).bind(orphan, owner.id, now - 2 * DAY_MS, now - DAY_MS),
    ]);
    await runCron("0 * * * *", now);
    expect(await usage(owner.id)).toBe(OPAQUE.byteLength);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM uploads WHERE id = ?").bind(orphan).first("n")).toBe(0);
    expect(await mediaRow(item.id)).not.toBeNull();
  });
});

describe("account deletion", () => {
  it("removes the account's unattached media and avatars from R2 and D1, keeping attachments already sent", async () => {
    const owner = await signUp();
    const avatar = await upload(owner, PNG, { type: "image/png", purpose: "avatar" });
    const draft = await upload(owner, OPAQUE);
    const sent = await upload(owner, OPAQUE);
    await attachOwnedMedia(
      db,
      { mediaIds: [sent.id], ownerId: owner.id, chatId: crypto.randomUUID(), messageId: crypto.randomUUID() },
      noTypeRule,
    );

    const res = await api("DELETE", "/api/v1/users/me", { token: owner.accessToken, body: { password: STRONG_PASSWORD } });
    expect(res.status, res.text).toBe(204);
    expect(await storedObjects([avatar.id, draft.id])).toBe(0);
    expect(await mediaRow(avatar.id)).toBeNull();
    expect(await mediaRow(draft.id)).toBeNull();
    expect(await storedObjects([sent.id])).toBe(1);
    expect(await usage(owner.id)).toBe(OPAQUE.byteLength);
  });
});
