import { useEffect, useRef, useState } from "preact/hooks";
import type { Message } from "../../../client";
import { shortTime } from "../lib/format";
import { useMediaUrl } from "../lib/media";
import { isImage } from "./messages";

/** The quick reactions offered on every message. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂"] as const;

export interface MessageActions {
  reply(message: Message): void;
  react(message: Message, emoji: string): void;
  edit(messageId: string, text: string): Promise<void>;
  remove(messageId: string): void;
}

/** One message: sender (in groups), the reply it answers, text and images, reactions, read state and actions. */
export function MessageItem({
  message,
  mine,
  senderName,
  replied,
  myReactions,
  read,
  actions,
}: {
  message: Message;
  mine: boolean;
  senderName: string | null;
  replied: Message | null | undefined;
  myReactions: string[];
  read: boolean;
  actions: MessageActions;
}) {
  const [editing, setEditing] = useState(false);
  if (message.type === "system") {
    return (
      <li class="system-message" data-seq={message.seq}>
        {systemText(message.system)}
      </li>
    );
  }
  return (
    <li class={mine ? "message mine" : "message"} data-seq={message.seq} data-message-id={message.id}>
      <div class="bubble">
        {senderName && <div class="sender">{senderName}</div>}
        {message.replyTo && (
          <blockquote class="reply-quote" data-testid="reply-quote">
            {replied ? (replied.deleted ? "Deleted message" : (replied.text ?? "Photo")) : "An earlier message"}
          </blockquote>
        )}
        {message.deleted ? (
          <p class="deleted">This message was deleted.</p>
        ) : editing ? (
          <EditForm
            text={message.text ?? ""}
            onSave={async (text) => {
              await actions.edit(message.id, text);
              setEditing(false);
            }}
            onCancel={() => setEditing(false)}
          />
        ) : (
          <>
            {message.attachments
              .filter((a) => isImage(a.mimeType))
              .map((a) => (
                <ImageAttachment key={a.mediaId} mediaId={a.mediaId} name={a.fileName} />
              ))}
            {message.text && <p class="text">{message.text}</p>}
          </>
        )}
        <div class="meta">
          {message.editedAt && !message.deleted && <span>edited</span>}
          <time dateTime={message.createdAt}>{shortTime(message.createdAt)}</time>
          {mine && !message.deleted && <span class="tick">{read ? "Read" : "Sent"}</span>}
        </div>
      </div>
      {message.reactions.length > 0 && (
        <ul class="reactions" aria-label="Reactions">
          {message.reactions.map((r) => (
            <li key={r.emoji}>
              <button
                type="button"
                class="reaction"
                aria-pressed={myReactions.includes(r.emoji)}
                aria-label={`${r.emoji} ${r.count}${myReactions.includes(r.emoji) ? ", including you" : ""}`}
                onClick={() => actions.react(message, r.emoji)}
              >
                {r.emoji} {r.count}
              </button>
            </li>
          ))}
        </ul>
      )}
      {!message.deleted && !editing && (
        <fieldset class="actions">
          <legend class="visually-hidden">Message actions</legend>
          <button type="button" onClick={() => actions.reply(message)}>
            Reply
          </button>
          {QUICK_REACTIONS.map((emoji) => (
            <button
              key={emoji}
              type="button"
              aria-label={`React ${emoji}`}
              aria-pressed={myReactions.includes(emoji)}
              onClick={() => actions.react(message, emoji)}
            >
              {emoji}
            </button>
          ))}
          {mine && message.text !== null && (
            <button type="button" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
          {mine && (
            <button type="button" onClick={() => confirm("Delete this message for everyone?") && actions.remove(message.id)}>
              Delete
            </button>
          )}
        </fieldset>
      )}
    </li>
  );
}

/** What a system message says (its `system.event`). */
function systemText(system: Message["system"]): string {
  const events: Record<string, string> = {
    created: "Chat created",
    joined: "Someone joined",
    added: "Members were added",
    removed: "A member was removed",
    left: "Someone left",
    renamed: "The chat was renamed",
    role_changed: "A member's role changed",
    ownership_transferred: "Ownership was transferred",
    banned: "A member was banned",
    ttl_changed: "Disappearing messages changed",
    identity_changed: "A safety key changed",
  };
  return events[String(system?.event)] ?? "Chat updated";
}

function ImageAttachment({ mediaId, name }: { mediaId: string; name: string | null }) {
  const url = useMediaUrl(mediaId);
  return url ? (
    <img class="attachment" src={url} alt={name ? `Image: ${name}` : "Image"} loading="lazy" />
  ) : (
    <div class="attachment placeholder" aria-busy="true">
      Loading image…
    </div>
  );
}

function EditForm({ text, onSave, onCancel }: { text: string; onSave(text: string): Promise<void>; onCancel(): void }) {
  const input = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, []);
  const submit = (event: Event) => {
    event.preventDefault();
    const value = input.current?.value.trim() ?? "";
    if (value && value !== text) void onSave(value);
    else onCancel();
  };
  return (
    <form class="edit-form" onSubmit={submit}>
      <label class="visually-hidden" for="edit-text">
        Edit message
      </label>
      <textarea
        id="edit-text"
        ref={input}
        rows={2}
        defaultValue={text}
        onKeyDown={(e) => {
          if (e.key === "Escape") onCancel();
          if (e.key === "Enter" && !e.shiftKey) submit(e);
        }}
      />
      <div class="row">
        <button type="submit" class="primary">
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
