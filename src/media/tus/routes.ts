import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireAuth } from "../../auth/middleware";
import type { AppEnv } from "../../env";
import { AppError } from "../../lib/errors";
import { bearerSecurity, errorResponses, newRouter, publicSecurity } from "../../lib/openapi";
import { enforceRateLimit } from "../../lib/rate-limit";
import type { UploadStatus } from "../../uploads/upload-session";
import { RESUMABLE_UPLOAD_MAX_BYTES } from "../items";
import { checkTusVersion, httpDate, integerHeader, TUS_CONTENT_TYPE, TUS_EXTENSIONS, TUS_VERSION, TusRequestHeaders } from "./protocol";
import { appendToUpload, createUpload, inspectUpload, terminateUpload } from "./service";

/**
 * Resumable uploads, tus 1.0.0 (core, creation, creation-with-upload, termination, expiration),
 * mounted at /api/v1/media/uploads. Every answer carries `Tus-Resumable`; a 412 also `Tus-Version`.
 */
const app = newRouter();

app.use(async (c, next) => {
  await next();
  c.res.headers.set("Tus-Resumable", TUS_VERSION);
  if (c.res.status === 412) c.res.headers.set("Tus-Version", TUS_VERSION);
});

const UploadId = z.object({
  id: z
    .string()
    .uuid()
    .openapi({ param: { name: "id", in: "path" } }),
});
const tusReply = (description: string) => ({ description, headers: z.object({ "Tus-Resumable": z.string() }) });
const TAGS = ["Media uploads (tus)"];

app.openapi(
  createRoute({
    method: "options",
    path: "/",
    operationId: "discoverTusUploads",
    tags: TAGS,
    summary: "tus discovery: versions, extensions and the largest upload",
    description: "Answers `Tus-Version`, `Tus-Extension` and `Tus-Max-Size` (bytes). No token needed.",
    security: publicSecurity,
    responses: { 204: tusReply("What this server speaks") },
  }),
  (c) => {
    c.header("Tus-Version", TUS_VERSION);
    c.header("Tus-Extension", TUS_EXTENSIONS.join(","));
    c.header("Tus-Max-Size", String(RESUMABLE_UPLOAD_MAX_BYTES));
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createTusUpload",
    tags: TAGS,
    summary: "Create a resumable upload (tus creation, creation-with-upload)",
    description:
      "`Upload-Length` is the file's size (up to 2 GB; `Upload-Defer-Length` is not supported). `Upload-Metadata` may carry " +
      "`filename`, `filetype` and `purpose` (`attachment` by default, `avatar`, `story`), checked like a small upload's. The " +
      "length is reserved against the storage quota at once (`413 quota_exceeded`). A body of type " +
      "`application/offset+octet-stream` is the upload's first bytes. Answers `Location` (the upload's URL; its last " +
      "segment becomes the media id), `Upload-Expires` (24 h), and `Upload-Offset` when bytes came with it. " +
      "Rate limit: 60 creations a minute.",
    security: bearerSecurity,
    middleware: [requireAuth()] as const,
    request: { headers: TusRequestHeaders },
    responses: {
      201: tusReply("Created; `Location` is the upload URL"),
      ...errorResponses(400, 401, 412, 413, 415, 429, 503),
    },
  }),
  async (c) => {
    checkTusVersion(c.req.header("tus-resumable"));
    await enforceRateLimit(c, "upload-create:user", c.var.auth.userId);
    if (c.req.header("upload-defer-length") !== undefined) {
      throw new AppError(400, "validation_failed", "Upload-Defer-Length is not supported; send Upload-Length");
    }
    const length = integerHeader("Upload-Length", c.req.header("upload-length"));
    const withBody = isTusBody(c);
    const created = await createUpload(c.var.db, c.env, c.var.auth.userId, length, c.req.header("upload-metadata"));
    let status = created.status;
    if (withBody && !status.complete && c.req.raw.body) {
      status = await appendToUpload(c.var.db, c.env, created.id, c.var.auth.userId, 0, c.req.raw.body);
    }
    c.header("Location", new URL(`${new URL(c.req.url).pathname.replace(/\/$/, "")}/${created.id}`, c.req.url).href);
    if (withBody) c.header("Upload-Offset", String(status.offset));
    setExpires(c, status);
    return c.body(null, 201);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getTusUploadOffset",
    tags: TAGS,
    summary: "An upload's offset (tus HEAD; GET answers the same)",
    description:
      "`Upload-Offset` is how many bytes are stored: resume with a PATCH there. Also `Upload-Length`, `Upload-Metadata` " +
      "and, while unfinished, `Upload-Expires`. `410 upload_expired` once expired; `404` for another user's upload.",
    security: bearerSecurity,
    middleware: [requireAuth()] as const,
    request: { params: UploadId, headers: TusRequestHeaders },
    responses: { 200: tusReply("Upload-Offset and Upload-Length"), ...errorResponses(400, 401, 404, 410, 412, 503) },
  }),
  async (c) => {
    checkTusVersion(c.req.header("tus-resumable"));
    const status = await inspectUpload(c.var.db, c.env, c.req.valid("param").id, c.var.auth.userId);
    c.header("Upload-Offset", String(status.offset));
    c.header("Upload-Length", String(status.length));
    if (status.metadata) c.header("Upload-Metadata", status.metadata);
    c.header("Cache-Control", "no-store");
    setExpires(c, status);
    return c.body(null, 200);
  },
);

