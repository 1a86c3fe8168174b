// Room WebSocket clients for the benchmarks (the `ws` package): open a chat's socket and wait for
// its `hello`, and read the few fields the benchmarks need from server frames by string search
// instead of JSON.parse, so one Node process can take tens of thousands of frames a second.
import WebSocket from "ws";
import { nextIp } from "./lib.mjs";

const OPEN_TIMEOUT_MS = 30_000;

/** The socket URL of a chat (`?access_token=`, as browsers do). */
export const socketUrl = (baseUrl, chatId, token) =>
  `${baseUrl.replace(/^http/, "ws")}/api/v1/chats/${chatId}/ws?access_token=${encodeURIComponent(token)}`;

/**
 * Open a socket and resolve with `{ ws, hello }` once the room's `hello` frame arrived. Rejects
 * with the HTTP status and body if the upgrade is refused, or after 30 s. `onFrame(text, at)` is
 * attached before the hello, so nothing is missed.
 */
export function openSocket(url, onFrame = () => {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: OPEN_TIMEOUT_MS,
      headers: { "cf-connecting-ip": nextIp() },
    });
    let hello = null;
    const timer = setTimeout(() => fail(new Error(`no hello within ${OPEN_TIMEOUT_MS / 1000} s`)), OPEN_TIMEOUT_MS);
    const fail = (err) => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => fail(new Error(`upgrade refused: HTTP ${res.statusCode} ${body.slice(0, 200)}`)));
    });
    ws.on("error", (err) => {
      if (!hello) fail(err);
    });
    ws.on("close", (code) => {
      if (!hello) fail(new Error(`closed before hello (code ${code})`));
    });
    ws.on("message", (data) => {
      const at = performance.now();
      for (const text of unbatch(data.toString())) onText(text, at);
    });
    const onText = (text, at) => {
      if (!hello) {
        if (!text.startsWith('{"type":"hello"')) return fail(new Error(`expected hello, got ${text.slice(0, 120)}`));
        hello = JSON.parse(text);
        clearTimeout(timer);
        resolve({ ws, hello });
        return;
      }
      onFrame(text, at);
    };
  });
}

/**
 * Close sockets: send a Close frame, give the server `waitMs` to answer with its own, then drop
 * the connection. Returns `{ clean, forced, lastMs }`: how many got the server's Close frame in time,
 * and when the last of those arrived (ms after the first Close was sent).
 */
export async function closeAll(sockets, waitMs = 1000) {
  let clean = 0;
  let forced = 0;
  let lastMs = 0;
  const started = performance.now();
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          let timedOut = false;
          const timer = setTimeout(() => {
            timedOut = true;
            forced++;
            ws.terminate();
            resolve();
          }, waitMs);
          ws.once("close", (code) => {
            clearTimeout(timer);
            // Counted once: a socket already given up on is not clean when a late Close arrives.
            if (!timedOut && code !== 1006) {
              clean++;
              lastMs = Math.max(lastMs, performance.now() - started);
            }
            resolve();
          });
          ws.close(1000, "bench done");
        }),
    ),
  );
  return { clean, forced, lastMs };
}

/**
 * The frames in one socket message: the room sends several at once as
 * `{"type":"batch","frames":[…]}` under burst (src/rooms/outbox.ts); anything else is one frame.
 */
export function unbatch(text) {
  if (!text.startsWith('{"type":"batch"')) return [text];
  return JSON.parse(text).frames.map((f) => JSON.stringify(f));
}

/** The frame's kind: "message.new", "receipt", "ack", "error", "presence", … (from its first keys). */
export function frameType(text) {
  // Events are {"eventSeq":n,"type":"…"; other frames start with {"type":"…".
  const at = text.indexOf('"type":"');
  if (at < 0 || at > 40) return "unknown";
  const start = at + 8;
  return text.slice(start, text.indexOf('"', start));
}

/** A string field's value (`"name":"value"`, first occurrence), or null. */
export function stringField(text, name, from = 0) {
  const key = `"${name}":"`;
  const at = text.indexOf(key, from);
  if (at < 0) return null;
  const start = at + key.length;
  return text.slice(start, text.indexOf('"', start));
}

/** A number field's value (`"name":123`, first occurrence), or NaN. */
export function numberField(text, name, from = 0) {
  const key = `"${name}":`;
  const at = text.indexOf(key, from);
  if (at < 0) return NaN;
  let end = at + key.length;
  while (end < text.length && ((text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) || text[end] === "-")) end++;
  return Number(text.slice(at + key.length, end));
}

/**
 * Per-member send budget in one room, mirroring src/rooms/send-limiter.ts (burst 60, 1/s), so
 * senders are chosen that the room will not refuse. The server counts from when it handles a
 * frame, a little after we send it, so it always has at least the tokens we think it has.
 */
export class SendBudget {
  static BURST = 60;
  static PER_SECOND = 1;
  #buckets = new Map();

  tokens(userId, at = performance.now()) {
    const b = this.#buckets.get(userId);
    if (!b) return SendBudget.BURST;
    return Math.min(SendBudget.BURST, b.tokens + ((at - b.at) / 1000) * SendBudget.PER_SECOND);
  }

  /** Take one token if there is one (with a small safety margin); returns whether it did. */
  take(userId, at = performance.now()) {
    const tokens = this.tokens(userId, at);
    if (tokens < 1.05) return false;
    this.#buckets.set(userId, { tokens: tokens - 1, at });
    return true;
  }
}
