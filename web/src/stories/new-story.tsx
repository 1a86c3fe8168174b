import { useEffect, useRef, useState } from "preact/hooks";
import { uploadFile } from "../chat/upload";
import { client, errorText } from "../lib/client";
import { FormError } from "../lib/ui";

/** Post a story: a text on a colour, or an image (uploaded with tus, purpose `story`), for everyone or my contacts. */
export function NewStoryDialog({ onClose }: { onClose(posted: boolean): void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const audience = { kind: String(data.get("audience")) as "everyone" | "contacts" };
    const file = data.get("image");
    setError("");
    try {
      if (file instanceof File && file.size > 0) {
        setProgress(0);
        const mediaId = await uploadFile(file, { purpose: "story" }, setProgress);
        const caption = String(data.get("text") ?? "").trim();
        await client.api.post("/api/v1/stories", { body: { type: "image", mediaId, audience, ...(caption ? { caption } : {}) } });
      } else {
        const text = String(data.get("text") ?? "").trim();
        if (!text) throw new Error("Write something or pick an image");
        await client.api.post("/api/v1/stories", {
          body: { type: "text", text, background: String(data.get("background")), font: "sans", audience },
        });
      }
      onClose(true);
    } catch (err) {
      setError(errorText(err));
      setProgress(null);
    }
  };
  return (
    <dialog ref={dialog} class="sheet" aria-labelledby="new-story-title" onClose={() => onClose(false)}>
      <form class="stack" onSubmit={submit}>
        <h2 id="new-story-title">New story</h2>
        <label>
          Text (or the image's caption)
          <textarea name="text" rows={3} maxLength={2000} />
        </label>
        <label>
          Background
          <input type="color" name="background" defaultValue="#1e6fd9" />
        </label>
        <label>
          Image (optional)
          <input type="file" name="image" accept="image/png,image/jpeg,image/gif,image/webp" />
        </label>
        <label>
          Who can see it
          <select name="audience">
            <option value="everyone">Everyone</option>
            <option value="contacts">My contacts</option>
          </select>
        </label>
        {progress !== null && <progress max={1} value={progress} aria-label="Uploading image" />}
        <FormError text={error} />
        <div class="row">
          <button type="submit" class="primary">
            Post story
          </button>
          <button type="button" onClick={() => onClose(false)}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
