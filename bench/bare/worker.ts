// The floor a chat room is compared against (bench only, never deployed): one Durable Object per
// room that accepts hibernatable WebSockets, inserts each `message.send` into its SQLite and
// broadcasts the stored message to every socket with one serialization, acking the sender. No
// auth, no membership, no event log, no budgets: what the platform costs per message.
import { DurableObject } from "cloudflare:workers";

interface Env {
  BARE_ROOM: DurableObjectNamespace<BareRoom>;
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
    const match = /^\/rooms\/([\w-]{1,64})\/ws$/.exec(url.pathname);
    if (!match || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("not found", { status: 404 });
    return env.BARE_ROOM.get(env.BARE_ROOM.idFromName(match[1]!)).fetch(request);
  },
} satisfies ExportedHandler<Env>;
