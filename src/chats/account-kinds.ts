import type { Database } from "../db/client";
import type { ChatRow, UserRow } from "../db/schema";
import { AppError } from "../lib/errors";
import { chatRoom } from "../rooms/client";
import { findUser } from "../social/people";
import type { RoomEnv } from "./room-sync";

/**
 * What an account's kind keeps it from doing with chats. Guests (users.kind) use chats like anyone
 * but cannot put up anything public: no channels, no public groups, at creation or later. Bots
 * cannot start a conversation: they open a direct chat only with someone who wrote to them first.
 */

const guestRefused = (what: string) =>
  new AppError(403, "guest_not_allowed", `Guests cannot ${what}; set a password or verify an email or phone first`);

/** `403 guest_not_allowed` when a guest creates a channel or a public group. */
export function assertKindMayCreate(actor: Pick<UserRow, "kind">, input: { type: string; isPublic?: boolean }): void {
  if (actor.kind !== "guest") return;
  if (input.type === "channel") throw guestRefused("create channels");
  if (input.isPublic) throw guestRefused("create public groups");
}

/** `403 guest_not_allowed` when a guest (an admin of the group) makes a group public. Reads the actor only then. */
export async function assertKindMayPublish(db: Database, actorId: string, isPublic: boolean | undefined): Promise<void> {
  if (isPublic !== true) return;
  const actor = await findUser(db, actorId);
  if (actor?.kind === "guest") throw guestRefused("make a group public");
}

/**
 * `403 bot_cannot_initiate` unless `userId` has sent the bot a message in `chat`, the direct chat
 * the bot is opening (undefined: it does not exist, so nobody wrote in it). The cheapest check that
 * is right: the chat's summary row, already read, names the sender of its last message, which
 * settles the common case (the person wrote last) with no further read; otherwise the chat's room
 * answers from its own log (one index probe, hasSent). Read positions would not do: reading the
 * chat's `created` notice moves them without writing anything.
 */
export async function assertBotMayOpen(env: RoomEnv, chat: ChatRow | undefined, userId: string): Promise<void> {
  const refused = () => new AppError(403, "bot_cannot_initiate", "A bot can open a direct chat only with someone who has messaged it");
  if (!chat) throw refused();
  if (lastSenderId(chat) === userId) return;
  if (!(await chatRoom(env, chat.id).hasSent(userId))) throw refused();
}

/** The sender of the chat's last message per its summary row (JSON `{senderId, …}`), or null. */
function lastSenderId(chat: Pick<ChatRow, "lastMessage">): string | null {
  if (!chat.lastMessage) return null;
  try {
    return (JSON.parse(chat.lastMessage) as { senderId?: string | null }).senderId ?? null;
  } catch {
    return null;
  }
}
