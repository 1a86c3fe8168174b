// The search benchmark's seeding path (bench only, never deployed): server.mjs (`seedRooms`) copies
// this file into the app's snapshot, never into src/, and exports this subclass as the app's
// ChatRoom, with a bench entry routing `POST /__bench/rooms/{chatId}/seed` and
// `GET /__bench/rooms/{chatId}/sizes` to it. Messages go through the room's own
// `store.insertMessage` (so the FTS5 index is kept exactly as a send keeps it), thousands per
// transaction, without sockets, budgets, broadcasts or summaries: only the log and the index.
import { ChatRoom as AppChatRoom } from "../../src/rooms/chat-room";
import type { RoomStore } from "../../src/rooms/store";

/** One seeded message: who sent it, its text, when (ms). */
export interface SeedMessage {
  senderId: string;
  text: string;
  at: number;
}

export class ChatRoom extends AppChatRoom {
  private get benchStore(): RoomStore {
    return (this as unknown as { store: RoomStore }).store;
  }

  /** Append `messages` as text messages (one transaction); returns the room's last seq. */
  benchSeed(messages: SeedMessage[]): number {
    const store = this.benchStore;
    this.ctx.storage.transactionSync(() => {
      for (const m of messages) {
        store.insertMessage({
          id: crypto.randomUUID(),
          senderId: m.senderId,
          clientMessageId: null,
          type: "text",
          text: m.text,
          system: null,
          at: m.at,
        });
      }
    });
    return store.lastSeq();
  }

  /** The FTS5 index's own bytes (MessageIndex.sizeBytes), the whole database's, and the last seq. */
  benchSizes(): { indexBytes: number; databaseBytes: number; lastSeq: number } {
    const store = this.benchStore;
    return { indexBytes: store.index.sizeBytes(), databaseBytes: this.ctx.storage.sql.databaseSize, lastSeq: store.lastSeq() };
  }
}

/** The bench entry's extra routes; anything else goes to the app. */
export function seedRoutes(request: Request, env: { CHAT_ROOM: DurableObjectNamespace<ChatRoom> }): Promise<Response> | null {
  const m = new URL(request.url).pathname.match(/^\/__bench\/rooms\/([^/]+)\/(seed|sizes)$/);
  if (!m) return null;
  const room = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(m[1]!));
  return (async () => {
    if (m[2] === "sizes") return Response.json(await room.benchSizes());
    const messages = (await request.json()) as SeedMessage[];
    return Response.json({ lastSeq: await room.benchSeed(messages) });
  })();
}
