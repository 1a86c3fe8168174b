import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createDb } from "../src/db/client";
import { registerMediaReader } from "../src/media/access";
import { attachOwnedMedia } from "../src/media/attachments";
import { signMediaUrl } from "../src/media/signed-url";
import { C, createGroup, MISSING } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { PDF, PNG } from "./media-fixtures";
import { fetchContent, getMedia, M, mediaRow, upload, usage } from "./media-helpers";

/** Attach without a message type's rule (the lifecycle is what is tested). */
const noTypeRule = () => {};

const db = createDb(env.DB);

/** A PNG attachment owned by `owner`, attached to a message in a new group with `members`. */
async function attachedInGroup(owner: TestUser, members: TestUser[]) {
  const chat = await createGroup(owner, members);
  const item = await upload(owner, PNG, { type: "image/png", name: "pic.png" });
  await attachOwnedMedia(db, { mediaIds: [item.id], ownerId: owner.id, chatId: chat.id, messageId: crypto.randomUUID() }, noTypeRule);
  return { chat, item };
}

describe("who may read an item (GET /media/{id})", () => {
  it("the owner; members of a chat where a message references it; not strangers or removed members", async () => {
    const [owner, member, stranger] = await Promise.all([signUp(), signUp(), signUp()]);
    const unattached = await upload(owner, PNG, { type: "image/png" });
    expect((await getMedia(owner, unattached.id)).status).toBe(200);
    expectError(await getMedia(member, unattached.id), 404, "not_found");

    const { chat, item } = await attachedInGroup(owner, [member]);
    const seen = await getMedia(member, item.id);
    expect(seen.status, seen.text).toBe(200);
    expect(seen.body).toMatchObject({ id: item.id, mimeType: "image/png", size: PNG.byteLength, fileName: "pic.png" });
    expect(seen.body.url).toContain(`uid=${member.id}`);
    expectError(await getMedia(stranger, item.id), 404, "not_found");

    const removed = await api("DELETE", `${C}/${chat.id}/members/${member.id}`, { token: owner.accessToken });
    expect(removed.status, removed.text).toBe(204);
    expectError(await getMedia(member, item.id), 404, "not_found");
    // A URL signed while still a member stops working too.
    expect((await fetchContent(seen.body.url)).status).toBe(404);
  });

  it("avatars are readable by anyone signed in; bad ids 400, missing ones 404, no token 401", async () => {
    const [owner, other] = await Promise.all([signUp(), signUp()]);
    const avatar = await upload(owner, PNG, { type: "image/png", purpose: "avatar" });
    expect((await getMedia(other, avatar.id)).status).toBe(200);
    expectError(await getMedia(other, MISSING), 404, "not_found");
    expectError(await getMedia(other, "nope"), 400, "validation_failed");
    expectError(await api("GET", `${M}/${avatar.id}`), 401, "unauthorized");
  });

  it("story media follow a registered reader (the stories module's audience check)", async () => {
    const [owner, friend, other] = await Promise.all([signUp(), signUp(), signUp()]);
    const story = await upload(owner, PNG, { type: "image/png", purpose: "story" });
    expectError(await getMedia(friend, story.id), 404, "not_found");
    registerMediaReader("story", async (_db, mediaId, viewerId) => mediaId === story.id && viewerId === friend.id);
    expect((await getMedia(friend, story.id)).status).toBe(200);
    expectError(await getMedia(other, story.id), 404, "not_found");
  });
});

