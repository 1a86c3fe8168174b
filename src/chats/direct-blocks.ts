import { inArray } from "drizzle-orm";
import type { Database } from "../db/client";
import { chats } from "../db/schema";
import { chatRoom } from "../rooms/client";
import { blockState } from "../social/blocks";
import type { RoomEnv } from "./room-sync";

/**
 * The direct-chat key of two users: their ids sorted and joined, and `:e2e` for their end-to-end
 * encrypted chat (a second one beside the plain chat, as secret chats are).
 */
export const directKey = (a: string, b: string, encrypted = false) => [a, b].sort().join(":") + (encrypted ? ":e2e" : "");

/**
 * After a block or unblock between `a` and `b`, tell their direct chat (if they have one)
 * whether either side still blocks the other (their plain and their encrypted chat alike): while one does, nobody can post there
 * (`403 blocked`); history stays readable. Registered in src/app/wiring.ts as a block-change hook
 * (social/block-hooks.ts), so social never imports chats.
 */
export async function syncDirectChatBlock(env: RoomEnv, db: Database, a: string, b: string): Promise<void> {
  const rows = await db
    .select({ id: chats.id })
    .from(chats)
    .where(inArray(chats.directKey, [directKey(a, b), directKey(a, b, true)]));
  if (rows.length === 0) return;
  const state = await blockState(db, a, b);
  await Promise.all(rows.map((row) => chatRoom(env, row.id).setBlocked(state.aBlockedB || state.bBlockedA)));
}
