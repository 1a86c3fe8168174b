import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { chats } from "./chats";

/** Audio only, or with video. */
export const CALL_KINDS = ["audio", "video"] as const;
export type CallKind = (typeof CALL_KINDS)[number];
/** How the media flows: peer to peer between every pair (`mesh`, up to 8), or through an SFU. */
export const CALL_MEDIA = ["mesh", "sfu"] as const;
export type CallMediaKind = (typeof CALL_MEDIA)[number];
/**
 * Where a call stands: `ringing` until someone answers, then `active`; over as `ended` (it was
 * answered), or, never answered, `missed` (nobody answered in time, or the caller gave up),
 * `rejected` (declined) or `busy` (everyone called was in another call).
 */
export const CALL_STATUSES = ["ringing", "active", "ended", "missed", "rejected", "busy"] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];
/**
 * One person's part in a call: `ringing` (invited, their devices ring), `joined` (in the call on
 * one device), `left`, `rejected`, `missed` (never answered) or `busy` (already in another call).
 */
export const PARTICIPANT_STATES = ["ringing", "joined", "left", "rejected", "missed", "busy"] as const;
export type ParticipantState = (typeof PARTICIPANT_STATES)[number];

/**
 * Call records. Each call's CallRoom Durable Object (src/calls/call-room.ts) is the only writer of
 * its row and of its participants' rows: D1 holds the record that lists read, and the one fact
 * that spans calls, who is on the line (see callParticipants).
 */
export const calls = sqliteTable(
  "calls",
  {
    id: text("id").primaryKey(),
    chatId: text("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    callerId: text("caller_id").notNull(),
    kind: text("kind", { enum: CALL_KINDS }).notNull(),
    media: text("media", { enum: CALL_MEDIA }).notNull(),
    status: text("status", { enum: CALL_STATUSES }).notNull(),
    startedAt: integer("started_at").notNull(),
    /** When the first callee answered (null: never). */
    answeredAt: integer("answered_at"),
    endedAt: integer("ended_at"),
    /** Whole seconds from answered to ended (0 for calls never answered). */
    durationSeconds: integer("duration_seconds").notNull().default(0),
  },
  (t) => [index("calls_chat_idx").on(t.chatId, t.id)],
);
export type CallRow = typeof calls.$inferSelect;

/**
 * Who was called, and how it went for each. A person is on the line while `ringing` or `joined`
 * in some call: the unique partial index lets them be so in at most one call at a time, which is
 * what makes someone busy, exactly, even when two calls reach them at once.
 */
export const callParticipants = sqliteTable(
  "call_participants",
  {
    callId: text("call_id")
      .notNull()
      .references(() => calls.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    state: text("state", { enum: PARTICIPANT_STATES }).notNull(),
    /** The session (device) the call is bound to while `joined`; null otherwise. */
    sessionId: text("session_id"),
    invitedAt: integer("invited_at").notNull(),
    /** When they first joined (null: never). */
    joinedAt: integer("joined_at"),
    leftAt: integer("left_at"),
  },
  (t) => [
    primaryKey({ columns: [t.callId, t.userId] }),
    // My calls, newest first (call ids are UUIDv7).
    index("call_participants_user_idx").on(t.userId, t.callId),
    uniqueIndex("call_participants_line_uq").on(t.userId).where(sql`${t.state} IN ('ringing', 'joined')`),
  ],
);
export type CallParticipantRow = typeof callParticipants.$inferSelect;
