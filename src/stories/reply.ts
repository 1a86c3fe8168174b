import { createChat } from "../chats/service";
import type { Database } from "../db/client";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { newId } from "../lib/ids";
import { chatRoom } from "../rooms/client";
import type { Message } from "../rooms/types";
import { requireVisibleStory } from "./access";

export interface StoryReplyInput {
  text: string;
  clientMessageId?: string;
}

/**
 * Reply to a story: a text message from `viewerId` in the direct chat with the story's author,
 * carrying `storyReply: {storyId}`. The chat is found or created exactly as `POST /chats`
 * `{type: "direct"}` does (blocks refuse it, as they would any direct message; the chat is
 * un-hidden for the replier), and the message goes through the chat's room like any send:
 * rate limits apply and a retry with the same `clientMessageId` returns the stored message
 * (`duplicate`). `404 not_found` when the viewer may not see the story; replying to your own
 * story is `400 cannot_reply_to_own_story`.
 */
export async function replyToStory(
  db: Database,
  env: Pick<Bindings, "CHAT_ROOM" | "USER_HUB">,
  storyId: string,
  viewerId: string,
  input: StoryReplyInput,
): Promise<{ message: Message; duplicate: boolean }> {
  const story = await requireVisibleStory(db, storyId, viewerId);
  if (story.author_id === viewerId) throw new AppError(400, "cannot_reply_to_own_story", "You cannot reply to your own story");
  const { chat } = await createChat(db, env, viewerId, { type: "direct", memberIds: [story.author_id] });
  return chatRoom(env, chat.id).send({
    userId: viewerId,
    clientMessageId: input.clientMessageId ?? newId(),
    type: "text",
    text: input.text,
    storyReply: { storyId },
  });
}
