import { useCallback, useEffect, useState } from "preact/hooks";
import { Avatar } from "../chats/avatar";
import { client, type Schemas } from "../lib/client";
import { useRoute } from "../lib/router";
import { useSession } from "../lib/session";
import { NewStoryDialog } from "./new-story";
import { StoryViewer } from "./story-viewer";

type Story = Schemas["Story"];
interface Reel {
  authorId: string;
  name: string;
  avatarMediaId: string | null | undefined;
  stories: Story[];
  hasUnviewed: boolean;
}

/** The stories strip: mine first (or "Add story"), then the people I follow or have in my contacts, unviewed first. */
export function StoriesStrip() {
  const { me } = useSession();
  const [reels, setReels] = useState<Reel[]>([]);
  const [open, setOpen] = useState<Reel | null>(null);
  const [composing, setComposing] = useState(false);

  const load = useCallback(async () => {
    try {
      const [mine, feed] = await Promise.all([
        client.api.get("/api/v1/stories/me"),
        client.api.get("/api/v1/stories", { query: { limit: 30 } }),
      ]);
      const own: Reel[] = mine.items.length
        ? [{ authorId: me.id, name: "My story", avatarMediaId: null, stories: mine.items, hasUnviewed: false }]
        : [];
      const others = feed.authors.map((entry) => ({
        authorId: entry.author.id,
        name: entry.author.displayName || entry.author.username,
        avatarMediaId: entry.author.avatarMediaId,
        stories: entry.stories,
        hasUnviewed: entry.hasUnviewed,
      }));
      setReels([...own, ...others]);
    } catch {
      // offline: the strip stays as it was
    }
  }, [me.id]);

  // Read again on every screen change (a new contact's stories, a story posted elsewhere).
  const route = useRoute();
  const where = route.name === "chat" ? route.chatId : route.name;
  useEffect(() => {
    void load();
  }, [load, where]);

  return (
    <section class="stories" aria-label="Stories">
      <ul class="stories-strip">
        <li>
          <button type="button" class="story-ring add" onClick={() => setComposing(true)}>
            <span class="avatar avatar-48" aria-hidden="true">
              +
            </span>
            <span class="story-name">Add story</span>
          </button>
        </li>
        {reels.map((reel) => (
          <li key={reel.authorId}>
            <button
              type="button"
              class={reel.hasUnviewed ? "story-ring unviewed" : "story-ring"}
              onClick={() => setOpen(reel)}
              aria-label={`${reel.name}: ${reel.stories.length} ${reel.stories.length === 1 ? "story" : "stories"}${reel.hasUnviewed ? ", new" : ""}`}
            >
              <Avatar name={reel.name} mediaId={reel.avatarMediaId} size={48} />
              <span class="story-name">{reel.name}</span>
            </button>
          </li>
        ))}
      </ul>
      {open && (
        <StoryViewer
          title={open.name}
          stories={open.stories}
          own={open.authorId === me.id}
          onClose={() => {
            setOpen(null);
            void load();
          }}
        />
      )}
      {composing && (
        <NewStoryDialog
          onClose={(posted) => {
            setComposing(false);
            if (posted) void load();
          }}
        />
      )}
    </section>
  );
}
