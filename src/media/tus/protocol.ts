import { z } from "@hono/zod-openapi";
import { AppError } from "../../lib/errors";

/**
 * The tus 1.0.0 wire protocol (https://tus.io/protocols/resumable-upload): versions, extensions,
 * headers and the `Upload-Metadata` encoding. Pure functions; the routes use them.
 */

export const TUS_VERSION = "1.0.0";
/** The extensions this server speaks, as `OPTIONS` announces them. */
export const TUS_EXTENSIONS = ["creation", "creation-with-upload", "termination", "expiration"] as const;
/** The only body type a PATCH (or a creation with upload) may have. */
export const TUS_CONTENT_TYPE = "application/offset+octet-stream";
/** Headers a browser tus client reads: CORS must expose them. */
export const TUS_RESPONSE_HEADERS = [
  "Location",
  "Tus-Resumable",
  "Tus-Version",
  "Tus-Extension",
  "Tus-Max-Size",
  "Upload-Offset",
  "Upload-Length",
  "Upload-Metadata",
  "Upload-Expires",
] as const;
/** Headers a browser tus client sends: CORS must allow them. */
export const TUS_REQUEST_HEADERS = [
  "Tus-Resumable",
  "Upload-Length",
  "Upload-Offset",
  "Upload-Metadata",
  "X-HTTP-Method-Override",
] as const;

/** Refuse a request that does not speak tus 1.0.0 (`412` with `Tus-Version`, as the protocol says). */
export function checkTusVersion(header: string | undefined): void {
  if (header === TUS_VERSION) return;
  throw new AppError(
    412,
    "unsupported_tus_version",
    header ? `Tus-Resumable ${header} is not supported; this server speaks ${TUS_VERSION}` : `Tus-Resumable: ${TUS_VERSION} is required`,
    { supported: [TUS_VERSION] },
  );
}

/** A non-negative integer header (`Upload-Length`, `Upload-Offset`): digits only, as tus requires. */
export function integerHeader(name: string, value: string | undefined): number {
  if (value === undefined) throw new AppError(400, "validation_failed", `${name} header is required`, [headerIssue(name, "required")]);
  const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new AppError(400, "validation_failed", `${name} must be a non-negative integer`, [headerIssue(name, "invalid")]);
  }
  return n;
}

const headerIssue = (name: string, code: string) => ({ path: `headers.${name.toLowerCase()}`, code, message: `${name} is ${code}` });

/** The keys this server reads from `Upload-Metadata`; others are kept and echoed but ignored. */
export interface UploadMetadata {
  filename?: string;
  filetype?: string;
  purpose?: string;
}

/**
 * Parse `Upload-Metadata`: comma-separated `key base64value` pairs (a key alone means an empty
 * value), keys unique, ASCII without spaces or commas, values standard base64 of UTF-8 text.
 */
export function parseUploadMetadata(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (header === undefined || header.trim() === "") return out;
  for (const pair of header.split(",")) {
    const [key, encoded, ...rest] = pair.trim().split(" ");
    if (!key || !/^[\x21-\x2b\x2d-\x7e]+$/.test(key) || rest.length > 0 || key in out) {
      throw metadataError(`Upload-Metadata pair '${pair.trim().slice(0, 40)}' is not 'key base64value'`);
    }
    out[key] = encoded === undefined ? "" : decodeBase64Text(encoded, key);
  }
  return out;
}

function decodeBase64Text(encoded: string, key: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) throw metadataError(`Upload-Metadata '${key}' is not base64`);
  try {
    const bytes = Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw metadataError(`Upload-Metadata '${key}' is not base64 of UTF-8 text`);
  }
}

const metadataError = (message: string) =>
  new AppError(400, "validation_failed", message, [{ path: "headers.upload-metadata", code: "invalid", message }]);

/** `Upload-Expires`: an RFC 9110 HTTP date. */
export const httpDate = (ms: number) => new Date(ms).toUTCString();

/**
 * The tus request headers, for the OpenAPI document. All optional to the validator: the routes
 * check them with the status codes tus prescribes (412 for the version, 400 for lengths and offsets).
 */
export const TusRequestHeaders = z.object({
  "tus-resumable": z.string().optional().openapi({ example: TUS_VERSION, description: "Must be 1.0.0 (except OPTIONS)" }),
  "upload-length": z.string().optional().openapi({ example: "52428800", description: "Creation: the file's size in bytes" }),
  "upload-offset": z.string().optional().openapi({ example: "0", description: "PATCH: where the body starts" }),
  "upload-metadata": z.string().optional().openapi({
    example: "filename cGhvdG8uanBn,filetype aW1hZ2UvanBlZw==,purpose YXR0YWNobWVudA==",
    description: "Creation: `key base64value` pairs; `filename`, `filetype` and `purpose` are read",
  }),
  "x-http-method-override": z.string().optional().openapi({ example: "PATCH", description: "POST acting as PATCH or DELETE" }),
});
