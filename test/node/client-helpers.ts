import { WebSocket as WsWebSocket } from "ws";
import {
  type ClientOptions,
  createClient,
  type FetchLike,
  type MessengerClient,
  memoryTokenStorage,
  type TokenStorage,
} from "../../client";
import { PASSWORD } from "./api";

/** Fast reconnects for tests: the backoff's ceiling starts at 50 ms and stays under 300 ms. */
export const FAST_BACKOFF = { initialDelayMs: 50, maxDelayMs: 300 };

/**
 * Global fetch from a fresh client address per request (per-IP rate limits, as test/node/api.ts),
 * counting requests by method and path (`count("POST /api/v1/auth/refresh")`).
 */
export function countingFetch(ipPrefix: string) {
  let counter = 0;
  const counts = new Map<string, number>();
  const fetchImpl: FetchLike = (input, init = {}) => {
    const key = `${(init.method ?? "GET").toUpperCase()} ${new URL(input).pathname}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const headers = new Headers(init.headers);
    headers.set("cf-connecting-ip", `${ipPrefix}${(++counter).toString(16)}`);
    return fetch(input, { ...init, headers });
  };
  return { fetch: fetchImpl, count: (key: string) => counts.get(key) ?? 0 };
}

/**
 * A network between the client and the server that tests can cut: `WebSocket` (for createClient)
 * opens real `ws` sockets while `offline` is false and fails at once while it is true; `dropAll`
 * kills the open ones without a close handshake (as a lost connection); `filter` may swallow
 * server frames before the client sees them (an answer lost on the way).
 */
export function testNetwork() {
  const open = new Set<WsWebSocket>();
  const network = {
    offline: false,
    /** Return false to swallow a server frame (its raw text). */
    filter: null as ((text: string) => boolean) | null,
    /** Sockets opened so far (attempts while offline included). */
    attempts: 0,
    dropAll() {
      for (const ws of open) ws.terminate();
      open.clear();
    },
    WebSocket: class TestWebSocket {
      readyState = 0;
      onopen: ((event: unknown) => void) | null = null;
      onmessage: ((event: { data: unknown }) => void) | null = null;
      onclose: ((event: { code: number; reason: string }) => void) | null = null;
      onerror: ((event: unknown) => void) | null = null;
      private readonly inner: WsWebSocket | null = null;

      constructor(url: string) {
        network.attempts++;
        if (network.offline) {
          setTimeout(() => {
            this.readyState = 3;
            this.onerror?.({});
            this.onclose?.({ code: 1006, reason: "network is offline" });
          }, 5);
          return;
        }
        const ws = new WsWebSocket(url);
        this.inner = ws;
        open.add(ws);
        let closed = false;
        const reportClose = (code: number, reason: string) => {
          if (closed) return;
          closed = true;
          open.delete(ws);
          this.readyState = 3;
          this.onclose?.({ code, reason });
        };
        ws.on("open", () => {
          this.readyState = 1;
          // wrangler dev leaves the TCP connection open after a close handshake the server started,
          // and \`ws\` waits 30 s for it to end before its close event: report the server's close as
          // soon as its close frame arrives (through ws's receiver), as a browser would.
          (ws as unknown as { _receiver?: NodeJS.EventEmitter })._receiver?.on("conclude", (code: number, reason: Buffer) => {
            reportClose(code, reason.toString());
            ws.terminate();
          });
          this.onopen?.({});
        });
        ws.on("message", (data, isBinary) => {
          const text = isBinary ? data : data.toString();
          if (typeof text === "string" && network.filter && !network.filter(text)) return;
          this.onmessage?.({ data: text });
        });
        ws.on("error", () => this.onerror?.({}));
        ws.on("close", (code, reason) => reportClose(code, reason.toString()));
      }

      send(data: string) {
        this.inner?.send(data);
      }

      close(code?: number, reason?: string) {
        this.inner?.close(code, reason);
      }
    },
  };
  return network;
}

let clients = 0;

/** A signed-up account's client (fresh storage, counting fetch): `register` with a unique username. */
export async function signedUpClient(
  baseUrl: string,
  label: string,
  extra: Partial<ClientOptions> = {},
): Promise<{ client: MessengerClient; storage: TokenStorage; user: { id: string; username: string }; count: (key: string) => number }> {
  const storage = memoryTokenStorage();
  const { fetch, count } = countingFetch(`2001:db8:c1:${(++clients).toString(16)}::`);
  const client = createClient({ baseUrl, storage, fetch, WebSocket: testNetwork().WebSocket, backoff: FAST_BACKOFF, ...extra });
  const username = uniqueName(label);
  const { user } = await client.auth.register({ username, password: PASSWORD, displayName: label });
  return { client, storage, user, count };
}

/** A username no other test uses. */
export const uniqueName = (label: string) => `cl_${label}_${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;

/** Resolves once `check()` is true (checked every 20 ms), or fails after `timeoutMs` with `what`. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
