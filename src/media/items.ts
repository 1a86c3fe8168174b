import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type MediaRow, storageUsage } from "../db/schema";
import type { Bindings } from "../env";
import { mediaQuotaBytes } from "../lib/config";
import { AppError } from "../lib/errors";
import { iso } from "../lib/time";
import { AVATAR_TYPES, detectMimeType, isCheckedType, normalizeMimeType, STORY_TYPES, sameFormat } from "./mime";
import { signMediaUrl } from "./signed-url";

/**
 * Media items: the rules every way in shares (POST /media and the tus uploads): what a purpose
 * accepts, how large it may be, the per-user quota, file names, and the row plus its API view.
 */

type Db = Database;

export type MediaPurpose = "attachment" | "avatar" | "story";
export const MEDIA_PURPOSES: readonly MediaPurpose[] = ["attachment", "avatar", "story"];

const MiB = 1024 ** 2;
/** Largest body of a one-request upload (POST /media): 100 MB. */
export const SMALL_UPLOAD_MAX_BYTES = 100 * MiB;
/** Largest resumable (tus) upload: 2 GB. */
export const RESUMABLE_UPLOAD_MAX_BYTES = 2 * 1024 * MiB;
/** Largest avatar: 5 MB. */
export const AVATAR_MAX_BYTES = 5 * MiB;

/** The type an upload without a Content-Type is stored as (RFC 9110 §8.3: opaque bytes). */
export const OPAQUE_TYPE = "application/octet-stream";

/** R2 key for a media item id. */
export function mediaKey(id: string): string {
  return `media/${id}`;
}

/**
 * Normalize the declared type and check the purpose's rules (avatar: AVATAR_TYPES up to
 * AVATAR_MAX_BYTES; story: STORY_TYPES; attachment: any valid type, none declared meaning
 * application/octet-stream) and the route's size limit `max`. `size` may be null while unknown.
 * Throws `415 unsupported_media_type` or `413 payload_too_large` (details `{maxBytes}`); returns
 * the normalized type.
 */
export function checkUploadAllowed(
  purpose: MediaPurpose,
  declaredMime: string | null | undefined,
  size: number | null,
  max: number,
): string {
  const declared = declaredMime?.trim() ? declaredMime : OPAQUE_TYPE;
  const mime = normalizeMimeType(declared);
  if (!mime) throw new AppError(415, "unsupported_media_type", "The declared Content-Type is not a valid media type");
  if (purpose === "avatar" && !AVATAR_TYPES.has(mime)) {
    throw new AppError(415, "unsupported_media_type", "An avatar must be a JPEG, PNG, GIF, WebP, AVIF or HEIC image", {
      allowed: [...AVATAR_TYPES],
    });
  }
  if (purpose === "story" && !STORY_TYPES.has(mime)) {
    throw new AppError(415, "unsupported_media_type", "Story media must be an image or an MP4, QuickTime, WebM or 3GP video", {
      allowed: [...STORY_TYPES],
    });
  }
  const maxBytes = purpose === "avatar" ? Math.min(max, AVATAR_MAX_BYTES) : max;
  if (size !== null && size > maxBytes) {
    throw new AppError(413, "payload_too_large", `A ${purpose} may be at most ${maxBytes} bytes`, { maxBytes });
  }
  return mime;
}

/**
 * For checked types (images, video, audio, PDF) the leading bytes must be that format; throws
 * `415 media_type_mismatch` with details `{declared, detected}` (detected null: no known format).
 */
export async function checkLeadingBytes(mime: string, head: Uint8Array): Promise<void> {
  if (!isCheckedType(mime)) return;
  const detected = await detectMimeType(head);
  if (!sameFormat(mime, detected)) {
    throw new AppError(415, "media_type_mismatch", `The content is not ${mime}`, { declared: mime, detected });
  }
}

/**
 * Atomically add `bytes` to the user's storage_usage row if the total stays within the quota:
 * one conditional UPSERT, so concurrent uploads cannot both slip under it. Otherwise
 * `413 quota_exceeded` with details `{quotaBytes, usedBytes}`.
 */
