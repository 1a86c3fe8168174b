import type { Message } from "../../../client";

/** Which of two copies of one message is the later state: a deletion wins, then the later edit. */
function later(a: Message, b: Message): Message {
  if (a.deleted !== b.deleted) return a.deleted ? a : b;
  const edited = (m: Message) => (m.editedAt ? Date.parse(m.editedAt) : 0);
  return edited(b) >= edited(a) ? b : a;
}

/**
 * `incoming` merged into `list` (sorted by seq, one entry per id). A page read over REST and the
 * socket's events may overlap or race: each message keeps its later state.
 */
export function mergeMessages(list: Message[], incoming: Message[]): Message[] {
  const byId = new Map(list.map((m) => [m.id, m]));
  for (const message of incoming) {
    const known = byId.get(message.id);
    byId.set(message.id, known ? later(known, message) : message);
  }
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}

/** `list` with the message `id` changed by `patch` (unchanged when it is not loaded). */
export function patchMessage(list: Message[], id: string, patch: (m: Message) => Message): Message[] {
  return list.some((m) => m.id === id) ? list.map((m) => (m.id === id ? patch(m) : m)) : list;
}

/** A deleted or expired message: no content left. */
export function erased(message: Message): Message {
  return { ...message, deleted: true, text: null, attachments: [], reactions: [], entities: [] };
}

/** Is this attachment an image the browser can show inline? */
export const isImage = (mimeType: string) => /^image\/(png|jpeg|gif|webp|avif)$/.test(mimeType);