const PATCH_TEXT =
  "Appends the body (`Content-Type: application/offset+octet-stream`) at `Upload-Offset`, which must equal the stored " +
  "offset (`409 offset_mismatch`, details.offset). A dropped connection keeps what arrived: HEAD, then PATCH from there. " +
  "A PATCH while an older one is still received ends the older one first (what it brought is kept). The file's first " +
  "4,100 bytes are read ahead: a declared image, video, audio or PDF type must match them (`415 media_type_mismatch`, and " +
  "the upload ends). `503 storage_unavailable` when storage refuses a part (HEAD and retry). After the last byte the file is a media item with the upload's id.";

/** PATCH and its POST override share one documentation. */
const appendRoute = (method: "patch" | "post", operationId: string, summary: string, description: string) =>
  createRoute({
    method,
    path: "/{id}",
    operationId,
    tags: TAGS,
    summary,
    description,
    security: bearerSecurity,
    middleware: [requireAuth()] as const,
    request: { params: UploadId, headers: TusRequestHeaders },
    responses: {
      204: tusReply("Stored; `Upload-Offset` is the new offset"),
      ...errorResponses(400, 401, 404, 409, 410, 412, 413, 415, 503),
    },
  });

app.openapi(appendRoute("patch", "appendTusUpload", "Upload bytes (tus PATCH)", PATCH_TEXT), (c) =>
  patchUpload(c, c.req.valid("param").id),
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    operationId: "terminateTusUpload",
    tags: TAGS,
    summary: "End an upload (tus termination)",
    description: "Aborts an unfinished upload and frees its reserved bytes. A finished upload's media item stays.",
    security: bearerSecurity,
    middleware: [requireAuth()] as const,
    request: { params: UploadId, headers: TusRequestHeaders },
    responses: { 204: tusReply("Ended"), ...errorResponses(400, 401, 404, 410, 412, 503) },
  }),
  (c) => deleteUpload(c, c.req.valid("param").id),
);

app.openapi(
  appendRoute(
    "post",
    "overrideTusUpload",
    "PATCH or DELETE through POST (`X-HTTP-Method-Override`)",
    "For clients and proxies that cannot send PATCH or DELETE: the header names the method, and the request is answered as that one.",
  ),
  (c) => {
    const method = c.req.header("x-http-method-override")?.toUpperCase();
    const id = c.req.valid("param").id;
    if (method === "PATCH") return patchUpload(c, id);
    if (method === "DELETE") return deleteUpload(c, id);
    throw new AppError(400, "validation_failed", "X-HTTP-Method-Override must be PATCH or DELETE");
  },
);

async function patchUpload(c: Context<AppEnv>, id: string) {
  checkTusVersion(c.req.header("tus-resumable"));
  if (!isTusBody(c)) throw new AppError(415, "unsupported_media_type", `Content-Type must be ${TUS_CONTENT_TYPE}`);
  const offset = integerHeader("Upload-Offset", c.req.header("upload-offset"));
  const body = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() });
  const status = await appendToUpload(c.var.db, c.env, id, c.var.auth.userId, offset, body);
  c.header("Upload-Offset", String(status.offset));
  setExpires(c, status);
  return c.body(null, 204);
}

async function deleteUpload(c: Context<AppEnv>, id: string) {
  checkTusVersion(c.req.header("tus-resumable"));
  await terminateUpload(c.var.db, c.env, id, c.var.auth.userId);
  return c.body(null, 204);
}

const isTusBody = (c: Context<AppEnv>) => c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase() === TUS_CONTENT_TYPE;

function setExpires(c: Context<AppEnv>, status: UploadStatus) {
  if (!status.complete) c.header("Upload-Expires", httpDate(status.expiresAt));
}

app.openAPIRegistry.registerPath({
  method: "head",
  path: "/{id}",
  operationId: "headTusUpload",
  tags: TAGS,
  summary: "An upload's offset (tus HEAD)",
  description: "What tus clients call to resume: see getTusUploadOffset.",
  security: bearerSecurity,
  request: { params: UploadId, headers: TusRequestHeaders },
  responses: { 200: tusReply("Upload-Offset and Upload-Length"), ...errorResponses(400, 401, 404, 410, 412, 503) },
});

export default app;
