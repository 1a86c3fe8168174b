import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_MEDIA_QUOTA_BYTES } from "../src/lib/config";
import { SMALL_UPLOAD_MAX_BYTES } from "../src/media/items";
import { expectError, signUp } from "./helpers";
import { JPEG, MP4, OPAQUE, PDF, PNG } from "./media-fixtures";
import { mediaRow, sha256Hex, storedObjects, upload, uploadRaw, usage } from "./media-helpers";

const mediaCount = async (userId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM media WHERE owner_id = ?").bind(userId).first<{ n: number }>())!.n;

describe("POST /media", () => {
  it("streams the body to R2 and answers 201 with its metadata, hash and a signed URL", async () => {
    const user = await signUp();
    const item = await upload(user, PNG, { type: "image/png", name: encodeURIComponent("../Фото \u202Ecat.png") });
    expect(item).toMatchObject({ mimeType: "image/png", size: PNG.byteLength, purpose: "attachment", fileName: "Фото cat.png" });
    expect(item.sha256).toBe(await sha256Hex(PNG));
    expect(item.url).toMatch(new RegExp(`^/api/v1/media/${item.id}/content\\?exp=\\d+&uid=${user.id}&sig=`));

    const object = await env.MEDIA.get(`media/${item.id}`);
    expect(new Uint8Array(await object!.arrayBuffer())).toEqual(PNG);
    const row = await mediaRow(item.id);
    expect(row).toMatchObject({ owner_id: user.id, purpose: "attachment", size: PNG.byteLength, sha256: item.sha256, attached_at: null });
    expect(await usage(user.id)).toBe(PNG.byteLength);
  });

  it("keeps any declared type for attachments (opaque blobs of encrypted chats included)", async () => {
    const user = await signUp();
    const blob = await upload(user, OPAQUE, { type: "application/octet-stream" });
    expect(blob.mimeType).toBe("application/octet-stream");
    const untyped = await upload(user, OPAQUE);
    expect(untyped.mimeType).toBe("application/octet-stream");
    const pdf = await upload(user, PDF, { type: "application/pdf", name: "doc.pdf" });
    expect(pdf.mimeType).toBe("application/pdf");
  });

  it("applies purpose rules: avatar png ok, avatar pdf 415, story video ok, bad purpose 400", async () => {
    const user = await signUp();
    expect((await upload(user, PNG, { type: "image/png", purpose: "avatar" })).purpose).toBe("avatar");
    expect((await upload(user, MP4, { type: "video/mp4", purpose: "story" })).purpose).toBe("story");
    expect((await upload(user, JPEG, { type: "image/jpg", purpose: "story" })).mimeType).toBe("image/jpeg");
    const pdf = expectError(await uploadRaw(user, PDF, { type: "application/pdf", purpose: "avatar" }), 415, "unsupported_media_type");
    expect(pdf.details.allowed).toContain("image/png");
    expectError(await uploadRaw(user, PDF, { type: "application/pdf", purpose: "story" }), 415, "unsupported_media_type");
    expectError(await uploadRaw(user, PNG, { type: "image/png", purpose: "banner" }), 400, "validation_failed");
    expect(await mediaCount(user.id)).toBe(3);
  });

  it("refuses content that is not the declared type and stores nothing", async () => {
    const user = await signUp();
    const err = expectError(await uploadRaw(user, PNG, { type: "image/jpeg" }), 415, "media_type_mismatch");
    expect(err.details).toEqual({ declared: "image/jpeg", detected: "image/png" });
    expectError(await uploadRaw(user, OPAQUE, { type: "application/pdf" }), 415, "media_type_mismatch");
    expectError(await uploadRaw(user, PDF, { type: "video/mp4", purpose: "story" }), 415, "media_type_mismatch");
    expect(await mediaCount(user.id)).toBe(0);
    expect(await usage(user.id)).toBe(0);
    const listed = await env.MEDIA.list({ prefix: "media/", include: ["customMetadata"] });
    expect(listed.objects.filter((o) => o.customMetadata?.ownerId === user.id)).toEqual([]);
  });

  it("refuses bodies over the limits before reading them: 100 MB, 5 MB avatars", async () => {
    const user = await signUp();
    const claim = (size: number) => ({ "content-length": String(size) });
    const big = expectError(
      await uploadRaw(user, new ReadableStream(), { type: "video/mp4", headers: claim(SMALL_UPLOAD_MAX_BYTES + 1) }),
      413,
      "payload_too_large",
    );
    expect(big.details).toEqual({ maxBytes: SMALL_UPLOAD_MAX_BYTES });
    const avatar = expectError(
      await uploadRaw(user, new ReadableStream(), { type: "image/png", purpose: "avatar", headers: claim(5 * 1024 * 1024 + 1) }),
      413,
      "payload_too_large",
    );
    expect(avatar.details).toEqual({ maxBytes: 5 * 1024 * 1024 });
    expect(await usage(user.id)).toBe(0);
  });

  it("needs a Content-Length (411) and a token (401)", async () => {
    const user = await signUp();
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(PNG);
        controller.close();
      },
    });
    expectError(await uploadRaw(user, stream, { type: "image/png" }), 411, "length_required");
    expectError(await uploadRaw(undefined, PNG, { type: "image/png" }), 401, "unauthorized");
  });

  it("accepts bodies larger than the JSON body limit", async () => {
    const user = await signUp();
    const large = new Uint8Array(300 * 1024).fill(7);
    const item = await upload(user, large, { type: "application/octet-stream" });
    expect(item.size).toBe(large.byteLength);
    expect(item.sha256).toBe(await sha256Hex(large));
    expect((await env.MEDIA.head(`media/${item.id}`))!.size).toBe(large.byteLength);
  });

  it("enforces the storage quota with 413 and the quota in the details, storing nothing", async () => {
    const user = await signUp();
    await env.DB.prepare("INSERT INTO storage_usage (user_id, bytes) VALUES (?, ?)")
      .bind(user.id, DEFAULT_MEDIA_QUOTA_BYTES - 10)
      .run();
    const err = expectError(await uploadRaw(user, PNG, { type: "image/png" }), 413, "quota_exceeded");
    expect(err.details).toEqual({ quotaBytes: DEFAULT_MEDIA_QUOTA_BYTES, usedBytes: DEFAULT_MEDIA_QUOTA_BYTES - 10 });
    expect(await mediaCount(user.id)).toBe(0);
    expect(await usage(user.id)).toBe(DEFAULT_MEDIA_QUOTA_BYTES - 10);
    await upload(user, new Uint8Array(10), { type: "application/octet-stream" });
    expect(await usage(user.id)).toBe(DEFAULT_MEDIA_QUOTA_BYTES);
    expect(await storedObjects([])).toBe(0);
  });
});
