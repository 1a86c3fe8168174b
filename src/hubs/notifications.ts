import type { HubUpdate, PushHint } from "./protocol";
import type { PushSettings, PushTarget } from "./push-targets";

/**
 * Whether a chat's new messages notify this user's offline devices, and what the notification
 * says. Decided in the user's hub, which knows the devices (targets), which of them hold a live
 * socket, and the user's settings; the room says what the messages were (PushHint). Mute is
 * checked by the queue consumer against D1, where it is kept.
 */

/** One notification for one device, as queued for the push consumer (src/push/consumer.ts). */
export interface PushJob {
  userId: string;
  target: PushTarget;
  chatId: string;
  chatType: string;
  /** The newest message notified of. */
  seq: number;
  /** How many new messages it stands for. */
  count: number;
  /** One of them mentions the user (a muted chat still notifies). */
  mention: boolean;
  /** Encrypted chats notify with the chat id and the counter only. */
  encrypted: boolean;
  /** Sender and text, when the settings allow previews (never for encrypted chats). */
  senderId: string | null;
  text: string | null;
  createdAt: number;
}

type Activity = Extract<HubUpdate, { type: "chat.activity" }>;

/** The notification these messages make for `userId`, or null (none are someone else's and audible, or settings say no). */
export function notificationFor(
  userId: string,
  update: Activity,
  hint: PushHint,
  settings: PushSettings,
  at: number,
): Omit<PushJob, "userId" | "target"> | null {
  const audible = hint.messages.filter((m) => m.senderId !== userId && !m.silent);
  const last = audible.at(-1);
  if (!last) return null;
  const mention = audible.some((m) => m.mentionsAll || m.mentions.includes(userId));
  const wanted = hint.chatType === "direct" ? settings.direct : settings.groups;
  if (!wanted && !mention) return null;
  const previews = settings.previews && !hint.encrypted;
  // The room's preview is of its newest visible message: shown only when that is the one notified of.
  const preview = update.lastMessage?.seq === last.seq ? update.lastMessage : null;
  return {
    chatId: update.chatId,
    chatType: hint.chatType,
    seq: last.seq,
    count: audible.length,
    mention,
    encrypted: hint.encrypted,
    senderId: previews ? last.senderId : null,
    text: previews ? (preview?.text ?? null) : null,
    createdAt: at,
  };
}

/** The jobs for the targets of sessions with no live socket (a device with one was told on it). */
export function pushJobs(
  userId: string,
  notification: Omit<PushJob, "userId" | "target">,
  targets: readonly PushTarget[],
  liveSessions: ReadonlySet<string>,
): PushJob[] {
  return targets.filter((t) => !liveSessions.has(t.sessionId)).map((target) => ({ userId, target, ...notification }));
}