describe("signed content URLs", () => {
  it("serve the bytes with type, ETag, disposition and private caching", async () => {
    const user = await signUp();
    const pdf = await upload(user, PDF, { type: "application/pdf", name: encodeURIComponent("Отчёт 2024.pdf") });
    const res = await fetchContent(pdf.url);
    expect(res.status).toBe(200);
    expect(res.bytes).toEqual(PDF);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("etag")).toBe(`"${pdf.sha256}"`);
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="_____ 2024.pdf"; filename*=UTF-8''${encodeURIComponent("Отчёт 2024.pdf")}`,
    );
    expect(res.headers.get("content-security-policy")).toBe("sandbox");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toMatch(/^private, max-age=(89\d|900)$/);

    const png = await upload(user, PNG, { type: "image/png" });
    const image = await fetchContent(png.url);
    expect(image.headers.get("content-disposition")).toBe("inline");
    expect(image.headers.get("content-security-policy")).toBeNull();
    expect(image.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
  });

  it("answer ranges with 206 and unsatisfiable ones with 416", async () => {
    const user = await signUp();
    const item = await upload(user, PDF, { type: "application/pdf" });
    const first = await fetchContent(item.url, { range: "bytes=0-3" });
    expect(first.status).toBe(206);
    expect(new TextDecoder().decode(first.bytes)).toBe("%PDF");
    expect(first.headers.get("content-range")).toBe(`bytes 0-3/${PDF.byteLength}`);
    expect(first.headers.get("content-length")).toBe("4");
    const tail = await fetchContent(item.url, { range: "bytes=-6" });
    expect(tail.bytes).toEqual(PDF.slice(-6));
    const open = await fetchContent(item.url, { range: "bytes=5-" });
    expect(open.bytes).toEqual(PDF.slice(5));
    const beyond = await fetchContent(item.url, { range: `bytes=${PDF.byteLength}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${PDF.byteLength}`);
    expect(beyond.json().error.code).toBe("range_not_satisfiable");
    // Stale If-Range: the whole item.
    expect((await fetchContent(item.url, { range: "bytes=0-3", "if-range": '"other"' })).status).toBe(200);
  });

  it("answer If-None-Match with 304 and no body", async () => {
    const user = await signUp();
    const item = await upload(user, PNG, { type: "image/png" });
    const res = await fetchContent(item.url, { "if-none-match": `W/"${item.sha256}"` });
    expect(res.status).toBe(304);
    expect(res.bytes.byteLength).toBe(0);
    expect((await fetchContent(item.url, { "if-none-match": '"stale"' })).status).toBe(200);
  });

  it("refuse tampered, expired, missing and other users' signatures with 403 and serve nothing", async () => {
    const [owner, other] = await Promise.all([signUp(), signUp()]);
    const item = await upload(owner, PNG, { type: "image/png" });
    const url = new URL(item.url, "http://x");
    const variant = (change: (q: URLSearchParams) => void) => {
      const q = new URLSearchParams(url.search);
      change(q);
      return `${url.pathname}?${q}`;
    };
    const cases = [
      variant((q) => q.set("sig", `${q.get("sig")!.slice(0, -2)}AA`)),
      variant((q) => q.set("exp", String(Number(q.get("exp")) + 60))),
      variant((q) => q.set("uid", other.id)),
      variant((q) => q.delete("sig")),
      `${M}/${crypto.randomUUID()}/content${url.search}`,
    ];
    for (const bad of cases) {
      const res = await fetchContent(bad);
      expect(res.status, bad).toBe(403);
      expect(res.json().error.code).toBe("invalid_signature");
      expect(res.headers.get("etag")).toBeNull();
    }
    // Another user's own URL is bound to that user: signed for `other`, it does not grant access.
    const forOther = await signMediaUrl(env, item.id, other.id);
    expect((await fetchContent(forOther.url)).status).toBe(404);

    // Expired: the same URL 16 minutes later.
    vi.useFakeTimers({ now: Date.now() + 16 * 60_000, toFake: ["Date"] });
    try {
      const res = await fetchContent(item.url);
      expect(res.status).toBe(403);
      expect(res.json().error.code).toBe("invalid_signature");
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("a signed URL carries its signer's rights", () => {
  it("stops serving at once when the signer is suspended or banned, and again after restore", async () => {
    const [owner, member] = await Promise.all([signUp(), signUp()]);
    const { item } = await attachedInGroup(owner, [member]);
    const url = (await getMedia(member, item.id)).body.url as string;
    expect((await fetchContent(url)).status).toBe(200);
    for (const status of ["suspended", "banned"]) {
      await env.DB.prepare("UPDATE users SET status = ? WHERE id = ?").bind(status, member.id).run();
      const refused = await fetchContent(url);
      expect(refused.status).toBe(404);
      expect(refused.bytes.byteLength).toBeLessThan(300); // the error body, not the file
    }
    await env.DB.prepare("UPDATE users SET status = 'active' WHERE id = ?").bind(member.id).run();
    expect((await fetchContent(url)).bytes).toEqual(PNG);
  });
});

describe("DELETE /media/{id}", () => {
  it("deletes an unattached item at once: R2, row and quota", async () => {
    const [owner, other] = await Promise.all([signUp(), signUp()]);
    const item = await upload(owner, PNG, { type: "image/png" });
    expectError(await api("DELETE", `${M}/${item.id}`, { token: other.accessToken }), 404, "not_found");
    const res = await api("DELETE", `${M}/${item.id}`, { token: owner.accessToken });
    expect(res.status, res.text).toBe(204);
    expect(await env.MEDIA.head(`media/${item.id}`)).toBeNull();
    expect(await mediaRow(item.id)).toBeNull();
    expect(await usage(owner.id)).toBe(0);
    expectError(await api("DELETE", `${M}/${item.id}`, { token: owner.accessToken }), 404, "not_found");
    expect((await fetchContent(item.url)).status).toBe(404);
  });

  it("refuses attached items (409 media_attached), even to a member who can read it", async () => {
    const [owner, member] = await Promise.all([signUp(), signUp()]);
    const { item } = await attachedInGroup(owner, [member]);
    expectError(await api("DELETE", `${M}/${item.id}`, { token: owner.accessToken }), 409, "media_attached");
    expectError(await api("DELETE", `${M}/${item.id}`, { token: member.accessToken }), 404, "not_found");
    expect(await env.MEDIA.head(`media/${item.id}`)).not.toBeNull();
  });
});
