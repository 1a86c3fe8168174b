import { and, eq } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import type { Database } from "../db/client";
import { type ChatRow, chatMembers, chats, type MemberRow } from "../db/schema";
import type { AppEnv, AuthContext, ChatAccess } from "../env";
import { sessionKeyDevice } from "../keys/service";
import { AppError, notFound } from "../lib/errors";
import { parseOrThrow } from "../lib/validate";
import type { KeyDevice, MemberPermissions, MemberRole } from "../rooms/types";
import { effectivePermissions, parsePermissions } from "../rooms/types";
import { ChatIdParam } from "./schemas";

export type { ChatAccess, ChatRow, MemberRow };

/**
 * The middleware of every route under /chats/{chatId} (after requireAuth): the chat and the
 * caller's membership in one query (two primary-key lookups), set as `c.var.chatAccess`. Not a
 * member, or no such chat, answers `404 not_found` alike; services take the access instead of
 * reading the membership again.
 */
export const chatMember: MiddlewareHandler<AppEnv> = async (c, next) => {
  // Route middleware runs before the route's validators: check the id the same way they would.
  const { chatId } = parseOrThrow(ChatIdParam, { chatId: c.req.param("chatId") }, "param");
  c.set("chatAccess", await requireChatMember(c.var.db, chatId, c.var.auth.userId));
  await next();
};

/**
 * The caller's key device in an end-to-end encrypted chat (its envelopes are the ones they get;
 * null when the session's device has no keys); null without a lookup in any other chat.
 */
export const readerKeyDevice = (db: Database, auth: AuthContext, chat: Pick<ChatRow, "encrypted">): Promise<KeyDevice | null> =>
  chat.encrypted ? sessionKeyDevice(db, auth) : Promise.resolve(null);

/** The membership lookup on the (chat_id, user_id) primary key (exported for plan and rows_read tests). */
export const membershipQuery = (db: Database, chatId: string, userId: string) =>
  db
    .select()
    .from(chatMembers)
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .limit(1);

/**
 * The chat and the caller's membership in one query (two primary-key lookups). Not a member, or
 * no such chat, answers `404 not_found` alike, so nobody learns which chats exist.
 */
export async function requireChatMember(db: Database, chatId: string, userId: string): Promise<{ chat: ChatRow; member: MemberRow }> {
  const [row] = await db
    .select({ chat: chats, member: chatMembers })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, userId)))
    .limit(1);
  if (!row) throw notFound("Chat");
  return row;
}

/** Another member of the chat (any role), or `404 not_found` ("Member not found"). */
export async function requireOtherMember(db: Database, chatId: string, userId: string): Promise<MemberRow> {
  const [member] = await membershipQuery(db, chatId, userId);
  if (!member) throw notFound("Member");
  return member;
}

const RANK: Record<MemberRole, number> = { owner: 3, admin: 2, member: 1 };

/** Owners and admins: every permission, and moderation of plain members. */
export const isPrivileged = (role: MemberRole) => role === "owner" || role === "admin";

/** The chat's default permissions for plain members. */
export const chatDefaults = (chat: Pick<ChatRow, "permissions">): MemberPermissions =>
  effectivePermissions("member", parsePermissions(chat.permissions), null);

/** A member's own overrides as stored in D1. */
export const memberOverrides = (member: Pick<MemberRow, "permissions">) => parsePermissions(member.permissions);

/** What a member may do: everything for owners and admins, else the chat defaults with their overrides. */
export function memberPermissions(chat: Pick<ChatRow, "permissions">, member: Pick<MemberRow, "role" | "permissions">): MemberPermissions {
  return effectivePermissions(member.role, parsePermissions(chat.permissions), memberOverrides(member));
}

const denied = (message: string, required: string) => new AppError(403, "permission_denied", message, { required });

/** `403 permission_denied` unless the member holds `permission` (owners and admins hold all). */
export function requirePermission(chat: ChatRow, member: MemberRow, permission: keyof MemberPermissions): void {
  if (!memberPermissions(chat, member)[permission]) throw denied(`You need the ${permission} permission in this chat`, permission);
}

/** `403 permission_denied` unless the member's role is at least `min`. */
export function requireRole(member: Pick<MemberRow, "role">, min: "owner" | "admin"): void {
  if (RANK[member.role] < RANK[min])
    throw denied(min === "owner" ? "Only the owner can do this" : "Only owners and admins can do this", min);
}

/** `403 permission_denied` unless `actor` outranks `target` (owner > admin > member); nobody manages the owner. */
export function requireOutranks(actor: Pick<MemberRow, "role">, target: Pick<MemberRow, "role">): void {
  if (target.role === "owner") throw denied("Nobody can change or remove the owner; the owner can transfer ownership", "owner");
  if (RANK[actor.role] <= RANK[target.role]) {
    throw denied(
      target.role === "admin" ? "Only the owner can manage admins" : "Only owners and admins can manage members",
      target.role === "admin" ? "owner" : "admin",
    );
  }
}

/** Direct chats have fixed membership, no settings and no owner: `400 direct_chat_unsupported`. */
export function refuseDirect(chat: Pick<ChatRow, "type">, what: string): void {
  if (chat.type === "direct") throw new AppError(400, "direct_chat_unsupported", `Direct chats do not support ${what}`);
}
