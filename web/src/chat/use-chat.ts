import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ChatSocket, Message, OutgoingMessage, PendingMessage, SocketState } from "../../../client";
import { client, errorText } from "../lib/client";
import { useSession } from "../lib/session";
import { erased, mergeMessages, patchMessage } from "./messages";

const PAGE = 30;

export interface ChatView {
  socket: ChatSocket;
  messages: Message[];
  /** Emoji I reacted with, per message id. */
  myReactions: Record<string, string[]>;
  pending: PendingMessage[];
  hasOlder: boolean;
  loading: boolean;
  error: string | null;
  state: SocketState;
  /** Connected and caught up (reads and reactions need it). */
  ready: boolean;
  /** Users typing now. */
  typing: string[];
  /** The other members' read position (the highest seq someone else read). */
  readSeq: number;
  loadOlder(): Promise<void>;
  send(content: OutgoingMessage): Promise<void>;
  toggleReaction(message: Message, emoji: string): Promise<void>;
  edit(messageId: string, text: string): Promise<void>;
  remove(messageId: string): Promise<void>;
}

/**
 * One chat, live: the newest page of history over REST, older pages on demand, and the chat's
 * socket (client library) for everything after. The socket resumes from its last eventSeq after
 * every reconnect, so messages sent while this browser was offline arrive in order once it is back,
 * and its outbox sends what was typed meanwhile exactly once.
 */
