import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { chatMembers } from "../db/schema";
import { notFound } from "../lib/errors";
import { now } from "../lib/time";
import type { ChatAccess, MemberRow } from "./access";
import { MUTE_FOREVER_MS } from "./schemas";
import { settingsView } from "./views";

export interface SettingsInput {
  /** ISO time, "forever" (stored as MUTE_FOREVER_MS) or null (unmute). */
  mutedUntil?: string | null;
  pinned?: boolean;
  archived?: boolean;
  hidden?: boolean;
}

/**
 * Change my own settings of a chat (a write to my membership row only). Pinning keeps the
 * original pin time when already pinned; a mute time in the past is stored as "not muted".
 */
export async function updateSettings(db: Database, { member }: ChatAccess, input: SettingsInput) {
  const { chatId, userId } = member;
  const at = now();
  const changes: Partial<MemberRow> = {};
  if (input.mutedUntil !== undefined) {
    const until = input.mutedUntil === null ? null : input.mutedUntil === "forever" ? MUTE_FOREVER_MS : Date.parse(input.mutedUntil);
    changes.mutedUntil = until !== null && until > at ? until : null;
  }
  if (input.pinned !== undefined) changes.pinnedAt = input.pinned ? (member.pinnedAt ?? at) : null;
  if (input.archived !== undefined) changes.archived = input.archived;
  if (input.hidden !== undefined) changes.hidden = input.hidden;
  const [updated] = await db
    .update(chatMembers)
    .set(changes)
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .returning();
  if (!updated) throw notFound("Chat");
  return settingsView(updated, at);
}
