import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ChatRoom } from "../src/rooms/chat-room";

describe("ChatRoom Durable Object", () => {
  it("is bound, SQLite-backed and answers RPC", async () => {
    const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName("chat-room-wiring"));
    const pong = await stub.ping();
    expect(pong.ok).toBe(true);
    const usesSql = await runInDurableObject(stub, (instance: ChatRoom, state) => {
      expect(instance).toBeInstanceOf(ChatRoom);
      state.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (x INTEGER)");
      return state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM t").one().n;
    });
    expect(usesSql).toBe(0);
  });
});
