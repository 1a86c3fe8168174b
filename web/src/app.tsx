import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../../client";
import { AuthScreen } from "./auth/auth-screen";
import { ChatView } from "./chat/chat-view";
import { ChatList, NewChatForm } from "./chats/chat-list";
import { useChatList } from "./chats/use-chat-list";
import { client, type Schemas } from "./lib/client";
import { link, useRoute } from "./lib/router";
import { SessionProvider, useSession } from "./lib/session";
import { SearchView } from "./search/search-view";
import { SettingsView } from "./settings/settings-view";
import { StoriesStrip } from "./stories/stories-strip";

/** Whether the browser thinks it is online (the `online`/`offline` events). */
function useOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    };
  }, []);
  return online;
}

/** The app: the sign-in screen, or the messenger for the signed-in user (tokens survive reloads in localStorage). */
export function App() {
  const [me, setMe] = useState<Schemas["User"] | null | undefined>(undefined);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = async () => {
      if (!(await client.auth.isSignedIn())) return setMe(null);
      try {
        setMe((await client.api.get("/api/v1/auth/me")).user);
      } catch (err) {
        // Refused: signed out (the client library cleared the tokens). Unreachable: try again.
        if (err instanceof ApiError && err.status < 500) setMe(null);
        else timer = setTimeout(check, 2000);
      }
    };
    void check();
    const off = client.auth.on("signedOut", () => setMe(null));
    return () => {
      off();
      clearTimeout(timer);
    };
  }, []);
  if (me === undefined)
    return (
      <p class="muted center" aria-busy="true">
        Loading…
      </p>
    );
  if (!me) return <AuthScreen onSignedIn={setMe} />;
  return (
    <SessionProvider key={me.id} me={me} setMe={setMe}>
      <Messenger />
    </SessionProvider>
  );
}

/** Chat list and stories beside the current screen; on a phone one of the two at a time. */
function Messenger() {
  const route = useRoute();
  const { connection } = useSession();
  const online = useOnline();
  const { chats, error, upsert } = useChatList();
  const activeChatId = route.name === "chat" ? route.chatId : null;
  const unread = (chats ?? []).filter((c) => !c.muted && c.id !== activeChatId).reduce((sum, c) => sum + c.unreadCount, 0);
  useEffect(() => {
    document.title = unread ? `(${unread}) Edge Messenger` : "Edge Messenger";
  }, [unread]);

  return (
    <div class={route.name === "home" ? "shell show-sidebar" : "shell show-main"}>
      <a href="#main" class="skip-link">
        Skip to content
      </a>
      {(!online || connection === "waiting") && (
        <div class="banner" role="status" data-testid="connection-banner">
          {online ? "Reconnecting…" : "You are offline. Messages you send go out when you are back."}
        </div>
      )}
      <aside class="sidebar" aria-label="Chats and stories">
        <header class="sidebar-header">
          <h1>Chats</h1>
          <nav aria-label="Main">
            <a href="/search" onClick={link} class="button">
              Search
            </a>
            <a href="/settings" onClick={link} class="button">
              Settings
            </a>
          </nav>
        </header>
        <StoriesStrip />
        <NewChatForm onOpened={upsert} />
        <ChatList chats={chats} activeChatId={activeChatId} error={error} />
      </aside>
      <main id="main" class="main" tabIndex={-1}>
        {route.name === "chat" ? (
          <ChatView key={route.chatId} chatId={route.chatId} listed={chats?.find((c) => c.id === route.chatId)} />
        ) : route.name === "search" ? (
          <SearchView />
        ) : route.name === "settings" ? (
          <SettingsView section={route.section} />
        ) : (
          <div class="empty">
            <p class="muted">Pick a chat, or start one with a username.</p>
          </div>
        )}
      </main>
    </div>
  );
}
