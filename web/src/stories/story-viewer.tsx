import { useEffect, useRef, useState } from "preact/hooks";
import { client, type Schemas } from "../lib/client";
import { shortTime } from "../lib/format";
import { useMediaUrl } from "../lib/media";

type Story = Schemas["Story"];

/** A modal viewer of one author's stories: previous/next (buttons or arrow keys), Escape closes; each story shown is marked viewed. */
export function StoryViewer({ title, stories, own, onClose }: { title: string; stories: Story[]; own: boolean; onClose(): void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const first = Math.max(
    0,
    stories.findIndex((s) => !s.viewed),
  );
  const [index, setIndex] = useState(first);
  const story = stories[index];

  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  useEffect(() => {
    if (story && !own && !story.viewed) client.api.post("/api/v1/stories/{id}/view", { path: { id: story.id } }).catch(() => {});
  }, [story, own]);
  if (!story) return null;

  const go = (step: number) => {
    const next = index + step;
    if (next < 0 || next >= stories.length) onClose();
    else setIndex(next);
  };
  return (
    <dialog
      ref={dialog}
      class="story-viewer"
      aria-label={`${title}'s stories`}
      onClose={onClose}
      onKeyDown={(e) => {
        if (e.key === "ArrowRight") go(1);
        if (e.key === "ArrowLeft") go(-1);
      }}
    >
      <header class="row spread">
        <h2>
          {title} <span class="muted small">{shortTime(story.createdAt)}</span>
        </h2>
        <button type="button" onClick={onClose} aria-label="Close stories">
          ✕
        </button>
      </header>
      <p class="muted small" aria-live="polite">
        Story {index + 1} of {stories.length}
        {own && story.viewCount !== null ? ` · ${story.viewCount} views` : ""}
      </p>
      <StoryContent story={story} />
      <div class="row spread">
        <button type="button" onClick={() => go(-1)} disabled={index === 0}>
          Previous
        </button>
        <button type="button" class="primary" onClick={() => go(1)}>
          {index === stories.length - 1 ? "Done" : "Next"}
        </button>
      </div>
    </dialog>
  );
}

function StoryContent({ story }: { story: Story }) {
  const url = useMediaUrl(story.type === "image" ? story.mediaId : null);
  if (story.type === "text") {
    // The background colour is the story's own data: applied through the CSSOM (allowed by the CSP).
    return (
      <div class="story-text" ref={(el) => el?.style.setProperty("background", story.background ?? "#000000")}>
        <p>{story.text}</p>
      </div>
    );
  }
  return (
    <figure class="story-media">
      {url ? <img src={url} alt={story.caption ?? "Story image"} /> : <p aria-busy="true">Loading…</p>}
      {story.caption && <figcaption>{story.caption}</figcaption>}
    </figure>
  );
}
