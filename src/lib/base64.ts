import { z } from "@hono/zod-openapi";

/** Standard base64 with padding (RFC 4648 §4), the way libsignal clients and Signal's server write bytes. */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** How many bytes a well-formed base64 text decodes to, without decoding it. */
export function base64ByteLength(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/**
 * A field of bytes as standard base64 with padding, decoding to at least `minBytes` and at most
 * `maxBytes` bytes (checked on the text, nothing is decoded).
 */
export function base64Field(maxBytes: number, description: string, minBytes = 0) {
  return z
    .string()
    .max(Math.ceil(maxBytes / 3) * 4)
    .regex(BASE64_RE, "Must be standard base64 with padding")
    .refine((text) => base64ByteLength(text) <= maxBytes, `At most ${maxBytes} bytes`)
    .refine((text) => base64ByteLength(text) >= minBytes, `At least ${minBytes} bytes`)
    .openapi({ description });
}

/** Decode standard base64 (already checked by a base64Field). */
export const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
