// argon2id inside workerd, both implementations in one isolate (bench only, never deployed):
// `GET /hash?impl=wasm|noble&m=&t=&p=&n=` derives `n` 32-byte hashes of one password with fresh
// 16-byte salts, exactly as src/auth/password.ts does (wasm) and did before it (@noble/hashes,
// synchronous), and answers `{ impl, ms }` with each derivation's time as the isolate saw it.
// Deployed, timers only advance on I/O, so there `ms` would be zeros; the bench also times
// each request from outside.
import { argon2id } from "@noble/hashes/argon2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { argon2idWasm } from "../../src/auth/argon2id-wasm";

const PASSWORD = utf8ToBytes("violet-harbor-73-lantern");
const IMPLEMENTATIONS: Record<string, (salt: Uint8Array, cost: { m: number; t: number; p: number }) => Uint8Array> = {
  wasm: (salt, cost) => argon2idWasm(PASSWORD, salt, cost, 32),
  noble: (salt, cost) => argon2id(PASSWORD, salt, { ...cost, dkLen: 32, maxmem: 2 ** 31 - 1 }),
};

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    const derive = IMPLEMENTATIONS[url.searchParams.get("impl") ?? ""];
    if (url.pathname !== "/hash" || !derive) return new Response("not found", { status: 404 });
    const num = (name: string, fallback: number) => Number(url.searchParams.get(name) ?? fallback);
    const cost = { m: num("m", 19456), t: num("t", 2), p: num("p", 1) };
    const ms: number[] = [];
    for (let i = 0; i < Math.min(num("n", 1), 20); i++) {
      const salt = crypto.getRandomValues(new Uint8Array(16));
      const started = performance.now();
      derive(salt, cost);
      ms.push(performance.now() - started);
    }
    return Response.json({ impl: url.searchParams.get("impl"), ms });
  },
} satisfies ExportedHandler;
