import { AppError } from "../lib/errors";
import { parseOrThrow } from "../lib/validate";
import { ClientFrame, CLOSE, MAX_FRAME_BYTES } from "./protocol";

export type FrameReading = { ok: true; frame: ClientFrame } | { ok: false; id?: string; error: AppError; close?: number };

/**
 * Read one client frame: at most 64 KiB (else close 1009), JSON text, and one of the
 * ClientFrame union. Problems come back as an error for an `error` frame, keeping the frame's
 * `id` when it had one, so the client can match it.
 */
export function readFrame(data: string | ArrayBuffer): FrameReading {
  const size = typeof data === "string" ? new TextEncoder().encode(data).byteLength : data.byteLength;
  if (size > MAX_FRAME_BYTES) {
    return { ok: false, error: new AppError(413, "frame_too_large", `Frames are limited to ${MAX_FRAME_BYTES} bytes`), close: CLOSE.tooBig };
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
    return { ok: true, frame: parseOrThrow(ClientFrame, raw) };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, id, error: err };
    throw err;
  }
}

/** The `error` frame for a problem, with the request's id when known. */
export const errorFrame = (error: AppError, id?: string) => ({
  type: "error",
  ...(id ? { id } : {}),
  code: error.code,
  message: error.message,
  ...(error.details ? { details: error.details } : {}),
});
