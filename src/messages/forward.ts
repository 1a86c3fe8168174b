import { requireChatMember } from "../chats/access";
import type { Database } from "../db/client";
import type { Bindings } from "../env";
import { AppError, notFound } from "../lib/errors";
import { chatRoom } from "../rooms/client";
import type { ForwardedFrom, GeoLocation, Message, SendableType, SendInput } from "../rooms/types";

type RoomEnv = Pick<Bindings, "CHAT_ROOM">;

/** One target's outcome: the forwarded message, or why this chat refused it. */
export type ForwardResult = { chatId: string; message: Message } | { chatId: string; error: { code: string; message: string } };

/**
 * The idempotency key of a forward: one per (source message, target chat, forwarder). The room
 * keys client ids per sender and is itself the target chat, so the source message id is enough.
 */
export const forwardClientId = (messageId: string) => `fwd:${messageId}`;

/**
 * The message to forward, as the caller sees it: they must be a member of the source chat and
 * see the message (not deleted, not hidden for them, not a system notice), else `404 not_found`
 * (a chat or message they cannot see does not exist for them). The source chat's `noForwards`
 * answers `403 forwarding_disabled`.
 */
async function forwardable(db: Database, env: RoomEnv, userId: string, chatId: string, messageId: string): Promise<Message> {
  const { chat } = await requireChatMember(db, chatId, userId);
  let message: Message;
  try {
    message = await chatRoom(env, chatId).getMessage(userId, messageId);
  } catch (err) {
    // The room may know the caller was removed a moment ago: still "nothing here" for them.
    if (err instanceof AppError && err.status === 403) throw notFound("Message");
    throw err;
  }
  if (message.deleted || message.type === "system") throw notFound("Message");
  if (chat.noForwards) throw new AppError(403, "forwarding_disabled", "Messages of this chat cannot be forwarded");
  // The server cannot re-encrypt: a client forwards an encrypted message by sending its plaintext anew.
  if (chat.encrypted) throw new AppError(403, "forwarding_disabled", "Messages of an end-to-end encrypted chat are forwarded by clients");
  return message;
}

/** A live location is forwarded as the position it had: the copy is not moved by later edits. */
function stillPosition({ liveUntil: _live, ...position }: GeoLocation): GeoLocation {
  return position;
}

/** What the room is asked to send in a target chat: the content of `message`, from `origin`. */
function forwardInput(userId: string, message: Message, origin: ForwardedFrom): SendInput {
  const input: SendInput = {
    userId,
    clientMessageId: forwardClientId(message.id),
    type: message.type as SendableType,
    text: message.text ?? undefined,
    location: message.location ? stillPosition(message.location) : undefined,
    contact: message.contact ?? undefined,
    forwardedFrom: origin,
  };
  if (message.attachments.length > 0) {
    input.attachments = message.attachments.map((a) => a.mediaId);
    input.forwardedAttachments = message.attachments;
  }
  return input;
}

/**
 * Forward a message into each of `toChatIds` (unique). The source is checked first (forwardable)
 * and refuses the whole call; then each target is sent to independently, as the room's send
 * rules decide (membership — `404 not_found` for chats the caller is not in —, frozen chats,
 * channels, sendMessages, sendMedia for media types, slow mode), and answered per target. The
 * copy keeps the type, text or caption, attachments (readable by the target's members), location,
 * contact and entities, and `forwardedFrom` names the first origin (forwarding a forward keeps
 * it). Retrying sends nothing twice: the client id is derived (forwardClientId).
 */
export async function forwardMessage(
  db: Database,
  env: RoomEnv,
  userId: string,
  source: { chatId: string; messageId: string },
  toChatIds: string[],
): Promise<ForwardResult[]> {
  const message = await forwardable(db, env, userId, source.chatId, source.messageId);
  const origin = message.forwardedFrom ?? { chatId: source.chatId, messageId: message.id, senderId: message.senderId };
  const input = forwardInput(userId, message, origin);
  return Promise.all(
    [...new Set(toChatIds)].map(async (chatId): Promise<ForwardResult> => {
      try {
        await requireChatMember(db, chatId, userId);
        const { message: sent } = await chatRoom(env, chatId).send(input);
        return { chatId, message: sent };
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        return { chatId, error: { code: err.code, message: err.message } };
      }
    }),
  );
}
