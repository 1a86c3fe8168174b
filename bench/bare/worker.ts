// The floor a chat room is compared against (bench only, never deployed): one Durable Object per
// room that accepts hibernatable WebSockets, inserts each `message.send` into its SQLite and
// broadcasts the stored message to every socket with one serialization, acking the sender. No
// auth, no membership, no event log, no budgets: what the platform costs per message.
// It is also the media benchmark's R2 floor: `PUT /r2/{key}` streams the request body straight into
// R2 and `GET /r2/{key}` streams the object back; no auth, no quota, no parts, no hashing.
import { DurableObject } from "cloudflare:workers";

interface Env {
  BARE_ROOM: DurableObjectNamespace<BareRoom>;
  /** Only in bench/bare/wrangler.toml (absent when the bare room is embedded into the app's snapshot). */
  BUCKET?: R2Bucket;
}

export class BareRoom extends DurableObject<Env> {
  private seq: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, client_message_id TEXT, text TEXT, created_at INTEGER)",
    );
    this.seq = ctx.storage.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM messages").one().s ?? 0;
  }

  override async fetch(): Promise<Response> {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].send(JSON.stringify({ type: "hello", lastSeq: this.seq }));
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    if (typeof data !== "string") return;
    const frame = JSON.parse(data) as { type: string; id?: string; clientMessageId?: string; text?: string };
    if (frame.type === "ping") return ws.send(JSON.stringify({ type: "ack", id: frame.id, pong: true }));
    if (frame.type !== "message.send") return;
    const seq = ++this.seq;
    const at = Date.now();
    this.ctx.storage.sql.exec(
      "INSERT INTO messages (seq, client_message_id, text, created_at) VALUES (?, ?, ?, ?)",
      seq,
      frame.clientMessageId ?? null,
      frame.text ?? null,
      at,
    );
    const message = { seq, clientMessageId: frame.clientMessageId, text: frame.text, createdAt: new Date(at).toISOString() };
    const text = JSON.stringify({ type: "message.new", message });
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(text);
      } catch {
        // closing
      }
    }
    ws.send(JSON.stringify({ type: "ack", id: frame.id, message }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    const object = /^\/r2\/([\w.-]{1,128})$/.exec(url.pathname);
    if (object && env.BUCKET) return r2(request, env.BUCKET, object[1]!);
    const match = /^\/rooms\/([\w-]{1,64})\/ws$/.exec(url.pathname);
    if (!match || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("not found", { status: 404 });
    return env.BARE_ROOM.get(env.BARE_ROOM.idFromName(match[1]!)).fetch(request);
  },
} satisfies ExportedHandler<Env>;

/** The R2 floor: the body goes to R2 as one stream of known length, and comes back as one. */
async function r2(request: Request, bucket: R2Bucket, key: string): Promise<Response> {
  if (request.method === "PUT") {
    const length = Number(request.headers.get("content-length"));
    if (!request.body || !Number.isSafeInteger(length)) return new Response("Content-Length required", { status: 411 });
    // R2 needs the length up front: a FixedLengthStream carries it (and errors if the body is not that long).
    const fixed = new FixedLengthStream(length);
    const [, stored] = await Promise.all([request.body.pipeTo(fixed.writable), bucket.put(key, fixed.readable)]);
    return Response.json({ key, size: stored?.size ?? null }, { status: 201 });
  }
  if (request.method === "GET") {
    const stored = await bucket.get(key);
    if (!stored) return new Response("not found", { status: 404 });
    return new Response(stored.body, { headers: { "content-length": String(stored.size), "content-type": "application/octet-stream" } });
  }
  if (request.method === "DELETE") {
    await bucket.delete(key);
    return new Response(null, { status: 204 });
  }
  return new Response("method not allowed", { status: 405 });
}
