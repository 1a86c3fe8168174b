import { AppError } from "../lib/errors";
import type { Attachment, SendInput } from "./types";

const iso = (ms: number) => new Date(ms).toISOString();

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
  /** Due sends that failed for a passing reason (a hook or D1 down), retried with backoff. */
  attempts: number;
};

/** A due send that failed for a passing reason is dropped after this many tries (about 3 hours of backoff). */
export const MAX_SEND_ATTEMPTS = 10;

/** How long to wait before the next try of a due send that failed `attempts` times: 30 s doubling, at most an hour. */
export const retryDelayMs = (attempts: number) => Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 60 * 60_000);

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

/** The room's table of scheduled messages. */
export const SCHEDULED_SCHEMA = `
CREATE TABLE IF NOT EXISTS scheduled (
  id TEXT PRIMARY KEY,
  sender_id TEXT NOT NULL,
  client_message_id TEXT NOT NULL,
  send_at INTEGER NOT NULL,
  input TEXT NOT NULL,
  attachments TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  UNIQUE (sender_id, client_message_id)
);
CREATE INDEX IF NOT EXISTS scheduled_due_idx ON scheduled (send_at);
`;

/** A scheduled row as its author sees it. */
export function scheduledView(chatId: string, row: ScheduledRow): ScheduledMessage {
  const { attachments: _ids, ...content } = JSON.parse(row.input) as ScheduledContent;
  return {
    ...content,
    id: row.id,
    chatId,
    clientMessageId: row.client_message_id,
    scheduledAt: iso(row.send_at),
    attachments: row.attachments ? (JSON.parse(row.attachments) as Attachment[]) : [],
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Scheduled messages one member may have waiting in one chat. */
export const MAX_SCHEDULED_PER_MEMBER = 100;

/**
 * Until it is sent, a scheduled message's attachments are referenced under this chat id, which
 * no membership matches: they stay out of the unattached sweep, and nobody but their owner can
 * read them before the message exists.
 */
export const pendingChat = (chatId: string) => `scheduled:${chatId}`;
