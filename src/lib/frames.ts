import type { z } from "zod";
import { AppError } from "./errors";
import { parseOrThrow } from "./validate";

/** A client frame read off a socket, or why it was refused (`tooLarge`: the socket closes with 1009). */
export type FrameReading<T> = { ok: true; frame: T } | { ok: false; id?: string; error: AppError; tooLarge?: boolean };

/**
 * Read one client frame of a JSON socket protocol: at most `maxBytes` of UTF-8 (else
 * `413 frame_too_large`, `tooLarge`), JSON text, and one of `schema`. Problems come back as the
 * error for an `error` frame, keeping the frame's `id` when it had one, so the client can match it.
 */
export function readJsonFrame<T extends z.ZodType>(data: string | ArrayBuffer, schema: T, maxBytes: number): FrameReading<z.output<T>> {
  // A string's UTF-8 size is at most 3 bytes per UTF-16 unit: encode only when that could be too big.
  const size =
    typeof data !== "string" ? data.byteLength : data.length * 3 <= maxBytes ? data.length : new TextEncoder().encode(data).byteLength;
  if (size > maxBytes) {
    return { ok: false, error: new AppError(413, "frame_too_large", `Frames are limited to ${maxBytes} bytes`), tooLarge: true };
  }
  if (typeof data !== "string") return { ok: false, error: new AppError(400, "unsupported_frame", "Frames must be JSON text") };
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, error: new AppError(400, "malformed_json", "Frame is not valid JSON") };
  }
  const id = typeof (raw as { id?: unknown } | null)?.id === "string" ? (raw as { id: string }).id : undefined;
  try {
    return { ok: true, frame: parseOrThrow(schema, raw) };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, id, error: err };
    throw err;
  }
}
