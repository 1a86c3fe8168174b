import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { chatIdsOf } from "./directory";
import type { RoomResult } from "./types";

/** The ChatRoom of a chat: one Durable Object per chat id. */
export const roomFor = (env: Pick<Bindings, "CHAT_ROOM">, chatId: string) => env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(chatId));

/** Turn a room's result back into a value, or into the AppError the room raised. */
export function unwrap<R extends RoomResult<unknown>>(result: R): Extract<R, { ok: true }>["value"] {
  if (!result.ok) {
    const { status, code, message, details } = result.error;
    throw new AppError(status as 400, code, message, details);
  }
  return result.value as Extract<R, { ok: true }>["value"];
}

/** Rooms told at once when a change must reach every chat of a user. */
const FAN_OUT = 50;

/**
 * A user turned read receipts on or off: every chat they are in follows from their next read
 * (their rooms cache the setting). O(the user's chats), for a setting that rarely changes.
 */
export async function readReceiptsChanged(env: Pick<Bindings, "CHAT_ROOM" | "DB">, userId: string, readReceipts: boolean): Promise<void> {
  const chatIds = await chatIdsOf(env.DB, userId);
  for (let i = 0; i < chatIds.length; i += FAN_OUT) {
    const results = await Promise.all(
      chatIds.slice(i, i + FAN_OUT).map((chatId) => roomFor(env, chatId).memberSettingsChanged(userId, readReceipts)),
    );
    results.forEach(unwrap);
  }
}