export function useChat(chatId: string): ChatView {
  const { me } = useSession();
  const socket = useMemo(() => client.chatSocket(chatId), [chatId]);
  const [messages, setMessages] = useState<Message[]>([]);
  const [myReactions, setMyReactions] = useState<Record<string, string[]>>({});
  const [pending, setPending] = useState<PendingMessage[]>([]);
  const [hasOlder, setHasOlder] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [state, setState] = useState<SocketState>(socket.state);
  const [ready, setReady] = useState(false);
  const [typing, setTyping] = useState<string[]>([]);
  const [readSeq, setReadSeq] = useState(0);
  const latest = useRef<Message[]>([]);
  latest.current = messages;

  const adopt = useCallback((incoming: Message[]) => {
    setMessages((list) => mergeMessages(list, incoming));
    // REST answers mark my own reactions (`me`); socket events never do, so only REST sets them.
    setMyReactions((mine) => {
      const next = { ...mine };
      for (const m of incoming) if (m.reactions.some((r) => r.me)) next[m.id] = m.reactions.filter((r) => r.me).map((r) => r.emoji);
      return next;
    });
  }, []);

  /** The newest page, or everything after what is loaded (after a first connect). */
  const loadNewest = useCallback(async () => {
    const newest = latest.current.at(-1)?.seq;
    try {
      const page = await client.api.get("/api/v1/chats/{chatId}/messages", {
        path: { chatId },
        query: newest === undefined ? { limit: PAGE } : { after: newest, limit: 100 },
      });
      adopt(page.items);
      if (newest === undefined) setHasOlder(page.hasMore);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setLoading(false);
    }
  }, [chatId, adopt]);

  useEffect(() => {
    setMessages([]);
    setMyReactions({});
    setLoading(true);
    setReadSeq(0);
    setTyping([]);
    void loadNewest();
    const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
    const stopTyping = (userId: string) => {
      clearTimeout(typingTimers.get(userId));
      typingTimers.delete(userId);
      setTyping([...typingTimers.keys()]);
    };
    let connectedOnce = false;
    const offs = [
      socket.on("state", setState),
      socket.on("outbox", setPending),
      // The first connect starts live from now: read what came between the first page and it.
      socket.on("ready", () => {
        if (!connectedOnce) void loadNewest();
        connectedOnce = true;
        setReady(true);
      }),
      socket.on("disconnected", () => setReady(false)),
      socket.on("stopped", () => setReady(false)),
      socket.on("reset", () => {
        setMessages([]);
        void loadNewest();
      }),
      socket.on("message.new", ({ message }) => {
        adopt([message]);
        if (message.senderId) stopTyping(message.senderId);
      }),
      socket.on("message.updated", ({ message }) => adopt([message])),
      socket.on("message.deleted", ({ messageId }) => setMessages((list) => patchMessage(list, messageId, erased))),
      socket.on("message.expired", ({ messageId }) => setMessages((list) => patchMessage(list, messageId, erased))),
      socket.on("message.replies", ({ messageId, replyCount }) =>
        setMessages((list) => patchMessage(list, messageId, (m) => ({ ...m, replyCount }))),
      ),
      socket.on("reactions", ({ messageId, reactions }) =>
        setMessages((list) => patchMessage(list, messageId, (m) => ({ ...m, reactions: reactions.map((r) => ({ ...r, me: false })) }))),
      ),
      // Reaction changes come live as counts only; replayed ones (after a reconnect) name the message: read it again.
      socket.on("reaction.added", ({ messageId }) => void refetch(messageId)),
      socket.on("reaction.removed", ({ messageId }) => void refetch(messageId)),
      socket.on("receipt", ({ userId, kind, seq }) => {
        if (kind === "read" && userId !== me.id) setReadSeq((s) => Math.max(s, seq));
      }),
      socket.on("typing", ({ userId, typing: isTyping }) => {
        if (userId === me.id) return;
        clearTimeout(typingTimers.get(userId));
        if (!isTyping) return stopTyping(userId);
        typingTimers.set(
          userId,
          setTimeout(() => stopTyping(userId), 6000),
        );
        setTyping([...typingTimers.keys()]);
      }),
    ];
    const refetch = async (messageId: string) => {
      try {
        adopt([(await client.api.get("/api/v1/chats/{chatId}/messages/{messageId}", { path: { chatId, messageId } })).message]);
      } catch {
        // deleted meanwhile: its own event says so
      }
    };
    socket.start();
    return () => {
      for (const off of offs) off();
      for (const timer of typingTimers.values()) clearTimeout(timer);
      socket.close();
    };
  }, [socket, chatId, me.id, adopt, loadNewest]);

  // Whether the others read my latest message, once per chat (later reads come as receipts).
  const mineLoaded = messages.findLast((m) => m.senderId === me.id && !m.deleted)?.id;
  const checkedReceipts = useRef<string | null>(null);
  useEffect(() => {
    if (!mineLoaded || checkedReceipts.current === chatId) return;
    checkedReceipts.current = chatId;
    const message = latest.current.find((m) => m.id === mineLoaded);
    client.api.get("/api/v1/chats/{chatId}/messages/{messageId}/receipts", { path: { chatId, messageId: mineLoaded } }).then(
      (receipts) => {
        if (message && receipts.read.some((id) => id !== me.id)) setReadSeq((s) => Math.max(s, message.seq));
      },
      () => {},
    );
  }, [mineLoaded, chatId, me.id]);

  const request = async (action: () => Promise<unknown>) => {
    try {
      await action();
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return {
    socket,
    messages,
    myReactions,
    pending,
    hasOlder,
    loading,
    error,
    state,
    ready,
    typing,
    readSeq,
    loadOlder: async () => {
      const oldest = latest.current[0]?.seq;
      if (oldest === undefined) return;
      await request(async () => {
        const page = await client.api.get("/api/v1/chats/{chatId}/messages", { path: { chatId }, query: { before: oldest, limit: PAGE } });
        adopt(page.items);
        setHasOlder(page.hasMore);
      });
    },
    send: (content) =>
      request(async () => {
        const { message } = await socket.send(content);
        adopt([message]);
      }),
    toggleReaction: (message, emoji) =>
      request(async () => {
        const mine = myReactions[message.id] ?? [];
        const had = mine.includes(emoji);
        const ack = await socket.request({ type: had ? "reaction.remove" : "reaction.add", messageId: message.id, emoji });
        setMyReactions((all) => ({ ...all, [message.id]: had ? mine.filter((e) => e !== emoji) : [...mine, emoji] }));
        const counts = ack.reactions as { emoji: string; count: number; me: boolean }[] | undefined;
        if (counts) setMessages((list) => patchMessage(list, message.id, (m) => ({ ...m, reactions: counts })));
      }),
    edit: (messageId, text) =>
      request(async () => {
        const ack = await socket.request({ type: "message.edit", messageId, text });
        if (ack.message) adopt([ack.message as Message]);
      }),
    remove: (messageId) =>
      request(async () => {
        await socket.request({ type: "message.delete", messageId, for: "everyone" });
        setMessages((list) => patchMessage(list, messageId, erased));
      }),
  };
}
