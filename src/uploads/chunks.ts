/** Byte chunks: joining them, and cutting a run of them at a byte count. */

/** One array of all `chunks` (no copy for a single chunk). */
export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The first `bytes` of `chunks`, and the rest. */
export function split(chunks: Uint8Array[], bytes: number): [Uint8Array[], Uint8Array[]] {
  const first: Uint8Array[] = [];
  let need = bytes;
  let i = 0;
  for (; i < chunks.length && need > 0; i++) {
    const c = chunks[i]!;
    if (c.byteLength <= need) {
      first.push(c);
      need -= c.byteLength;
    } else {
      first.push(c.subarray(0, need));
      return [first, [c.subarray(need), ...chunks.slice(i + 1)]];
    }
  }
  return [first, chunks.slice(i)];
}
