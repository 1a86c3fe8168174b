import { useEffect, useRef, useState } from "preact/hooks";
import { Avatar } from "../chats/avatar";
import { client, errorText, type Schemas } from "../lib/client";
import { shortTime } from "../lib/format";
import { link, navigate } from "../lib/router";
import { FormError } from "../lib/ui";

type Results = Schemas["SearchEverywhereResult"];
type Profile = Schemas["PublicProfile"];

/** The server's snippet (HTML-escaped, matches in <mark>) as text and <mark> elements, never as markup. */
function Snippet({ html }: { html: string }) {
  const nodes = [...new DOMParser().parseFromString(html, "text/html").body.childNodes];
  return <span>{nodes.map((node, i) => (node.nodeName === "MARK" ? <mark key={i}>{node.textContent}</mark> : node.textContent))}</span>;
}

/** Search people, chats and my messages (GET /search); start a chat with someone, follow them or add them to contacts. */
export function SearchView() {
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Results | null>(null);
  const [error, setError] = useState("");
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  const search = async (event: Event) => {
    event.preventDefault();
    const q = query.trim();
    if (!q) return;
    setError("");
    try {
      setResults(await client.api.get("/api/v1/search", { query: { q, types: "users,chats,messages", limit: 10 } }));
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section class="page" aria-labelledby="search-title">
      <header class="page-header">
        <a href="/" onClick={link} class="back" aria-label="Back to chats">
          ←
        </a>
        <h2 id="search-title" ref={heading} tabIndex={-1}>
          Search
        </h2>
      </header>
      <search>
        <form class="row search-form" onSubmit={search}>
          <label class="visually-hidden" for="search-q">
            Search people, chats and messages
          </label>
          <input
            id="search-q"
            type="search"
            value={query}
            onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
            placeholder="People, chats, messages"
          />
          <button type="submit" class="primary">
            Search
          </button>
        </form>
      </search>
      <FormError text={error} />
      {results && (
        <div aria-live="polite">
          <h3>People</h3>
          {results.users?.length ? (
            <ul class="results">
              {results.users.map((user) => (
                <PersonResult key={user.id} user={user} />
              ))}
            </ul>
          ) : (
            <p class="muted">Nobody found.</p>
          )}
          <h3>Chats</h3>
          {results.chats?.length ? (
            <ul class="results">
              {results.chats.map((chat) => (
                <li key={chat.id}>
                  {chat.member ? (
                    <a href={`/chats/${chat.id}`} onClick={link}>
                      {chat.name}
                    </a>
                  ) : (
                    <span>{chat.name}</span>
                  )}{" "}
                  <span class="muted small">{chat.memberCount} members</span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No chats found.</p>
          )}
          <h3>Messages</h3>
          {results.messages?.items.length ? (
            <ul class="results">
              {results.messages.items.map((hit) => (
                <li key={hit.message.id}>
                  <a href={`/chats/${hit.chatId}`} onClick={link}>
                    <Snippet html={hit.snippet} />
                  </a>{" "}
                  <time class="muted small">{shortTime(hit.message.createdAt)}</time>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No messages found.</p>
          )}
        </div>
      )}
    </section>
  );
}

function PersonResult({ user }: { user: Profile }) {
  const [following, setFollowing] = useState(user.isFollowing);
  const [contact, setContact] = useState(user.isContact);
  const [error, setError] = useState("");
  const act = (action: () => Promise<unknown>, after: () => void) => async () => {
    try {
      await action();
      after();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const name = user.displayName || user.username;
  return (
    <li class="person">
      <Avatar name={name} mediaId={user.avatarMediaId} />
      <span class="grow">
        {name} <span class="muted small">@{user.username}</span>
      </span>
      <button
        type="button"
        onClick={act(
          () =>
            client.api
              .post("/api/v1/chats", { body: { type: "direct", memberIds: [user.id] } })
              .then((r) => navigate(`/chats/${r.chat.id}`)),
          () => {},
        )}
      >
        Message
      </button>
      <button
        type="button"
        aria-pressed={following}
        onClick={act(
          () =>
            following
              ? client.api.delete("/api/v1/users/{id}/follow", { path: { id: user.id } })
              : client.api.post("/api/v1/users/{id}/follow", { path: { id: user.id } }),
          () => setFollowing(!following),
        )}
      >
        {following ? "Following" : "Follow"}
      </button>
      {!contact && (
        <button
          type="button"
          onClick={act(
            () => client.api.post("/api/v1/users/me/contacts", { body: { userId: user.id } }),
            () => setContact(true),
          )}
        >
          Add contact
        </button>
      )}
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </li>
  );
}
