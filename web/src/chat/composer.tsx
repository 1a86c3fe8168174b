import { useRef, useState } from "preact/hooks";
import type { ChatSocket, Message, OutgoingMessage } from "../../../client";
import { errorText } from "../lib/client";
import { uploadFile } from "./upload";

/**
 * The message box: Enter sends (Shift+Enter: a new line), typing is announced (throttled by the
 * client library), a reply shows above it, and an image goes up with a progress bar, then is sent.
 */
export function Composer({
  chatId,
  socket,
  replyTo,
  onCancelReply,
  send,
}: {
  chatId: string;
  socket: ChatSocket;
  replyTo: Message | null;
  onCancelReply(): void;
  send(content: OutgoingMessage): Promise<void>;
}) {
  const input = useRef<HTMLTextAreaElement>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [uploadError, setUploadError] = useState("");

  const submit = (event?: Event) => {
    event?.preventDefault();
    const text = input.current?.value.trim() ?? "";
    if (!text) return;
    if (input.current) input.current.value = "";
    // Queued in the client library's outbox: sent now, or when the connection is back.
    void send({ text, ...(replyTo ? { replyToId: replyTo.id } : {}) });
    onCancelReply();
    input.current?.focus();
  };

  const attach = async (event: Event) => {
    const field = event.currentTarget as HTMLInputElement;
    const file = field.files?.[0];
    field.value = "";
    if (!file) return;
    setUploadError("");
    setProgress(0);
    try {
      const mediaId = await uploadFile(file, { purpose: "attachment", chatId }, setProgress);
      const caption = input.current?.value.trim();
      if (caption && input.current) input.current.value = "";
      await send({
        messageType: "image",
        attachments: [mediaId],
        ...(caption ? { text: caption } : {}),
        ...(replyTo ? { replyToId: replyTo.id } : {}),
      });
      onCancelReply();
    } catch (err) {
      setUploadError(`Upload failed: ${errorText(err)}`);
    } finally {
      setProgress(null);
    }
  };

  return (
    <form class="composer" onSubmit={submit} aria-label="Send a message">
      {replyTo && (
        <div class="replying" role="status">
          <span>
            Replying to: <q>{replyTo.text ?? "Photo"}</q>
          </span>
          <button type="button" class="link" onClick={onCancelReply} aria-label="Cancel reply">
            ✕
          </button>
        </div>
      )}
      {progress !== null && (
        <div class="upload-progress">
          <label for="upload-progress">Uploading image</label>
          <progress id="upload-progress" max={1} value={progress} aria-valuetext={`${Math.round(progress * 100)}%`} />
        </div>
      )}
      {uploadError && (
        <p class="error" role="alert">
          {uploadError}
        </p>
      )}
      <div class="composer-row">
        <label class="button attach" title="Attach an image">
          <svg
            aria-hidden="true"
            width="20"
            height="20"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            stroke-width="2"
            stroke-linecap="round"
          >
            <path d="M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3l8-8" />
          </svg>
          <span class="visually-hidden">Attach an image</span>
          <input
            type="file"
            accept="image/png,image/jpeg,image/gif,image/webp"
            class="visually-hidden"
            onChange={attach}
            disabled={progress !== null}
          />
        </label>
        <label class="visually-hidden" for={`composer-${chatId}`}>
          Message
        </label>
        <textarea
          id={`composer-${chatId}`}
          ref={input}
          rows={1}
          placeholder="Message"
          onInput={(e) => ((e.currentTarget as HTMLTextAreaElement).value ? socket.typing() : socket.stopTyping())}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
            if (e.key === "Escape" && replyTo) onCancelReply();
          }}
        />
        <button type="submit" class="primary">
          Send
        </button>
      </div>
    </form>
  );
}
