import type { RoomEvent } from "./types";

/**
 * The room's share of the domain events (lib/events.ts): its log's changes that every member sees,
 * named for the app's backend. Changes seen by one member only (a shadow-banned member's own
 * messages, personal receipts) and bookkeeping (reply counts, poll tallies) are not events.
 */
const DOMAIN_TYPES: Record<string, string> = {
  "message.new": "message.new",
  "message.updated": "message.updated",
  "message.deleted": "message.deleted",
  "message.expired": "message.deleted",
  "message.pinned": "message.pinned",
  "message.unpinned": "message.unpinned",
  "reaction.added": "reaction.added",
  "reaction.removed": "reaction.removed",
  "member.joined": "member.joined",
  "member.updated": "member.updated",
  "member.left": "member.left",
  "member.removed": "member.removed",
  "chat.updated": "chat.updated",
  "chat.truncated": "chat.truncated",
};

/** The domain events of these committed room events (`audience` set: one member's alone, skipped). */
export function domainEventsOf(chatId: string, logged: readonly { event: RoomEvent; audience?: string }[]) {
  const out: { type: string; data: Record<string, unknown> }[] = [];
  for (const { event, audience } of logged) {
    const type = DOMAIN_TYPES[event.type];
    if (!type || audience !== undefined) continue;
    const { eventSeq: _seq, type: _type, createdAt: _at, ...data } = event;
    out.push({ type, data: { chatId, ...data } });
  }
  return out;
}
