import { addMissingColumns } from "./schema-upgrade";
import type {
  Attachment,
  FlatJson,
  ForwardedFrom,
  GeoLocation,
  JsonObject,
  Message,
  MessageEntity,
  MessageType,
  Quote,
  SharedContact,
} from "./types";

/** The messages table of a room, as created today (older rooms get the later columns added: upgradeMessageColumns). */
export const MESSAGES_SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  sender_id TEXT,
  client_message_id TEXT,
  type TEXT NOT NULL,
  text TEXT,
  system TEXT,
  created_at INTEGER NOT NULL,
  story_id TEXT,
  edited_at INTEGER,
  deleted_at INTEGER,
  content TEXT,
  reply_to_seq INTEGER,
  reply_count INTEGER NOT NULL DEFAULT 0,
  quote_seq INTEGER,
  shadow INTEGER,
  expires_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_uq ON messages (sender_id, client_message_id) WHERE client_message_id IS NOT NULL;
`;

/** Indexes on columns older rooms only have after upgradeMessageColumns. */
const LATER_INDEXES = `
CREATE INDEX IF NOT EXISTS messages_thread_idx ON messages (reply_to_seq, seq) WHERE reply_to_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_quote_idx ON messages (quote_seq) WHERE quote_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_expiry_idx ON messages (expires_at) WHERE expires_at IS NOT NULL AND deleted_at IS NULL;
`;

/** Columns added after the first rooms were created, with their definitions. */
const LATER_COLUMNS: [name: string, definition: string][] = [
  ["story_id", "TEXT"],
  ["content", "TEXT"],
  ["reply_to_seq", "INTEGER"],
  ["reply_count", "INTEGER NOT NULL DEFAULT 0"],
  ["quote_seq", "INTEGER"],
  ["shadow", "INTEGER"],
  ["expires_at", "INTEGER"],
];

/** Bring an older room's messages table up to today's columns and their indexes. */
export function upgradeMessageColumns(sql: SqlStorage): void {
  addMissingColumns(sql, "messages", LATER_COLUMNS);
  sql.exec(LATER_INDEXES);
}

export interface MessageRow {
  seq: number;
  id: string;
  sender_id: string | null;
  client_message_id: string | null;
  type: string;
  text: string | null;
  system: string | null;
  created_at: number;
  story_id: string | null;
  edited_at: number | null;
  deleted_at: number | null;
  /** MessageContent as JSON (null: a plain text or system message, or erased by a delete). */
  content: string | null;
  reply_to_seq: number | null;
  reply_count: number;
  quote_seq: number | null;
  /** 1: sent while its sender was shadow-banned, seen by the sender alone; null otherwise. */
  shadow: number | null;
  /** A disappearing message: erased by the room's alarm at this time (ms). */
  expires_at: number | null;
  [key: string]: SqlStorageValue;
}

/** SQL condition on a messages row `m`: not a shadow message, unless the viewer (`?`) sent it. */
export const SEEN_BY_VIEWER_SQL = "(m.shadow IS NULL OR m.sender_id = ?)";

/** Whether `viewerId` may not see `row` because it is someone else's shadow message. */
export const shadowedFrom = (row: Pick<MessageRow, "shadow" | "sender_id">, viewerId: string) =>
  row.shadow === 1 && row.sender_id !== viewerId;

/** The media ids a stored row carries (none once it is deleted). */
export function attachmentIdsOf(row: Pick<MessageRow, "content">): string[] {
  if (!row.content?.includes('"attachments"')) return [];
  return ((JSON.parse(row.content) as MessageContent).attachments ?? []).map((a) => a.mediaId);
}

/** Everything a message carries besides its text, stored as one JSON column (only the fields present). */
export interface MessageContent {
  attachments?: Attachment[];
  location?: GeoLocation;
  contact?: SharedContact;
  entities?: MessageEntity[];
  replyTo?: { id: string; seq: number };
  quote?: Quote;
  forwardedFrom?: ForwardedFrom;
  mentions?: string[];
  mentionsAll?: boolean;
  silent?: boolean;
  metadata?: JsonObject;
  /** An encrypted message's blob for every member (base64). */
  ciphertext?: string;
}

/** The stored JSON of `content`, or null when it carries nothing. */
export function contentJson(content: MessageContent): string | null {
  const present = Object.entries(content).filter(([, v]) => v !== undefined && v !== false);
  return present.length === 0 ? null : JSON.stringify(Object.fromEntries(present));
}

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

/** A stored row as the API shows it (a deleted message keeps only its place: id, seq, sender, times). */
export function toMessage(row: MessageRow, chatId: string): Message {
  const deleted = row.deleted_at != null;
  const c: MessageContent = !deleted && row.content ? (JSON.parse(row.content) as MessageContent) : {};
  return {
    id: row.id,
    seq: row.seq,
    chatId,
    senderId: row.sender_id,
    clientMessageId: row.client_message_id,
    type: row.type as MessageType,
    text: deleted ? null : row.text,
    system: row.system ? (JSON.parse(row.system) as Message["system"]) : null,
    storyReply: row.story_id ? { storyId: row.story_id } : null,
    attachments: c.attachments ?? [],
    location: c.location ?? null,
    contact: c.contact ?? null,
    entities: c.entities ?? [],
    replyTo: c.replyTo ?? null,
    replyCount: row.reply_count,
    quote: c.quote ?? null,
    forwardedFrom: c.forwardedFrom ?? null,
    mentions: c.mentions ?? [],
    mentionsAll: c.mentionsAll ?? false,
    silent: c.silent ?? false,
    metadata: c.metadata ?? null,
    poll: null,
    createdAt: iso(row.created_at)!,
    editedAt: iso(row.edited_at),
    expiresAt: deleted ? null : iso(row.expires_at),
    deleted,
    reactions: [],
    // Each viewer's envelope is filled in by rooms/encrypted.ts.
    ...(row.type === "encrypted" ? { ciphertext: c.ciphertext ?? null, envelope: null } : {}),
  };
}

/** A message about to be stored (its seq is the room's next one). */
export interface NewMessage {
  id: string;
  senderId: string | null;
  clientMessageId: string | null;
  type: MessageType;
  text: string | null;
  system: FlatJson | null;
  storyId?: string | null;
  /** MessageContent as JSON (contentJson), or null. */
  content?: string | null;
  replyToSeq?: number | null;
  quoteSeq?: number | null;
  /** Sent while shadow-banned: seen by the sender alone. */
  shadow?: boolean;
  /** Erased at this time (ms): a disappearing message. */
  expiresAt?: number | null;
  at: number;
}

/**
 * Insert `m` as the message at `seq`, unless its sender already sent one with this client id (the
 * unique index decides, in the same statement): the stored row, or null when nothing was written.
 */
export function insertMessageRow(sql: SqlStorage, seq: number, m: NewMessage): MessageRow | null {
  const row: MessageRow = {
    seq,
    id: m.id,
    sender_id: m.senderId,
    client_message_id: m.clientMessageId,
    type: m.type,
    text: m.text,
    system: m.system ? JSON.stringify(m.system) : null,
    created_at: m.at,
    story_id: m.storyId ?? null,
    edited_at: null,
    deleted_at: null,
    content: m.content ?? null,
    reply_to_seq: m.replyToSeq ?? null,
    reply_count: 0,
    quote_seq: m.quoteSeq ?? null,
    shadow: m.shadow ? 1 : null,
    expires_at: m.expiresAt ?? null,
  };
  const written = sql.exec(
    `INSERT INTO messages (seq, id, sender_id, client_message_id, type, text, system, created_at, story_id, content, reply_to_seq, quote_seq, shadow, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (sender_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING`,
    row.seq,
    row.id,
    row.sender_id,
    row.client_message_id,
    row.type,
    row.text,
    row.system,
    row.created_at,
    row.story_id,
    row.content,
    row.reply_to_seq,
    row.quote_seq,
    row.shadow,
    row.expires_at,
  ).rowsWritten;
  return written === 0 ? null : row;
}
