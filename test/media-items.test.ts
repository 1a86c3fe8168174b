import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { newId } from "../src/lib/ids";
import {
  AVATAR_MAX_BYTES,
  checkLeadingBytes,
  checkUploadAllowed,
  mediaKey,
  mediaView,
  releaseStorage,
  reserveStorage,
  SMALL_UPLOAD_MAX_BYTES,
  sanitizeFileName,
} from "../src/media/items";
import { signUp } from "./helpers";
import { JPEG, MP4, OPAQUE, PDF, PNG } from "./media-fixtures";

const db = createDb(env.DB);

/** Run `fn` and return the AppError it throws (fails if it does not throw). */
async function thrown(fn: () => unknown): Promise<{ status: number; code: string; details?: any }> {
  try {
    await fn();
  } catch (err) {
    return err as { status: number; code: string; details?: any };
  }
  throw new Error("expected an error");
}

const usage = async (userId: string) =>
  (await env.DB.prepare("SELECT bytes FROM storage_usage WHERE user_id = ?").bind(userId).first<{ bytes: number }>())?.bytes ?? null;

describe("upload rules", () => {
  it("normalizes the declared type and applies the purpose's types and sizes", async () => {
    expect(checkUploadAllowed("avatar", "image/JPG; charset=x", 10, SMALL_UPLOAD_MAX_BYTES)).toBe("image/jpeg");
    expect(checkUploadAllowed("story", "video/mp4", null, SMALL_UPLOAD_MAX_BYTES)).toBe("video/mp4");
    expect(checkUploadAllowed("attachment", "application/x-whatever", 10, SMALL_UPLOAD_MAX_BYTES)).toBe("application/x-whatever");
    expect(checkUploadAllowed("attachment", undefined, 10, SMALL_UPLOAD_MAX_BYTES)).toBe("application/octet-stream");
    expect(await thrown(() => checkUploadAllowed("avatar", "application/pdf", 10, SMALL_UPLOAD_MAX_BYTES))).toMatchObject({
      status: 415,
      code: "unsupported_media_type",
    });
    expect(await thrown(() => checkUploadAllowed("avatar", "image/svg+xml", 10, SMALL_UPLOAD_MAX_BYTES))).toMatchObject({ status: 415 });
    expect(await thrown(() => checkUploadAllowed("story", "audio/mpeg", 10, SMALL_UPLOAD_MAX_BYTES))).toMatchObject({ status: 415 });
    expect(await thrown(() => checkUploadAllowed("attachment", "not a type", 10, SMALL_UPLOAD_MAX_BYTES))).toMatchObject({ status: 415 });
    expect(await thrown(() => checkUploadAllowed("avatar", "image/png", AVATAR_MAX_BYTES + 1, SMALL_UPLOAD_MAX_BYTES))).toMatchObject({
      status: 413,
      code: "payload_too_large",
      details: { maxBytes: AVATAR_MAX_BYTES },
    });
    expect(await thrown(() => checkUploadAllowed("attachment", "text/plain", 101, 100))).toMatchObject({ details: { maxBytes: 100 } });
  });

  it("checks leading bytes of images, video, audio and PDF with file-type", async () => {
    await checkLeadingBytes("image/png", PNG);
    await checkLeadingBytes("image/jpeg", JPEG);
    await checkLeadingBytes("application/pdf", PDF);
    await checkLeadingBytes("video/mp4", MP4);
    await checkLeadingBytes("application/octet-stream", PNG); // unchecked type: kept as declared
    expect(await thrown(() => checkLeadingBytes("image/jpeg", PNG))).toMatchObject({
      status: 415,
      code: "media_type_mismatch",
      details: { declared: "image/jpeg", detected: "image/png" },
    });
    expect(await thrown(() => checkLeadingBytes("application/pdf", OPAQUE))).toMatchObject({ details: { detected: null } });
  });
});

describe("storage quota", () => {
  it("reserves within the quota in one statement and refuses beyond it with the quota in the details", async () => {
    const user = await signUp();
    const small = { ...env, MEDIA_QUOTA_BYTES: "1000" };
    await reserveStorage(db, small, user.id, 600);
    await reserveStorage(db, small, user.id, 400);
    expect(await usage(user.id)).toBe(1000);
    expect(await thrown(() => reserveStorage(db, small, user.id, 1))).toMatchObject({
      status: 413,
      code: "quota_exceeded",
      details: { quotaBytes: 1000, usedBytes: 1000 },
    });
    await releaseStorage(db, user.id, 300);
    expect(await usage(user.id)).toBe(700);
    await releaseStorage(db, user.id, 5000);
    expect(await usage(user.id)).toBe(0);

    const fresh = await signUp();
    expect(await thrown(() => reserveStorage(db, small, fresh.id, 1001))).toMatchObject({ details: { quotaBytes: 1000, usedBytes: 0 } });
    expect(await usage(fresh.id)).toBeNull();
  });
});

describe("sanitizeFileName", () => {
  it.each([
    ["report.pdf", "report.pdf"],
    ["../../etc/passwd", "passwd"],
    ["C:\\Users\\me\\photo.jpg", "photo.jpg"],
    ["  \"quoted\" 'name'.txt  ", "quoted name.txt"],
    ["evil\u202Egpj.exe", "evilgpj.exe"],
    ["zero\u200Bwidth\uFEFF.png", "zerowidth.png"],
    ["line\r\nbreak\t.txt", "linebreak.txt"],
    ["..", null],
    ["dir/", null],
    ["\u0000\u0001", null],
    ["", null],
    [null, null],
    [undefined, null],
  ])("%j → %j", (input, expected) => {
    expect(sanitizeFileName(input)).toBe(expected);
  });

  it("keeps at most 255 UTF-8 bytes, whole characters and the extension", () => {
    const name = sanitizeFileName(`${"é".repeat(300)}.jpeg`)!;
    expect(new TextEncoder().encode(name).byteLength).toBeLessThanOrEqual(255);
    expect(name.endsWith("é.jpeg")).toBe(true);
  });
});

describe("mediaView", () => {
  it("answers the item with a URL signed for the viewer, valid 15 minutes", async () => {
    const user = await signUp();
    const id = newId();
    const row = {
      id,
      ownerId: user.id,
      purpose: "attachment" as const,
      mimeType: "application/pdf",
      size: PDF.byteLength,
      sha256: "ab".repeat(32),
      fileName: "a.pdf",
      r2Key: mediaKey(id),
      createdAt: Date.now(),
      attachedAt: null,
      chatId: null,
    };
    const view = await mediaView(env, row, user.id);
    expect(view).toMatchObject({ id, mimeType: "application/pdf", size: PDF.byteLength, purpose: "attachment", fileName: "a.pdf" });
    expect(view.url).toMatch(new RegExp(`^/api/v1/media/${id}/content\\?exp=\\d+&uid=${user.id}&sig=[\\w-]+$`));
    const expires = Date.parse(view.urlExpiresAt) - Date.now();
    expect(expires).toBeGreaterThan(14 * 60_000);
    expect(expires).toBeLessThanOrEqual(15 * 60_000);
  });
});
