import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { chats } from "../db/schema";
import { chatRoom } from "../rooms/client";
import { blockState } from "../social/blocks";
import type { RoomEnv } from "./room-sync";

/** The direct-chat key of two users: their ids sorted and joined. */
export const directKey = (a: string, b: string) => [a, b].sort().join(":");

/**
 * After a block or unblock between `a` and `b`, tell their direct chat (if they have one)
 * whether either side still blocks the other: while one does, nobody can post there
 * (`403 blocked`); history stays readable. Registered in src/app.ts as a block-change hook
 * (social/block-hooks.ts), so social never imports chats.
 */
export async function syncDirectChatBlock(env: RoomEnv, db: Database, a: string, b: string): Promise<void> {
  const [row] = await db
    .select({ id: chats.id })
    .from(chats)
    .where(eq(chats.directKey, directKey(a, b)))
    .limit(1);
  if (!row) return;
  const state = await blockState(db, a, b);
  await chatRoom(env, row.id).setBlocked(state.aBlockedB || state.bBlockedA);
}
