import {
  createExecutionContext,
  createScheduledController,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import type { UploadSession } from "../src/uploads/upload-session";
import { BASE, expectError, signUp } from "./helpers";
import { randomBytes, sha256Hex, TUS_ENDPOINT, tusUpload, workerHttpStack } from "./tus-client";

const MiB = 1024 * 1024;
const PART = 8 * MiB;
const b64 = (text: string) => btoa(text);
const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0,
]);

/** A raw tus request against the Worker (what any tus client sends). */
async function tus(method: string, url: string, token: string | null, headers: Record<string, string> = {}, body?: BodyInit) {
  const all: Record<string, string> = { "Tus-Resumable": "1.0.0", ...headers };
  if (token) all.Authorization = `Bearer ${token}`;
  const res = await exports.default.fetch(new Request(url, { method, headers: all, body }));
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : null };
}

const create = (token: string, length: number, metadata?: string) =>
  tus("POST", TUS_ENDPOINT, token, { "Upload-Length": String(length), ...(metadata ? { "Upload-Metadata": metadata } : {}) });
const patch = (token: string, url: string, offset: number, bytes: Uint8Array) =>
  tus("PATCH", url, token, { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" }, bytes);
const idOf = (url: string) => url.split("/").pop()!;

const mediaRow = (id: string) => env.DB.prepare("SELECT * FROM media WHERE id = ?").bind(id).first<Record<string, unknown>>();
const uploadRow = (id: string) => env.DB.prepare("SELECT * FROM uploads WHERE id = ?").bind(id).first();
const usage = async (userId: string) =>
  (await env.DB.prepare("SELECT bytes FROM storage_usage WHERE user_id = ?").bind(userId).first<{ bytes: number }>())?.bytes ?? 0;
const stored = async (id: string) => new Uint8Array((await (await env.MEDIA.get(`media/${id}`))?.arrayBuffer()) ?? new ArrayBuffer(0));

describe("tus discovery and protocol rules", () => {
  it("OPTIONS announces the version, extensions and maximum size without a token", async () => {
    const res = await tus("OPTIONS", TUS_ENDPOINT, null);
    expect(res.status).toBe(204);
    expect(res.headers.get("Tus-Resumable")).toBe("1.0.0");
    expect(res.headers.get("Tus-Version")).toBe("1.0.0");
    expect(res.headers.get("Tus-Extension")?.split(",")).toEqual(["creation", "creation-with-upload", "termination", "expiration"]);
    expect(Number(res.headers.get("Tus-Max-Size"))).toBe(2 * 1024 ** 3);
  });

  it("a CORS preflight is still a preflight, and browsers may read the tus headers", async () => {
    const res = await exports.default.fetch(
      new Request(TUS_ENDPOINT, {
        method: "OPTIONS",
        headers: {
          Origin: "https://app.example",
          "Access-Control-Request-Method": "PATCH",
          "Access-Control-Request-Headers": "upload-offset",
        },
      }),
    );
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Headers")).toMatch(/Upload-Offset/);
    expect(res.headers.get("Access-Control-Allow-Methods")).toMatch(/PATCH/);
    const user = await signUp();
    const created = await exports.default.fetch(
      new Request(TUS_ENDPOINT, {
        method: "POST",
        headers: {
          Origin: "https://app.example",
          Authorization: `Bearer ${user.accessToken}`,
          "Tus-Resumable": "1.0.0",
          "Upload-Length": "5",
        },
      }),
    );
    expect(created.status).toBe(201);
    expect(created.headers.get("Access-Control-Expose-Headers")).toMatch(/Location/);
    expect(created.headers.get("Access-Control-Expose-Headers")).toMatch(/Upload-Offset/);
  });

  it("refuses another protocol version with 412 and Tus-Version, and bad declarations with 4xx", async () => {
    const user = await signUp();
    const wrong = await tus("POST", TUS_ENDPOINT, user.accessToken, { "Tus-Resumable": "0.2.2", "Upload-Length": "10" });
    expectError(wrong, 412, "unsupported_tus_version");
    expect(wrong.headers.get("Tus-Version")).toBe("1.0.0");
    expectError(await tus("POST", TUS_ENDPOINT, user.accessToken, {}), 400, "validation_failed");
    expectError(await create(user.accessToken, -1), 400, "validation_failed");
    expectError(await tus("POST", TUS_ENDPOINT, user.accessToken, { "Upload-Defer-Length": "1" }), 400, "validation_failed");
    expectError(await create(user.accessToken, 2 * 1024 ** 3 + 1), 413, "payload_too_large");
    expectError(await create(user.accessToken, 10, "filename ***"), 400, "validation_failed");
    expectError(await create(user.accessToken, 10, `purpose ${b64("banner")}`), 400, "validation_failed");
    expectError(
      await create(user.accessToken, 10, `purpose ${b64("avatar")},filetype ${b64("application/pdf")}`),
      415,
      "unsupported_media_type",
    );
    expectError(await tus("POST", TUS_ENDPOINT, null, { "Upload-Length": "10" }), 401, "unauthorized");
    // Nothing was reserved or indexed by any of them.
    expect(await usage(user.id)).toBe(0);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM uploads WHERE owner_id = ?").bind(user.id).first("n")).toBe(0);
  });

  it("another user's upload is 404 to HEAD, PATCH and DELETE", async () => {
    const owner = await signUp();
    const other = await signUp();
    const url = (await create(owner.accessToken, 100)).headers.get("Location")!;
    expect((await tus("HEAD", url, other.accessToken)).status).toBe(404);
    expectError(await patch(other.accessToken, url, 0, new Uint8Array(10)), 404, "not_found");
    expectError(await tus("DELETE", url, other.accessToken), 404, "not_found");
    const head = await tus("HEAD", url, owner.accessToken);
    expect(head.status).toBe(200);
    expect(head.headers.get("Upload-Offset")).toBe("0");
  });

  it("a PATCH needs the tus content type and an offset", async () => {
    const user = await signUp();
    const url = (await create(user.accessToken, 10)).headers.get("Location")!;
    expectError(
      await tus("PATCH", url, user.accessToken, { "Upload-Offset": "0", "Content-Type": "application/json" }, "{}"),
      415,
      "unsupported_media_type",
    );
    expectError(
      await tus("PATCH", url, user.accessToken, { "Content-Type": "application/offset+octet-stream" }, "abc"),
      400,
      "validation_failed",
    );
    expect((await tus("HEAD", url, user.accessToken)).headers.get("Upload-Offset")).toBe("0");
  });
});

describe("tus uploads with tus-js-client", () => {
  it("uploads a file in chunks that straddle R2 parts; it becomes a media item with the right bytes and hash", async () => {
    const user = await signUp();
    const bytes = randomBytes(2 * PART + 12345);
    const { stack, log } = workerHttpStack();
    const url = await tusUpload(new Blob([bytes]), {
      token: user.accessToken,
      httpStack: stack,
      chunkSize: 3 * MiB,
      uploadDataDuringCreation: true,
      metadata: { filename: "../../holiday video.bin", filetype: "application/octet-stream" },
    });
    expect(log.requests[0]).toMatchObject({ method: "POST", status: 201 });
    // 16 MiB in 3 MiB chunks: the first rides on the creation POST, five PATCHes carry the rest.
    expect(log.requests.filter((r) => r.method === "PATCH").length).toBe(5);
    const id = idOf(url);
    const row = await mediaRow(id);
    expect(row).toMatchObject({ owner_id: user.id, purpose: "attachment", size: bytes.byteLength, mime_type: "application/octet-stream" });
    expect(row?.sha256).toBe(await sha256Hex(bytes));
    expect(String(row?.file_name)).not.toContain("/");
    expect(await sha256Hex(await stored(id))).toBe(row?.sha256);
    expect(await usage(user.id)).toBe(bytes.byteLength);
    // HEAD after completion still answers (a client that lost the last response learns it is done).
    const head = await tus("HEAD", url, user.accessToken);
    expect(head.headers.get("Upload-Offset")).toBe(String(bytes.byteLength));
    expect(head.headers.get("Upload-Expires")).toBeNull();
  });

  it("resumes after connections drop mid-PATCH: HEAD, then PATCH from the server's offset", async () => {
    const user = await signUp();
    const bytes = randomBytes(PART + 3 * MiB + 7);
    // The second and fourth PATCH bodies are cut after 1 MiB + 3 bytes (not a part boundary).
    let patches = 0;
    const { stack, log } = workerHttpStack((method) => (method === "PATCH" && [1, 3].includes(patches++) ? MiB + 3 : null));
    const url = await tusUpload(new Blob([bytes]), { token: user.accessToken, httpStack: stack, chunkSize: 4 * MiB });
    expect(log.dropped).toBe(2);
    expect(log.requests.filter((r) => r.method === "HEAD").length).toBeGreaterThanOrEqual(2);
    const id = idOf(url);
    expect(await sha256Hex(await stored(id))).toBe(await sha256Hex(bytes));
    expect((await mediaRow(id))?.size).toBe(bytes.byteLength);
  });

  it("PATCH through POST with X-HTTP-Method-Override", async () => {
    const user = await signUp();
    const bytes = randomBytes(300_000);
    const { stack, log } = workerHttpStack();
    const url = await tusUpload(new Blob([bytes]), {
      token: user.accessToken,
      httpStack: stack,
      overridePatchMethod: true,
      chunkSize: 100_000,
    });
    expect(log.requests.filter((r) => r.method === "POST").length).toBe(4);
    expect(await sha256Hex(await stored(idOf(url)))).toBe(await sha256Hex(bytes));
  });
});

describe("tus offsets, termination, types and expiry", () => {
  it("a retried PATCH at a stale offset is 409 with the real offset and changes nothing", async () => {
    const user = await signUp();
    const bytes = randomBytes(PART + 1000);
    const url = (await create(user.accessToken, bytes.byteLength)).headers.get("Location")!;
    expect((await patch(user.accessToken, url, 0, bytes.subarray(0, 5 * MiB))).headers.get("Upload-Offset")).toBe(String(5 * MiB));
    const stale = await patch(user.accessToken, url, 0, bytes.subarray(0, 5 * MiB));
    expectError(stale, 409, "offset_mismatch");
    expect(stale.body.error.details).toEqual({ offset: 5 * MiB });
    const ahead = await patch(user.accessToken, url, 6 * MiB, bytes.subarray(6 * MiB));
    expectError(ahead, 409, "offset_mismatch");
    const done = await patch(user.accessToken, url, 5 * MiB, bytes.subarray(5 * MiB));
    expect(done.status).toBe(204);
    expect(done.headers.get("Upload-Offset")).toBe(String(bytes.byteLength));
    expect(await sha256Hex(await stored(idOf(url)))).toBe(await sha256Hex(bytes));
  });

  it("a PATCH while an older one is still received ends the older one, keeping what it brought", async () => {
    const user = await signUp();
    const url = (await create(user.accessToken, 300)).headers.get("Location")!;
    const stub = env.UPLOAD_SESSION.get(env.UPLOAD_SESSION.idFromName(idOf(url)));
    await runInDurableObject(stub, async (instance: UploadSession) => {
      // The old PATCH: 100 bytes, then its connection hangs (the reader asks for more, nothing comes).
      let pulls = 0;
      let hung!: () => void;
      const hanging = new Promise<void>((r) => (hung = r));
      const old = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            pulls += 1;
            if (pulls === 1) controller.enqueue(new Uint8Array(100).fill(1));
            else hung();
            return pulls === 1 ? undefined : new Promise<void>(() => undefined);
          },
        },
        { highWaterMark: 0 },
      );
      const first = instance.append(user.id, 0, old);
      await hanging;
      // The client gave up on it and resumes at 0: the old PATCH ends first, so 0 is stale now.
      const stale = await instance.append(user.id, 0, new Blob([new Uint8Array(300)]).stream());
      expect(stale).toMatchObject({ ok: false, error: { status: 409, code: "offset_mismatch", details: { offset: 100 } } });
      expect(await first).toMatchObject({ ok: true, value: { offset: 100 } });
      const rest = await instance.append(user.id, 100, new Blob([new Uint8Array(200).fill(2)]).stream());
      expect(rest).toMatchObject({ ok: true, value: { offset: 300, complete: true } });
    });
    const bytes = await stored(idOf(url));
    expect(bytes.subarray(0, 100).every((b) => b === 1) && bytes.subarray(100).every((b) => b === 2)).toBe(true);
  });

  it("termination during a PATCH ends both cleanly: no state left, no 5xx", async () => {
    const user = await signUp();
    const url = (await create(user.accessToken, PART + 10)).headers.get("Location")!;
    const stub = env.UPLOAD_SESSION.get(env.UPLOAD_SESSION.idFromName(idOf(url)));
    await runInDurableObject(stub, async (instance: UploadSession, state) => {
      let hung!: () => void;
      const hanging = new Promise<void>((r) => (hung = r));
      let pulls = 0;
      const body = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            pulls += 1;
            if (pulls === 1) return controller.enqueue(new Uint8Array(1000));
            hung();
            return new Promise<void>(() => undefined);
          },
        },
        { highWaterMark: 0 },
      );
      const patching = instance.append(user.id, 0, body);
      await hanging;
      expect(await instance.terminate()).toEqual({ length: PART + 10, complete: false });
      expect((await patching).ok).toBe(true);
      expect(state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray()).toEqual([]);
    });
    expect((await tus("HEAD", url, user.accessToken)).status).toBe(404);
  });

  it("termination aborts the upload, frees the reserved bytes and forgets it", async () => {
    const user = await signUp();
    const url = (await create(user.accessToken, PART + 10)).headers.get("Location")!;
    await patch(user.accessToken, url, 0, randomBytes(PART + 1));
    expect(await usage(user.id)).toBe(PART + 10);
    const ended = await tus("DELETE", url, user.accessToken);
    expect(ended.status).toBe(204);
    expect(ended.headers.get("Tus-Resumable")).toBe("1.0.0");
    expect(await usage(user.id)).toBe(0);
    expect(await uploadRow(idOf(url))).toBeNull();
    expect(await env.MEDIA.head(`media/${idOf(url)}`)).toBeNull();
    expect((await tus("HEAD", url, user.accessToken)).status).toBe(404);
    expect((await patch(user.accessToken, url, PART + 1, new Uint8Array(9))).status).toBe(404);
  });

  it("a declared image whose first bytes are not that image ends the upload with 415", async () => {
    const user = await signUp();
    const url = (await create(user.accessToken, 5000, `filetype ${b64("image/png")},filename ${b64("cat.png")}`)).headers.get("Location")!;
    const res = await patch(user.accessToken, url, 0, new TextEncoder().encode("%PDF-1.7 ".repeat(500)));
    expectError(res, 415, "media_type_mismatch");
    expect(await usage(user.id)).toBe(0);
    expect((await tus("HEAD", url, user.accessToken)).status).toBe(404);
    expect(await mediaRow(idOf(url))).toBeNull();
  });

  it("a real PNG declared as one is kept, and an empty file is complete at creation", async () => {
    const user = await signUp();
    const png = await create(user.accessToken, PNG.byteLength, `filetype ${b64("image/png")},purpose ${b64("avatar")}`);
    const done = await patch(user.accessToken, png.headers.get("Location")!, 0, PNG);
    expect(done.status).toBe(204);
    expect(await mediaRow(idOf(png.headers.get("Location")!))).toMatchObject({
      purpose: "avatar",
      mime_type: "image/png",
      size: PNG.byteLength,
    });
    const empty = await create(user.accessToken, 0);
    expect(empty.status).toBe(201);
    expect(await mediaRow(idOf(empty.headers.get("Location")!))).toMatchObject({ size: 0, sha256: await sha256Hex(new Uint8Array(0)) });
  });

  it("a wrong type cannot slip in by finishing the upload some other way (too long, empty)", async () => {
    const user = await signUp();
    const meta = `filetype ${b64("image/png")},purpose ${b64("avatar")}`;
    const url = (await create(user.accessToken, 199, meta)).headers.get("Location")!;
    const html = new TextEncoder().encode("<html><script>alert(1)</script>".padEnd(200, " "));
    expectError(await patch(user.accessToken, url, 0, html), 415, "media_type_mismatch");
    expect((await tus("HEAD", url, user.accessToken)).status).toBe(404);
    expect(await mediaRow(idOf(url))).toBeNull();
    expect(await env.MEDIA.head(`media/${idOf(url)}`)).toBeNull();
    expectError(await create(user.accessToken, 0, meta), 415, "media_type_mismatch");
    expect(await usage(user.id)).toBe(0);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM media WHERE owner_id = ?").bind(user.id).first("n")).toBe(0);
  });

  it("a finished upload that never became an item (its object forgot it) is still cleaned up by the hourly job", async () => {
    const user = await signUp();
    const url = (await create(user.accessToken, 10)).headers.get("Location")!;
    // 25 bytes for 10: the first 10 complete the file, the answer is 413, no item is made yet.
    expectError(await patch(user.accessToken, url, 0, new Uint8Array(25).fill(7)), 413, "upload_too_long");
    const stub = env.UPLOAD_SESSION.get(env.UPLOAD_SESSION.idFromName(idOf(url)));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await env.DB.prepare("UPDATE uploads SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, idOf(url))
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "0 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await env.MEDIA.head(`media/${idOf(url)}`)).toBeNull();
    expect(await usage(user.id)).toBe(0);
    expect(await uploadRow(idOf(url))).toBeNull();
  });

  it("bytes past the declared length are refused and not kept", async () => {
    const user = await signUp();
    const url = (await create(user.accessToken, 10)).headers.get("Location")!;
    expectError(await patch(user.accessToken, url, 0, new Uint8Array(25).fill(7)), 413, "upload_too_long");
    const head = await tus("HEAD", url, user.accessToken);
    expect(head.headers.get("Upload-Offset")).toBe("10");
    expect((await stored(idOf(url))).byteLength).toBe(10);
  });

  it("the quota counts uploads in progress by their full length", async () => {
    const user = await signUp();
    await env.DB.prepare("INSERT INTO storage_usage (user_id, bytes) VALUES (?, ?)")
      .bind(user.id, 5 * 1024 ** 3 - 100)
      .run();
    expect((await create(user.accessToken, 100)).status).toBe(201);
    const over = await create(user.accessToken, 1);
    expectError(over, 413, "quota_exceeded");
    expect(over.body.error.details).toMatchObject({ quotaBytes: 5 * 1024 ** 3 });
  });

  it("an unfinished upload expires: 410 after its time, then the hourly job aborts it and frees its bytes", async () => {
    const user = await signUp();
    const finished = await create(user.accessToken, 3);
    await patch(user.accessToken, finished.headers.get("Location")!, 0, new Uint8Array([1, 2, 3]));
    const url = (await create(user.accessToken, PART + 10)).headers.get("Location")!;
    expect((await create(user.accessToken, 1)).headers.get("Upload-Expires")).toMatch(/GMT$/);
    await patch(user.accessToken, url, 0, randomBytes(PART + 2));
    const stub = env.UPLOAD_SESSION.get(env.UPLOAD_SESSION.idFromName(idOf(url)));
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE upload SET expires_at = ?", Date.now() - 1);
    });
    await env.DB.prepare("UPDATE uploads SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, idOf(url))
      .run();
    expect((await tus("HEAD", url, user.accessToken)).status).toBe(410);
    expectError(await patch(user.accessToken, url, PART + 2, new Uint8Array(8)), 410, "upload_expired");

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "0 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await uploadRow(idOf(url))).toBeNull();
    expect(await env.MEDIA.head(`media/${idOf(url)}`)).toBeNull();
    // What stays: the finished 3-byte file, now a media item, and the 1-byte upload still in its day.
    expect(await usage(user.id)).toBe(3 + 1);
    expect(await mediaRow(idOf(finished.headers.get("Location")!))).not.toBeNull();
  });
});

it("upload URLs are absolute and under the API", async () => {
  const user = await signUp();
  const res = await create(user.accessToken, 1);
  expect(res.headers.get("Location")).toMatch(new RegExp(`^${BASE}/api/v1/media/uploads/[0-9a-f-]{36}$`));
});
