// What a user's hub asks of other objects when sessions end or rules change: its chats' rooms and
// the user's calls. Each call is retried or logged here, so the hub's own code reads as the steps.
import type { Bindings } from "../env";
import { chatRoom, type RoomClient } from "../rooms/client";
import { callPort } from "./call-port";

/** Call a chat's room, once more if the first call fails (a reset object); log and rethrow if both fail. */
export async function tellRoom(env: Bindings, chatId: string, call: (room: RoomClient) => Promise<unknown>): Promise<void> {
  try {
    await call(chatRoom(env, chatId));
  } catch {
    try {
      await call(chatRoom(env, chatId));
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "hub could not reach a room", chatId, error: String(err) }));
      throw err;
    }
  }
}

/** A call bound to an ended session loses that device (logged, never fatal: the session ends regardless). */
export async function leaveCalls(env: Bindings, userId: string, sessionIds: string[], wholeAccount: boolean): Promise<void> {
  try {
    await callPort()?.sessionsEnded(env, userId, sessionIds, wholeAccount);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "ended sessions could not leave their call", userId, error: String(err) }));
  }
}