export async function reserveStorage(db: Db, env: Bindings, userId: string, bytes: number): Promise<void> {
  const quotaBytes = mediaQuotaBytes(env);
  // INSERT … SELECT … WHERE: the row is created only when the first reservation fits; the
  // conflict branch adds only when the new total fits. No row returned: nothing was added.
  const added = await db.get<{ bytes: number }>(sql`
    INSERT INTO storage_usage (user_id, bytes) SELECT ${userId}, ${bytes} WHERE ${bytes} <= ${quotaBytes}
    ON CONFLICT (user_id) DO UPDATE SET bytes = storage_usage.bytes + excluded.bytes
      WHERE storage_usage.bytes + excluded.bytes <= ${quotaBytes}
    RETURNING bytes`);
  if (added) return;
  const used = await db.get<{ bytes: number }>(sql`SELECT bytes FROM storage_usage WHERE user_id = ${userId}`);
  const usedBytes = used?.bytes ?? 0;
  throw new AppError(413, "quota_exceeded", `Storage quota exceeded: ${usedBytes} of ${quotaBytes} bytes used, ${bytes} more requested`, {
    quotaBytes,
    usedBytes,
  });
}

/** The UPDATE that gives back `bytes` of a user's storage (never below 0), for use in a batch. */
function releaseStatement(db: Db, userId: string, bytes: number) {
  return db
    .update(storageUsage)
    .set({ bytes: sql`MAX(0, ${storageUsage.bytes} - ${bytes})` })
    .where(eq(storageUsage.userId, userId));
}

/** Subtract `bytes` from the user's storage usage (never below 0). */
export async function releaseStorage(db: Db, userId: string, bytes: number): Promise<void> {
  if (bytes <= 0) return;
  await releaseStatement(db, userId, bytes);
}

/** Characters never kept in a file name: controls, format characters (bidi, zero-width), line separators, quotes. */
const UNSAFE_NAME_CHARS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}"'`]/gu;
const MAX_NAME_BYTES = 255;
const utf8Length = (s: string) => new TextEncoder().encode(s).byteLength;

/** Shorten to MAX_NAME_BYTES of UTF-8 by whole code points, keeping a short extension. */
function truncateName(name: string): string {
  if (utf8Length(name) <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  const stem = [...name.slice(0, name.length - ext.length)];
  let budget = MAX_NAME_BYTES - utf8Length(ext);
  let kept = "";
  for (const ch of stem) {
    budget -= utf8Length(ch);
    if (budget < 0) break;
    kept += ch;
  }
  return kept.trimEnd() + ext;
}

/**
 * A client's file name made safe to store and put into Content-Disposition: the last path part
 * only, no control, bidi, zero-width or quote characters, NFC, trimmed, at most 255 UTF-8 bytes;
 * null when nothing (or only dots) is left.
 */
export function sanitizeFileName(name: string | null | undefined): string | null {
  if (!name) return null;
  const base = name.split(/[/\\]/).pop() ?? "";
  const cleaned = base.normalize("NFC").replace(UNSAFE_NAME_CHARS, "").replace(/\s+/gu, " ").trim();
  if (!cleaned || /^\.+$/.test(cleaned)) return null;
  return truncateName(cleaned);
}

/** A media item as the API shows it: metadata plus a content URL signed for the viewer. */
export interface MediaView {
  id: string;
  mimeType: string;
  size: number;
  sha256: string;
  purpose: MediaPurpose;
  fileName: string | null;
  createdAt: string;
  url: string;
  urlExpiresAt: string;
}

/** The API view of a row with a content URL signed for `viewerId` (who must be allowed to read it). */
export async function mediaView(env: Bindings, row: MediaRow, viewerId: string): Promise<MediaView> {
  const signed = await signMediaUrl(env, row.id, viewerId);
  return {
    id: row.id,
    mimeType: row.mimeType,
    size: row.size,
    sha256: row.sha256,
    purpose: row.purpose,
    fileName: row.fileName,
    createdAt: iso(row.createdAt),
    url: signed.url,
    urlExpiresAt: iso(signed.expiresAt),
  };
}
