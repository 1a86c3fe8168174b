import { AppError } from "../lib/errors";
import type { Attachment, SendInput } from "./types";

/** The shapes of scheduled messages (scheduled.ts keeps and sends them). */

/** How far ahead a message may be scheduled. */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 60 * 60 * 1000;

/** A row of the room's `scheduled` table. */
export type ScheduledRow = {
  id: string;
  sender_id: string;
  client_message_id: string;
  send_at: number;
  input: string;
  attachments: string | null;
  created_at: number;
  updated_at: number;
};

/** What the content of a scheduled message is: the send as asked, without the sender. */
export type ScheduledContent = Omit<SendInput, "userId" | "clientMessageId" | "storyReply" | "forwardedFrom" | "forwardedAttachments">;

/** A message waiting for its time, as its author sees it: the send as asked, its attachments resolved. */
export interface ScheduledMessage extends Omit<ScheduledContent, "attachments"> {
  id: string;
  chatId: string;
  clientMessageId: string;
  scheduledAt: string;
  attachments: Attachment[];
  createdAt: string;
  updatedAt: string;
}

/** A time to send at: in the future, at most MAX_SCHEDULE_AHEAD_MS ahead (400 otherwise). */
export function checkTime(sendAt: number): void {
  const now = Date.now();
  if (!Number.isFinite(sendAt) || sendAt <= now || sendAt > now + MAX_SCHEDULE_AHEAD_MS) {
    const message = "scheduledAt must be in the future and at most a year ahead";
    throw new AppError(400, "validation_failed", message, [{ path: "body.scheduledAt", code: "invalid_date", message }]);
  }
}
