import type { ChatPreview, HubUpdate, PushHint, PushHintMessage } from "../hubs/protocol";
import { isShadowBanned } from "./member-cache";
import type { MessageContent, MessageRow } from "./message-rows";
import type { RoomStore } from "./store";
import { previewOf } from "./summary";

/**
 * How long a flush run by the in-memory timer (right after a send) waits before the hub fan-out,
 * so the send's answer is not queued behind a hundred hub calls; the alarm's flush does not wait.
 */
export const HUB_FANOUT_DEFER_MS = 20;

/** One announcement: the members it goes to, what they are told, and what their hubs weigh for a push. */
export interface Announcement {
  userIds: string[];
  update: HubUpdate;
  push?: PushHint;
}

/** At most this many of the messages since the last announcement are weighed for a push (the newest). */
export const PUSH_HINT_MAX_MESSAGES = 20;
/** Only messages this recent notify (older ones were never announced: the room was over the limit, or older than push). */
export const PUSH_HINT_MAX_AGE_MS = 5 * 60_000;

/**
 * What the room tells its members' hubs after a summary flush (`chat.activity`: the chat's last
 * message and seq), at most once per flush, and only when what a member sees changed: the
 * others' preview, or a shadow-banned member's own (their messages are theirs alone, as in
 * chats/shadow-previews.ts). Channels and chats over `maxMembers` (HUB_FANOUT_MAX_MEMBERS) are
 * not told per message: their members' hubs read the activity from D1 when the list is read.
 */
export function pendingActivity(store: RoomStore, chatId: string, maxMembers: number, at = Date.now()): Announcement[] {
  const config = store.config();
  if (!config || config.type === "channel") return [];
  const members = store.members.all();
  if (members.length > maxMembers) {
    store.setMeta("hubPushSeq", String(store.lastSeq())); // these messages are never hinted later
    return [];
  }
  const shadow = members.filter((m) => isShadowBanned(m, at));
  const others = members.filter((m) => !isShadowBanned(m, at));
  const out: Announcement[] = [];
  // Read once, when the first announcement goes out (so no message leaves it unannounced), and
  // shared by all: a shadow-banned member is notified of the others' messages like anyone.
  let hint: PushHint | undefined | null = null;
  const sharedHint = () => {
    if (hint === null) hint = pushHint(store, config.type, config.encrypted ?? false, at);
    return hint;
  };
  const announce = (key: string, userIds: string[], last: MessageRow | null) => {
    // What was announced: the message shown and whether it was deleted since.
    const state = `${last?.seq ?? 0}:${last?.deleted_at ?? ""}`;
    if (userIds.length === 0 || store.getMeta(key) === state) return;
    store.setMeta(key, state);
    const push = sharedHint();
    out.push({ userIds, update: activity(chatId, store.lastSeq(), last, at), ...(push ? { push } : {}) });
  };
  announce(
    "hubActivity",
    others.map((m) => m.userId),
    store.lastVisibleMessage() ?? null,
  );
  for (const m of shadow) announce(`hubActivity:${m.userId}`, [m.userId], store.lastVisibleMessageFor(m.userId) ?? null);
  return out;
}

/**
 * The messages since the last hint (not deleted, not a shadow-banned sender's, not system
 * notices, at most a few minutes old), for the members' hubs to weigh a push; undefined when none.
 */
function pushHint(store: RoomStore, chatType: string, encrypted: boolean, at: number): PushHint | undefined {
  const since = Number(store.getMeta("hubPushSeq") ?? 0);
  const lastSeq = store.lastSeq();
  if (lastSeq <= since) return undefined;
  store.setMeta("hubPushSeq", String(lastSeq));
  const rows = store.notifiableAfter(since, PUSH_HINT_MAX_MESSAGES, at - PUSH_HINT_MAX_AGE_MS);
  if (rows.length === 0) return undefined;
  const messages = rows.map((r): PushHintMessage => {
    const c: MessageContent = r.content ? (JSON.parse(r.content) as MessageContent) : {};
    return {
      seq: r.seq,
      senderId: r.sender_id,
      silent: c.silent ?? false,
      mentions: c.mentions ?? [],
      mentionsAll: c.mentionsAll ?? false,
    };
  });
  return { chatType, encrypted, messages };
}

const activity = (chatId: string, lastSeq: number, last: MessageRow | null, at: number): HubUpdate => ({
  type: "chat.activity",
  chatId,
  lastSeq,
  lastMessage: previewOf(last) as ChatPreview | null,
  lastActivityAt: new Date(last?.created_at ?? at).toISOString(),
});

/**
 * Runs the announcements one fan-out at a time: a flush while one is running shares the next,
 * which reads the latest state, so a member's hub never hears older activity after newer.
 */
export class HubFeed {
  private tail: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(
    private readonly pending: () => Announcement[],
    private readonly publish: (userIds: readonly string[], update: HubUpdate, push?: PushHint) => Promise<void>,
  ) {}

  /** Announce what changed (after `deferMs`); resolves once a fan-out that read the state after this call is done. */
  announce(deferMs = 0): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.tail.then(async () => {
      if (deferMs > 0) await new Promise((resolve) => setTimeout(resolve, deferMs));
      this.queued = null;
      for (const a of this.pending()) await this.publish(a.userIds, a.update, a.push);
    });
    this.queued = next;
    this.tail = next.catch(() => undefined);
    return next;
  }
}
