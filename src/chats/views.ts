import type { z } from "@hono/zod-openapi";
import { iso, now } from "../lib/time";
import type { JsonObject } from "../rooms/types";
import type { ProfileView } from "../social/people";
import { type ChatRow, chatDefaults, type MemberRow, memberPermissions } from "./access";
import type { Chat, LastMessage, Member, Settings } from "./schemas";

type ChatView = z.infer<typeof Chat>;

/** My unread messages in a chat, and how many of them mention me. */
export interface UnreadCounts {
  count: number;
  mentions: number;
}

/** The stored preview (JSON written by the room), or null when absent or unreadable. */
function lastMessageView(raw: string | null): z.infer<typeof LastMessage> | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as z.infer<typeof LastMessage>;
  } catch {
    return null;
  }
}

/** My per-chat settings as the API shows them. */
export function settingsView(m: Pick<MemberRow, "mutedUntil" | "pinnedAt" | "archived" | "hidden">, at = now()): z.infer<typeof Settings> {
  return {
    mutedUntil: iso(m.mutedUntil),
    muted: m.mutedUntil != null && m.mutedUntil > at,
    pinned: m.pinnedAt != null,
    archived: m.archived,
    hidden: m.hidden,
  };
}

/** The other member of a direct chat, read from its key (the two user ids, sorted; then `:e2e` for an encrypted one). */
export function directPeerId(chat: Pick<ChatRow, "type" | "directKey">, me: string): string | null {
  if (chat.type !== "direct" || !chat.directKey) return null;
  return (
    chat.directKey
      .split(":")
      .slice(0, 2)
      .find((id) => id !== me) ?? null
  );
}

/**
 * A chat as one member sees it: the chat, its summary, my settings, role and permissions. Direct
 * chats take the other person's display name and carry their profile (`peer`) as I may see it.
 */
export function chatView(chat: ChatRow, me: MemberRow, unread: UnreadCounts, peer?: ProfileView): ChatView {
  return {
    id: chat.id,
    type: chat.type,
    name: peer ? peer.displayName : chat.name,
    description: chat.description,
    avatarMediaId: chat.avatarMediaId,
    isPublic: chat.isPublic,
    memberCount: chat.memberCount,
    slowModeSeconds: chat.slowModeSeconds,
    permissions: chatDefaults(chat),
    frozen: chat.frozenAt != null,
    noForwards: chat.noForwards,
    encrypted: chat.encrypted,
    messageTtlSeconds: chat.messageTtlSeconds,
    metadata: chat.metadata ? (JSON.parse(chat.metadata) as JsonObject) : null,
    createdAt: iso(chat.createdAt),
    lastMessage: lastMessageView(chat.lastMessage),
    lastSeq: chat.lastSeq,
    lastActivityAt: iso(chat.lastActivityAt),
    unreadCount: unread.count,
    mentionCount: unread.mentions,
    role: me.role,
    myPermissions: memberPermissions(chat, me),
    ...settingsView(me),
    ...(peer ? { peer } : {}),
  };
}

/** A member as the member list shows it: role, effective permissions and the profile I may see. */
export function memberView(chat: ChatRow, m: MemberRow, user: ProfileView): z.infer<typeof Member> {
  return { userId: m.userId, role: m.role, permissions: memberPermissions(chat, m), joinedAt: iso(m.joinedAt), user };
}
