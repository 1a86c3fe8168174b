import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { Message } from "../../../client";
import { Avatar } from "../chats/avatar";
import type { Chat } from "../chats/use-chat-list";
import { client } from "../lib/client";
import { ago } from "../lib/format";
import { link } from "../lib/router";
import { useSession } from "../lib/session";
import { Composer } from "./composer";
import { MessageItem } from "./message-item";
import { useChat } from "./use-chat";

/** Names of the chat's members by id (for senders and typing), and the chat itself. */
function useChatInfo(chatId: string, listed: Chat | undefined) {
  const [chat, setChat] = useState<Chat | undefined>(listed);
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    client.api.get("/api/v1/chats/{chatId}", { path: { chatId } }).then(
      (r) => setChat(r.chat),
      () => {},
    );
    client.api.get("/api/v1/chats/{chatId}/members", { path: { chatId }, query: { limit: 100 } }).then(
      (page) => setNames(Object.fromEntries(page.items.map((m) => [m.userId, m.user.displayName || m.user.username]))),
      () => {},
    );
  }, [chatId]);
  return { chat: chat ?? listed, names };
}

/** A chat: its history (older pages on scroll), live messages, typing, read state, replies, reactions, edits, deletes, images. */
export function ChatView({ chatId, listed }: { chatId: string; listed: Chat | undefined }) {
  const { me } = useSession();
  const view = useChat(chatId);
  const { chat, names } = useChatInfo(chatId, listed);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const pinnedToBottom = useRef(true);
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const sentRead = useRef(0);

  // Focus the chat's heading when it opens (screen readers hear which chat this is).
  useEffect(() => heading.current?.focus(), [chatId]);

  // Keep the view at the bottom for new messages, and in place when an older page is prepended.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (anchor.current) {
      el.scrollTop = anchor.current.top + (el.scrollHeight - anchor.current.height);
      anchor.current = null;
    } else if (pinnedToBottom.current) el.scrollTop = el.scrollHeight;
  }, [view.messages, view.pending, view.typing]);

  // Mark what is shown as read while the page is visible.
  const [visible, setVisible] = useState(document.visibilityState === "visible");
  useEffect(() => {
    const update = () => setVisible(document.visibilityState === "visible");
    document.addEventListener("visibilitychange", update);
    return () => document.removeEventListener("visibilitychange", update);
  }, []);
  const lastSeq = view.messages.at(-1)?.seq ?? 0;
  const [readRetry, setReadRetry] = useState(0);
  useEffect(() => {
    if (!view.ready || !visible || lastSeq <= sentRead.current) return;
    sentRead.current = lastSeq;
    view.socket.markRead(lastSeq).catch(() => {
      // Lost with the connection (or refused): try again a moment later.
      sentRead.current = 0;
      setTimeout(() => setReadRetry((n) => n + 1), 1000);
    });
  }, [view.ready, visible, lastSeq, view.socket, readRetry]);

  const loadOlder = async () => {
    const el = scroller.current;
    if (el) anchor.current = { height: el.scrollHeight, top: el.scrollTop };
    await view.loadOlder();
  };
  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    pinnedToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 60 && view.hasOlder && !anchor.current) void loadOlder();
  };

  const name = chat?.name ?? "Chat";
  const group = chat?.type !== "direct";
  const typingNames = view.typing.map((id) => names[id] ?? "Someone");
  const byId = new Map(view.messages.map((m) => [m.id, m]));
  // Sending moves the sender's read position to their message without a receipt event (the
  // server's rule), so a message from someone else also says they read everything before it.
  const readSeq = view.messages.reduce((seq, m) => (m.senderId && m.senderId !== me.id ? Math.max(seq, m.seq) : seq), view.readSeq);
  const peer = chat?.peer;
  const presence = peer?.online ? "online" : peer?.lastSeenAt ? `last seen ${ago(peer.lastSeenAt)}` : "";
  const status =
    typingNames.length > 0
      ? `${typingNames.join(", ")} ${typingNames.length > 1 ? "are" : "is"} typing…`
      : view.state !== "open"
        ? "Connecting…"
        : group
          ? `${chat?.memberCount ?? ""} members`
          : presence;

  return (
    <section class="chat-view" aria-labelledby="chat-title">
      <header class="chat-header">
        <a href="/" onClick={link} class="back" aria-label="Back to chats">
          ←
        </a>
        <Avatar name={name} mediaId={chat?.peer?.avatarMediaId ?? chat?.avatarMediaId} />
        <div>
          <h2 id="chat-title" ref={heading} tabIndex={-1}>
            {name}
          </h2>
          <p class="muted small" role="status" data-testid="chat-status">
            {status}
          </p>
        </div>
      </header>
      <div class="messages" ref={scroller} onScroll={onScroll}>
        {view.hasOlder && (
          <button type="button" class="link load-older" onClick={loadOlder}>
            Load older messages
          </button>
        )}
        {view.loading && <p class="muted">Loading messages…</p>}
        {view.error && (
          <p class="error" role="alert">
            {view.error}
          </p>
        )}
        <div role="log" aria-live="polite" aria-relevant="additions" aria-label={`Messages with ${name}`}>
          <ol class="message-list">
            {view.messages.map((message) => (
              <MessageItem
                key={message.id}
                message={message}
                mine={message.senderId === me.id}
                senderName={group && message.senderId && message.senderId !== me.id ? (names[message.senderId] ?? null) : null}
                replied={message.replyTo ? byId.get(message.replyTo.id) : null}
                myReactions={view.myReactions[message.id] ?? []}
                read={message.seq <= readSeq}
                actions={{ reply: setReplyTo, react: view.toggleReaction, edit: view.edit, remove: view.remove }}
              />
            ))}
            {view.pending.map((p) => (
              <li key={p.clientMessageId} class="message mine pending" aria-label="Sending">
                <div class="bubble">
                  <p class="text">{p.content.text ?? "Photo"}</p>
                  <div class="meta">
                    <span class="tick">Sending…</span>
                  </div>
                </div>
              </li>
            ))}
          </ol>
        </div>
      </div>
      <Composer chatId={chatId} socket={view.socket} replyTo={replyTo} onCancelReply={() => setReplyTo(null)} send={view.send} />
    </section>
  );
}
