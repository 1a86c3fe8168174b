import type { ChatPreview, HubUpdate } from "../hubs/protocol";
import type { RoomStore } from "./store";
import { previewOf } from "./summary";

/** Chats with more members than this do not tell every member's hub of each message (channels never do). */
export const HUB_FANOUT_MAX_MEMBERS = 1000;

/**
 * What the room tells its members' hubs after a summary flush: the chat's new last message and
 * seq, once per flush (so at most once a second however busy the chat is), and only when a
 * message was added or removed since the last time. Channels and chats over
 * HUB_FANOUT_MAX_MEMBERS are not told per message: their subscribers' lists read the chat's
 * activity from D1 (the summary the room flushes) when they are loaded. Null: nothing to tell.
 */
export function pendingActivity(store: RoomStore, chatId: string): { userIds: string[]; update: HubUpdate } | null {
  const config = store.config();
  if (!config || config.type === "channel") return null;
  const lastSeq = store.lastSeq();
  const last = store.lastVisibleMessage() ?? null;
  // What was announced: the last seq and the message shown (a delete changes the second only).
  const state = `${lastSeq}:${last?.seq ?? 0}:${last?.deleted_at ?? ""}`;
  if (store.getMeta("hubActivity") === state) return null;
  const members = store.members.all();
  if (members.length > HUB_FANOUT_MAX_MEMBERS) return null;
  store.setMeta("hubActivity", state);
  const update: HubUpdate = {
    type: "chat.activity",
    chatId,
    lastSeq,
    lastMessage: previewOf(last) as ChatPreview | null,
    lastActivityAt: new Date(last?.created_at ?? Date.now()).toISOString(),
  };
  return { userIds: members.map((m) => m.userId), update };
}
