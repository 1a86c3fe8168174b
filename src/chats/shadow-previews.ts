import { and, eq, gt, inArray, isNull, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatBans } from "../db/schema";
import { AppError } from "../lib/errors";
import { now } from "../lib/time";
import { chatRoom } from "../rooms/client";
import type { ChatRow, MemberRow } from "./access";
import type { RoomEnv } from "./room-sync";

/**
 * A shadow-banned member must not notice the ban: the chat list preview D1 holds leaves their
 * messages out, so in chats where they are shadow-banned (one primary-key read for the page) the
 * preview is asked of the room as they see it. Everyone else's rows pass unchanged.
 */
export async function withOwnPreviews(
  db: Database,
  env: RoomEnv,
  userId: string,
  rows: { chat: ChatRow; member: MemberRow }[],
): Promise<{ chat: ChatRow; member: MemberRow }[]> {
  if (rows.length === 0) return rows;
  const at = now();
  const banned = await db
    .select({ chatId: chatBans.chatId })
    .from(chatBans)
    .where(
      and(
        inArray(
          chatBans.chatId,
          rows.map((r) => r.chat.id),
        ),
        eq(chatBans.userId, userId),
        eq(chatBans.shadow, true),
        or(isNull(chatBans.until), gt(chatBans.until, at)),
      ),
    );
  if (banned.length === 0) return rows;
  const ids = new Set(banned.map((b) => b.chatId));
  return Promise.all(
    rows.map(async (r) => {
      if (!ids.has(r.chat.id)) return r;
      try {
        const preview = await chatRoom(env, r.chat.id).preview(userId);
        return { ...r, chat: { ...r.chat, lastMessage: preview ? JSON.stringify(preview) : null } };
      } catch (err) {
        // Removed a moment ago (after D1 listed the chat): the stored preview will do.
        if (err instanceof AppError && (err.status === 403 || err.status === 404)) return r;
        throw err;
      }
    }),
  );
}
