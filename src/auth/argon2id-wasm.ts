// argon2id in WebAssembly: the reference C implementation (libargon2, SIMD) as built by the
// @phi-ag/argon2 package, called through the C functions that build exports. Workers may not
// compile WebAssembly from bytes at run time, so the .wasm file is imported as a module: wrangler
// (and the vitest pool) turn `import … from "….wasm"` into a WebAssembly.Module at build time.
//
// The package's own JavaScript wrapper is not used: it passes a password's UTF-16 length
// (`password.length`) as its byte length, so a non-ASCII password is cut short (8 characters of
// "ä" hash as the first 4) and passwords sharing that prefix verify against each other. Here the
// password goes in as its UTF-8 bytes with their real length, exactly like @noble/hashes.
import argon2Module from "@phi-ag/argon2/argon2.wasm";

/** The libargon2 functions the package's build exports (its EXPORTED_FUNCTIONS), plus its memory. */
interface Libargon2 {
  memory: WebAssembly.Memory;
  _initialize(): void;
  malloc(size: number): number;
  free(pointer: number): void;
  argon2_hash(
    timeCost: number,
    memoryKib: number,
    parallelism: number,
    password: number,
    passwordLength: number,
    salt: number,
    saltLength: number,
    hash: number,
    hashLength: number,
    encoded: number,
    encodedLength: number,
    type: number,
    version: number,
  ): number;
  argon2_error_message(code: number): number;
}

/** argon2id cost: memory in KiB, iterations, lanes (the PHC string's m, t and p). */
interface Argon2Cost {
  m: number;
  t: number;
  p: number;
}

const ARGON2ID = 2; // argon2_type Argon2_id
const VERSION_13 = 0x13; // v=19

let instance: Libargon2 | null = null;

/**
 * The isolate's one instance, made on first use. Instantiating a compiled module is synchronous
 * and cheap, so no promise is shared between requests. Its memory grows to what the largest hash
 * needed (19 MiB at production cost) and stays: WebAssembly memory never shrinks.
 */
function libargon2(): Libargon2 {
  if (!instance) {
    const exports = new WebAssembly.Instance(argon2Module, {}).exports as unknown as Libargon2;
    exports._initialize();
    instance = exports;
  }
  return instance;
}

/** Copy `bytes` into the instance's memory; returns the pointer (malloc'd, at least 1 byte). */
function copyIn(lib: Libargon2, bytes: Uint8Array): number {
  const pointer = lib.malloc(Math.max(bytes.length, 1));
  if (!pointer) throw new Error("argon2id: out of WebAssembly memory");
  new Uint8Array(lib.memory.buffer, pointer, bytes.length).set(bytes); // view after malloc: growth replaces the buffer
  return pointer;
}

/** Zero `length` bytes at `pointer` and free them, so no password stays behind in the heap. */
function wipeAndFree(lib: Libargon2, pointer: number, length: number): void {
  if (!pointer) return;
  new Uint8Array(lib.memory.buffer, pointer, length).fill(0);
  lib.free(pointer);
}

function errorMessage(lib: Libargon2, code: number): string {
  const heap = new Uint8Array(lib.memory.buffer);
  const start = lib.argon2_error_message(code);
  let end = start;
  while (heap[end]) end++;
  return new TextDecoder().decode(heap.subarray(start, end));
}

/**
 * Derive an argon2id (v1.3) hash of `hashLength` bytes, synchronously, in the isolate's
 * WebAssembly instance. Same inputs, same bytes as @noble/hashes' `argon2id`. Throws on invalid
 * parameters (libargon2's own checks: salt ≥ 8 bytes, m ≥ 8·p KiB, t ≥ 1) or when memory runs out.
 */
export function argon2idWasm(password: Uint8Array, salt: Uint8Array, cost: Argon2Cost, hashLength: number): Uint8Array {
  const lib = libargon2();
  let passwordPointer = 0;
  let saltPointer = 0;
  let hashPointer = 0;
  try {
    passwordPointer = copyIn(lib, password);
    saltPointer = copyIn(lib, salt);
    hashPointer = copyIn(lib, new Uint8Array(hashLength));
    const code = lib.argon2_hash(
      cost.t,
      cost.m,
      cost.p,
      passwordPointer,
      password.length,
      saltPointer,
      salt.length,
      hashPointer,
      hashLength,
      0, // no encoded string: the caller writes the PHC string itself
      0,
      ARGON2ID,
      VERSION_13,
    );
    if (code !== 0) throw new Error(`argon2id: ${errorMessage(lib, code)}`);
    return new Uint8Array(lib.memory.buffer, hashPointer, hashLength).slice();
  } catch (err) {
    // A trap can leave the allocator half-way through a change: start over with a new instance.
    if (err instanceof WebAssembly.RuntimeError) instance = null;
    throw err;
  } finally {
    if (instance === lib) {
      wipeAndFree(lib, passwordPointer, password.length);
      wipeAndFree(lib, saltPointer, salt.length);
      wipeAndFree(lib, hashPointer, hashLength);
    }
  }
}
