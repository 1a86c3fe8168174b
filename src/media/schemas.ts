import { z } from "@hono/zod-openapi";
import { UploadChatId } from "./chat-uploads";
import { MEDIA_PURPOSES } from "./items";

const Id = z.uuid().openapi({ example: "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a" });

export const MediaIdParam = z.object({ id: Id.openapi({ param: { name: "id", in: "path" } }) });

export const Purpose = z.enum(MEDIA_PURPOSES as ["attachment", "avatar", "story"]).openapi({
  description:
    "attachment: any type (encrypted chats send application/octet-stream). avatar: a raster image ≤ 5 MB. story: an image or video.",
});

export const UploadQuery = z.object({
  purpose: Purpose.default("attachment").openapi({ param: { name: "purpose", in: "query" } }),
  chatId: UploadChatId.optional().openapi({
    param: { name: "chatId", in: "query" },
    description:
      "The chat this attachment is for (I must be a member: else 404). Optional: its room then knows the item, and " +
      "sending it there skips a storage round trip. Grants nobody anything until a message carries it.",
  }),
});

export const UploadHeaders = z.object({
  "content-length": z
    .string()
    .optional()
    .openapi({ param: { name: "content-length", in: "header" }, description: "Required (else `411 length_required`)" }),
  "x-file-name": z
    .string()
    .max(1024)
    .optional()
    .openapi({ param: { name: "x-file-name", in: "header" }, description: "File name, percent-encoded UTF-8 (encodeURIComponent)" }),
});

/** The signed URL's query. Optional here: a missing part is a bad signature (403), not a validation error. */
export const ContentQuery = z.object({
  exp: z
    .string()
    .max(16)
    .optional()
    .openapi({ param: { name: "exp", in: "query" }, description: "Expiry, unix seconds" }),
  uid: z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name: "uid", in: "query" }, description: "The user the URL was issued to" }),
  sig: z
    .string()
    .max(128)
    .optional()
    .openapi({ param: { name: "sig", in: "query" }, description: "HMAC-SHA256, base64url" }),
});

export const Media = z
  .object({
    id: z.string(),
    mimeType: z.string().openapi({ example: "image/png" }),
    size: z.number().int(),
    sha256: z.string().openapi({ description: "Hex SHA-256 of the bytes (also the content ETag)" }),
    purpose: Purpose,
    fileName: z.string().nullable(),
    createdAt: z.string(),
    url: z.string().openapi({
      description: "Content URL signed for the caller (no bearer token needed), relative to the API origin",
      example: "/api/v1/media/01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a/content?exp=1767225600&uid=…&sig=…",
    }),
    urlExpiresAt: z.string(),
  })
  .openapi("Media");

export const MediaResponse = Media;
