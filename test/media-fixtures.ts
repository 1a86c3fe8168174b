/** Small real files that file-type recognises, for media tests. */

const bytes = (...parts: (number[] | string)[]) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));

/** A 1×1 PNG (signature, IHDR, IDAT, IEND). */
export const PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

/** The start of a JPEG (SOI, APP0/JFIF). */
export const JPEG = bytes(
  [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10],
  "JFIF",
  [0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9],
);

/** A minimal PDF header and trailer. */
export const PDF = bytes("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");

/** An MP4 `ftyp` box (isom brand) followed by an empty `mdat`. */
export const MP4 = bytes(
  [0x00, 0x00, 0x00, 0x20],
  "ftypisom",
  [0x00, 0x00, 0x02, 0x00],
  "isomiso2avc1mp41",
  [0x00, 0x00, 0x00, 0x08],
  "mdat",
);

/** Opaque bytes of no known format. */
export const OPAQUE = bytes("just some text, not a known binary format\n");
