import { useCallback, useEffect, useState } from "preact/hooks";
import { client, errorText, type Schemas } from "../lib/client";
import { useSession } from "../lib/session";

export type Chat = Schemas["Chat"];

/** Pinned chats first, then the most recent activity first (as GET /chats orders them). */
function sortChats(chats: Chat[]): Chat[] {
  return [...chats].sort((a, b) => Number(b.pinned) - Number(a.pinned) || Date.parse(b.lastActivityAt) - Date.parse(a.lastActivityAt));
}

/**
 * My chats, kept current by the realtime socket: `chat.activity`, `chat.added` and `chat.settings`
 * re-read that one chat (exact unread and mention counts come with it), `chat.read` sets the counts
 * it carries, `chat.removed` drops it, and `reset` (too far behind to replay) reloads the list.
 */
export function useChatList(): { chats: Chat[] | null; error: string | null; refresh(): void; upsert(chat: Chat): void } {
  const { realtime } = useSession();
  const [chats, setChats] = useState<Chat[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(() => {
    client.api.get("/api/v1/chats", { query: { limit: 100 } }).then(
      (page) => {
        setChats(sortChats(page.items));
        setError(null);
      },
      (err) => setError(errorText(err)),
    );
  }, []);

  const upsert = useCallback((chat: Chat) => {
    setChats((list) => sortChats([...(list ?? []).filter((c) => c.id !== chat.id), chat]));
  }, []);

  useEffect(() => {
    refresh();
    const reread = ({ chatId }: { chatId: string }) => {
      client.api.get("/api/v1/chats/{chatId}", { path: { chatId } }).then(
        (r) => upsert(r.chat),
        () => {
          // no longer mine (left, removed): chat.removed says so too
        },
      );
    };
    const offs = [
      realtime.on("chat.activity", reread),
      realtime.on("chat.added", reread),
      realtime.on("chat.settings", reread),
      realtime.on("chat.read", ({ chatId, unread, mentions }) =>
        setChats((list) => list?.map((c) => (c.id === chatId ? { ...c, unreadCount: unread, mentionCount: mentions } : c)) ?? list),
      ),
      realtime.on("chat.removed", ({ chatId }) => setChats((list) => list?.filter((c) => c.id !== chatId) ?? list)),
      realtime.on("reset", refresh),
    ];
    return () => {
      for (const off of offs) off();
    };
  }, [realtime, refresh, upsert]);

  return { chats, error, refresh, upsert };
}
