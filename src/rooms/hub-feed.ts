import type { ChatPreview, HubUpdate } from "../hubs/protocol";
import type { RoomStore } from "./store";
import { previewOf } from "./summary";

/**
 * What the room tells its members' hubs after a summary flush: the chat's new last message and
 * seq, once per flush (so at most once a second however busy the chat is), and only when a
 * message was added or removed since the last time. Channels and chats over `maxMembers`
 * (HUB_FANOUT_MAX_MEMBERS, 1,000 by default) are not told per message: their subscribers' lists
 * read the chat's activity from D1 (the summary the room flushes) when they are loaded. Null:
 * nothing to tell.
 */
export function pendingActivity(store: RoomStore, chatId: string, maxMembers: number): { userIds: string[]; update: HubUpdate } | null {
  const config = store.config();
  if (!config || config.type === "channel") return null;
  const lastSeq = store.lastSeq();
  const last = store.lastVisibleMessage() ?? null;
  // What was announced: the last seq and the message shown (a delete changes the second only).
  const state = `${lastSeq}:${last?.seq ?? 0}:${last?.deleted_at ?? ""}`;
  if (store.getMeta("hubActivity") === state) return null;
  const members = store.members.all();
  if (members.length > maxMembers) return null;
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
