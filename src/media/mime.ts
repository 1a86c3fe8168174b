import { fileTypeFromBuffer, supportedMimeTypes } from "file-type";

/**
 * Media types: what each purpose accepts and how a declared type is compared with the type the
 * leading bytes show. Detection is `file-type` (magic numbers of ~180 formats); this file only
 * says which names count as the same format.
 */

/** `type/subtype` in RFC 9110 token characters (parameters are stripped before this check). */
const MIME_RE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

/** Non-standard spellings clients send, mapped to the registered name that is stored and served. */
const CANONICAL: Record<string, string> = {
  "image/jpg": "image/jpeg",
  "image/pjpeg": "image/jpeg",
  "audio/mp3": "audio/mpeg",
  "audio/mpeg3": "audio/mpeg",
  "audio/x-mpeg-3": "audio/mpeg",
  "audio/x-wav": "audio/wav",
  "audio/wave": "audio/wav",
  "audio/vnd.wave": "audio/wav",
  "audio/x-flac": "audio/flac",
  "application/x-pdf": "application/pdf",
};

/**
 * A declared type as stored: lower case, parameters dropped, common aliases made canonical;
 * null when it is not a syntactically valid media type.
 */
export function normalizeMimeType(value: string | null | undefined): string | null {
  const essence = (value ?? "").split(";")[0]!.trim().toLowerCase();
  if (essence.length > 127 || !MIME_RE.test(essence)) return null;
  return CANONICAL[essence] ?? essence;
}

/** Raster images a profile or chat avatar may be (no SVG: it can carry script, and no type can be told from its bytes). */
export const AVATAR_TYPES: ReadonlySet<string> = new Set([
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/heic",
  "image/heif",
]);

/** Videos a story may be. */
export const STORY_VIDEO_TYPES: ReadonlySet<string> = new Set(["video/mp4", "video/quicktime", "video/webm", "video/3gpp"]);

/** Story media: an avatar-type image or a story video. */
export const STORY_TYPES: ReadonlySet<string> = new Set([...AVATAR_TYPES, ...STORY_VIDEO_TYPES]);

/** Declared types whose leading bytes are checked: images, video, audio and PDF. */
export const isCheckedType = (mime: string) => /^(image|video|audio)\//.test(mime) || mime === "application/pdf";

/** Shown inline by the content route; everything else downloads as an attachment. */
export const isInlineType = (mime: string) => /^(image|video|audio)\//.test(mime) && mime !== "image/svg+xml";

/**
 * Names of one format. A container holding only sound is still that container (an audio-only
 * WebM is detected as video/webm, an .m4a may carry an mp4 brand), and an animated PNG is a PNG.
 */
const SAME_FORMAT: readonly (readonly string[])[] = [
  ["image/png", "image/apng"],
  ["image/bmp", "image/x-bmp", "image/x-ms-bmp"],
  ["image/x-icon", "image/vnd.microsoft.icon", "image/ico"],
  ["image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"],
  ["video/mp4", "audio/mp4", "audio/x-m4a", "audio/m4a", "video/x-m4v", "audio/aac-mp4"],
  ["video/webm", "audio/webm"],
  ["video/matroska", "video/x-matroska", "audio/matroska", "audio/x-matroska"],
  ["video/ogg", "audio/ogg", "audio/opus", "application/ogg"],
  ["video/3gpp", "audio/3gpp"],
  ["video/3gpp2", "audio/3gpp2"],
  ["video/vnd.avi", "video/avi", "video/x-msvideo"],
  ["video/x-ms-asf", "audio/x-ms-asf", "video/x-ms-wmv", "audio/x-ms-wma"],
  ["audio/aiff", "audio/x-aiff"],
  ["audio/midi", "audio/x-midi", "audio/mid"],
];

const formatOf = new Map<string, readonly string[]>();
for (const group of SAME_FORMAT) for (const name of group) formatOf.set(name, group);

/** Every name of the declared type's format (just itself when it has no other). */
const namesOf = (mime: string): readonly string[] => formatOf.get(mime) ?? [mime];

/** Whether file-type can recognise this format at all, under any of its names. */
const detectable = (mime: string) => namesOf(mime).some((name) => supportedMimeTypes.has(name));

/** What file-type sees in the leading bytes, normalized like a declared type, or null. */
export async function detectMimeType(head: Uint8Array): Promise<string | null> {
  if (head.byteLength === 0) return null;
  const found = await fileTypeFromBuffer(head);
  return found ? normalizeMimeType(found.mime) : null;
}

/**
 * Whether the detected type agrees with a declared image, video, audio or PDF type. A format
 * file-type knows must be detected as that format; one it cannot tell (SVG, some audio codecs)
 * passes only while the bytes look like no known format at all, so a PNG cannot pose as one.
 */
export function sameFormat(declared: string, detected: string | null): boolean {
  if (detectable(declared)) return detected !== null && namesOf(declared).includes(detected);
  return detected === null;
}
