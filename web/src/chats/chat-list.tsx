import { useState } from "preact/hooks";
import { client, errorText } from "../lib/client";
import { preview, shortTime } from "../lib/format";
import { link, navigate } from "../lib/router";
import { useSession } from "../lib/session";
import { FormError } from "../lib/ui";
import { Avatar } from "./avatar";
import type { Chat } from "./use-chat-list";

/** The chat list: name, last message, time, unread and mention badges; the open chat is marked current. */
export function ChatList({ chats, activeChatId, error }: { chats: Chat[] | null; activeChatId: string | null; error: string | null }) {
  const { me } = useSession();
  if (error) return <p class="error">{error}</p>;
  if (!chats)
    return (
      <p class="muted" aria-busy="true">
        Loading chats…
      </p>
    );
  if (chats.length === 0) return <p class="muted">No chats yet: start one with a username above.</p>;
  return (
    <ul class="chat-list" aria-label="Chats">
      {chats.map((chat) => {
        const name = chat.name ?? "Chat";
        const active = chat.id === activeChatId;
        // The open chat is being read: its counts are about to be cleared.
        const unread = active ? 0 : chat.unreadCount;
        const mentions = active ? 0 : chat.mentionCount;
        const mine = chat.lastMessage?.senderId === me.id;
        const label = [name, unread ? `${unread} unread` : "", mentions ? `${mentions} mentions` : ""].filter(Boolean).join(", ");
        return (
          <li key={chat.id}>
            <a
              href={`/chats/${chat.id}`}
              onClick={link}
              class={active ? "chat-item active" : "chat-item"}
              aria-current={active ? "page" : undefined}
              aria-label={label}
            >
              <Avatar name={name} mediaId={chat.peer?.avatarMediaId ?? chat.avatarMediaId} />
              <span class="chat-item-body">
                <span class="chat-item-top">
                  <span class="chat-name">{name}</span>
                  {chat.lastMessage && <time class="muted small">{shortTime(chat.lastMessage.createdAt)}</time>}
                </span>
                <span class="chat-item-bottom">
                  <span class="chat-preview">
                    {mine ? "You: " : ""}
                    {preview(chat.lastMessage)}
                  </span>
                  {mentions > 0 && (
                    <span class="badge mention" data-testid="mention-count">
                      @{mentions}
                    </span>
                  )}
                  {unread > 0 && (
                    <span class={chat.muted ? "badge muted-badge" : "badge"} data-testid="unread-count">
                      {unread}
                    </span>
                  )}
                </span>
              </span>
            </a>
          </li>
        );
      })}
    </ul>
  );
}

/** Start (or open) a direct chat with someone by username. */
export function NewChatForm({ onOpened }: { onOpened(chat: Chat): void }) {
  const [error, setError] = useState("");
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const username = String(new FormData(form).get("username")).trim().replace(/^@/, "");
    if (!username) return;
    setError("");
    try {
      const { user } = await client.api.get("/api/v1/users/by-username/{username}", { path: { username } });
      const created = await client.api.post("/api/v1/chats", { body: { type: "direct", memberIds: [user.id] } });
      onOpened(created.chat);
      form.reset();
      navigate(`/chats/${created.chat.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="new-chat" onSubmit={submit} aria-label="New chat">
      <label class="visually-hidden" for="new-chat-username">
        Username to message
      </label>
      <input id="new-chat-username" name="username" placeholder="Message a username…" autocomplete="off" required />
      <button type="submit">Start chat</button>
      <FormError text={error} />
    </form>
  );
}
