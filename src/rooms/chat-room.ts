import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";

/**
 * One per chat (SQLite-backed): will own the chat's ordered message log and live sockets.
 * For now it only answers a health RPC so the binding, migration and class are wired end to end.
 */
export class ChatRoom extends DurableObject<Bindings> {
  /** Round trip used by tests and readiness tooling: proves the object and its storage work. */
  async ping(): Promise<{ ok: true; sqlTables: number }> {
    const row = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master").one();
    return { ok: true, sqlTables: row.n };
  }

  override async fetch(): Promise<Response> {
    return new Response(JSON.stringify({ error: { code: "not_implemented", message: "Chat sockets are not available yet" } }), {
      status: 501,
      headers: { "content-type": "application/json" },
    });
  }
}
