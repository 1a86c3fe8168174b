import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import type { Database } from "../db/client";
import { users } from "../db/schema";
import type { AppEnv } from "../env";
import { notFound } from "../lib/errors";
import { bearerSecurity, errorResponses, json, newRouter, noContent, publicSecurity } from "../lib/openapi";
import { now } from "../lib/time";
import { canReadMedia, requireReadableMedia } from "./access";
import { serveMediaContent } from "./content";
import { mediaView } from "./items";
import * as s from "./schemas";
import { deleteOwnMedia } from "./service";
import { verifyMediaSignature } from "./signed-url";
import { storeSmallUpload } from "./upload";

const tags = ["Media"];

/**
 * The media routes, mounted at /api/v1/media. `auth` is the bearer-token middleware: auth sits
 * above media (README, Layers), so the composition root passes it in. The content route takes
 * no token: its signed URL is the credential.
 */
export function mediaRoutes(auth: MiddlewareHandler<AppEnv>) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: "post",
      path: "/",
      operationId: "uploadMedia",
      tags,
      summary: "Upload a file (raw body, up to 100 MB)",
      description:
        "The body is the file itself, sent with its `Content-Type` (none: `application/octet-stream`) and a `Content-Length`. " +
        "Images, video, audio and PDF must be what they claim (`415 media_type_mismatch`). The size counts toward the " +
        "caller's storage quota (`413 quota_exceeded`, details `{quotaBytes, usedBytes}`). An attachment not sent in a " +
        "message within 24 hours is deleted. `chatId` names the chat an attachment is for (a member's only: else 404), " +
        "which makes sending it there faster. Larger files: the resumable tus endpoint at /api/v1/media/uploads.",
      security: bearerSecurity,
      middleware: [auth] as const,
      request: {
        query: s.UploadQuery,
        headers: s.UploadHeaders,
        body: { required: true, content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } } },
      },
      responses: { 201: json(s.MediaResponse, "Stored"), ...errorResponses(400, 401, 404, 411, 413, 415, 503) },
    }),
    async (c) => {
      const { purpose, chatId } = c.req.valid("query");
      const item = await storeSmallUpload(c.var.db, c.env, {
        ownerId: c.var.auth.userId,
        purpose,
        chatId,
        contentType: c.req.header("content-type"),
        fileNameHeader: c.req.header("x-file-name"),
        contentLength: c.req.header("content-length"),
        body: c.req.raw.body,
      });
      return c.json(item, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      operationId: "getMedia",
      tags,
      summary: "An item's metadata and a signed content URL",
      description:
        "Readable by its owner; avatars by anyone signed in; attachments by the members of a chat where a message " +
        "references it; story media by the story's audience. Anyone else: 404. `url` is signed for the caller and " +
        "expires at `urlExpiresAt` (15 minutes by default).",
      security: bearerSecurity,
      middleware: [auth] as const,
      request: { params: s.MediaIdParam },
      responses: { 200: json(s.MediaResponse), ...errorResponses(400, 401, 404, 503) },
    }),
    async (c) => {
      const viewerId = c.var.auth.userId;
      const item = await requireReadableMedia(c.env, c.var.db, c.req.valid("param").id, viewerId);
      return c.json(await mediaView(c.env, item, viewerId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/{id}/content",
      operationId: "getMediaContent",
      tags,
      summary: "An item's bytes, through a signed URL",
      description:
        "No bearer token: the URL from GET /media/{id} is the credential. A wrong, expired or someone else's signature " +
        "is `403 invalid_signature`; a signer who may no longer read the item gets 404. Supports one `Range` (206, " +
        "416 when unsatisfiable), `If-None-Match` on the SHA-256 ETag (304) and `If-Range`. Images, video and audio " +
        "are served inline, everything else as a sandboxed download.",
      security: publicSecurity,
      request: { params: s.MediaIdParam, query: s.ContentQuery },
      responses: {
        200: { description: "The bytes", content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } } },
        206: { description: "The requested range", content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } } },
        304: { description: "Not modified (If-None-Match matched the ETag)" },
        ...errorResponses(400, 403, 404, 416, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const at = now();
      const { userId, exp } = await verifyMediaSignature(c.env, id, c.req.valid("query"), at);
      const [item] = await c.var.db.query.media.findMany({ where: (m, { eq }) => eq(m.id, id), limit: 1 });
      // The URL carries its signer's rights: a suspended, banned or erased account's URLs stop at once.
      if (!item || !(await signerActive(c.var.db, userId)) || !(await canReadMedia(c.env, c.var.db, item, userId))) throw notFound("Media");
      const headers = { range: c.req.header("range"), ifNoneMatch: c.req.header("if-none-match"), ifRange: c.req.header("if-range") };
      // biome-ignore lint/suspicious/noExplicitAny: a streamed body is not one of the typed JSON responses.
      return (await serveMediaContent(c.env, item, headers, exp * 1000, at)) as any;
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      operationId: "deleteMedia",
      tags,
      summary: "Delete my unattached item",
      description:
        "Owner only (others: 404). Goes at once, and its bytes leave the quota. Attached to a message: " +
        "`409 media_attached` (it is deleted with its messages). The avatar of my profile or of a chat I am in: " +
        "`409 media_in_use` (change that avatar first).",
      security: bearerSecurity,
      middleware: [auth] as const,
      request: { params: s.MediaIdParam },
      responses: { ...noContent, ...errorResponses(400, 401, 404, 409, 503) },
    }),
    async (c) => {
      await deleteOwnMedia(c.var.db, c.env, c.req.valid("param").id, c.var.auth.userId);
      return c.body(null, 204);
    },
  );

  return app;
}

/** Whether the account a content URL was signed for may still use it (one primary-key read). */
async function signerActive(db: Database, userId: string): Promise<boolean> {
  const row = await db.select({ status: users.status }).from(users).where(eq(users.id, userId)).get();
  return row?.status === "active";
}
