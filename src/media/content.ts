import type { MediaRow } from "../db/schema";
import type { Bindings } from "../env";
import { AppError, notFound } from "../lib/errors";
import { isInlineType } from "./mime";

/**
 * Serving an item's bytes: one byte range (206), conditional requests on the SHA-256 ETag (304),
 * a Content-Disposition that downloads anything not shown inline, and private caching until the
 * signed URL expires. Everything not an image, video or audio is sandboxed in case a browser
 * renders it anyway.
 */

/** A satisfiable byte range: first byte and length. */
export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * The one range a `Range` header asks for (RFC 9110 §14.2), or null to serve the whole item (no
 * header, a unit other than bytes, several ranges, or syntax we ignore as the RFC allows).
 * Unsatisfiable ranges are `416 range_not_satisfiable` with `Content-Range: bytes *\/size`.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === "" && match[2] === "")) return null;
  const unsatisfiable = () =>
    new AppError(416, "range_not_satisfiable", `The item has ${size} bytes`, { size }, { "Content-Range": `bytes */${size}` });
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const first = Number(match[1]);
  const last = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== "" && Number(match[2]) < first) return null; // invalid: ignored
  if (first >= size) throw unsatisfiable();
  return { offset: first, length: last - first + 1 };
}

/** Whether an If-None-Match header matches the ETag (weak comparison, `*` included). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t.replace(/^W\//, "") === etag;
  });
}

/** RFC 6266 Content-Disposition: an ASCII fallback name plus the exact name as RFC 8187 `filename*`. */
export function contentDisposition(type: "inline" | "attachment", fileName: string | null): string {
  if (!fileName) return type;
  const fallback = fileName.replace(/[^\x20-\x7e]|[\\"%]/g, "_");
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * The response for GET …/content: 304 when If-None-Match has the ETag, 206 for a range, else
 * 200 with the whole item. `expiresAt` (ms) bounds how long it may be cached.
 */
export async function serveMediaContent(
  env: Bindings,
  item: MediaRow,
  headers: { range?: string; ifNoneMatch?: string; ifRange?: string },
  expiresAt: number,
  at: number,
): Promise<Response> {
  const etag = `"${item.sha256}"`;
  const inline = isInlineType(item.mimeType);
  const common = new Headers({
    ETag: etag,
    "Cache-Control": `private, max-age=${Math.max(0, Math.floor((expiresAt - at) / 1000))}`,
    "X-Content-Type-Options": "nosniff",
    "Accept-Ranges": "bytes",
  });
  if (matchesEtag(headers.ifNoneMatch, etag)) return new Response(null, { status: 304, headers: common });

  // If-Range with another validator: the client's partial copy is stale, so send everything.
  const rangeHeader = headers.ifRange && headers.ifRange !== etag ? undefined : headers.range;
  const range = parseRange(rangeHeader, item.size);
  const object = await env.MEDIA.get(item.r2Key, range ? { range } : {});
  if (!object) throw notFound("Media");

  common.set("Content-Type", item.mimeType);
  common.set("Content-Disposition", contentDisposition(inline ? "inline" : "attachment", item.fileName));
  if (!inline) common.set("Content-Security-Policy", "sandbox");
  if (!range) {
    common.set("Content-Length", String(item.size));
    return new Response(object.body, { status: 200, headers: common });
  }
  common.set("Content-Length", String(range.length));
  common.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${item.size}`);
  return new Response(object.body, { status: 206, headers: common });
}
