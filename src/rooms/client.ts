import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
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
