import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { requireAuth } from "../auth/middleware";
import type { Database } from "../db/client";
import { chats } from "../db/schema";
import { notFound } from "../lib/errors";
import { actingUserSecurity, errorResponses, json, jsonBody, newRouter } from "../lib/openapi";
import { now } from "../lib/time";
import { MAX_TTL_SECONDS, MIN_TTL_SECONDS } from "../rooms/content";
import { type ChatAccess, chatMember, requireRole } from "./access";
import { configureRoom, type RoomEnv } from "./room-sync";
import * as s from "./schemas";
import { getChat } from "./service";

/**
 * Disappearing messages: PUT /api/v1/chats/{chatId}/message-ttl. Owners and admins of groups and
 * channels, either person in a direct chat. Messages sent from then on are erased by the room
 * `seconds` after they were sent; earlier ones keep the time they had. The change is a system
 * message (`ttl_changed`) and a chat.updated event.
 */
const app = newRouter();

/** The choices clients offer (any whole number of seconds ≥ MIN_TTL_SECONDS is taken too). */
export const TTL_PRESETS = { hour: 3_600, day: 86_400, week: 604_800 } as const;

const TtlBody = z
  .strictObject({
    seconds: z
      .number()
      .int()
      .min(MIN_TTL_SECONDS)
      .max(MAX_TTL_SECONDS)
      .nullable()
      .openapi({
        description: `null turns it off; 3600 (1 hour), 86400 (1 day), 604800 (1 week) or any ${MIN_TTL_SECONDS}–${MAX_TTL_SECONDS}`,
        example: TTL_PRESETS.day,
      }),
  })
  .openapi("MessageTtlRequest");

/** Set the chat's message time to live (see the file comment); unchanged values change nothing. */
export async function setMessageTtl(db: Database, env: RoomEnv, access: ChatAccess, seconds: number | null) {
  const { chat, member } = access;
  if (chat.type !== "direct") requireRole(member, "admin");
  if (chat.messageTtlSeconds !== seconds) {
    const [updated] = await db.update(chats).set({ messageTtlSeconds: seconds, updatedAt: now() }).where(eq(chats.id, chat.id)).returning();
    if (!updated) throw notFound("Chat");
    const notice = { event: "ttl_changed" as const, actorId: member.userId, seconds };
    await configureRoom(env, updated, { messageTtlSeconds: seconds }, notice);
    return getChat(db, env, { chat: updated, member });
  }
  return getChat(db, env, access);
}

app.openapi(
  createRoute({
    method: "put",
    path: "/{chatId}/message-ttl",
    operationId: "setMessageTtl",
    tags: ["Chats"],
    summary: "Turn disappearing messages on, off, or change their time",
    description:
      "Owners and admins of groups and channels (`403 permission_denied`), either person in a direct chat. Each message " +
      "sent from now on is erased (text, attachments, reactions, search entries) that many seconds after it was sent, with " +
      "a `message.expired` event; a message's own `ttlSeconds` overrides it. The change is a `ttl_changed` system message.",
    security: actingUserSecurity("chats:write"),
    middleware: [requireAuth({ apiKeyScope: "chats:write" }), chatMember] as const,
    request: { params: s.ChatIdParam, body: jsonBody(TtlBody) },
    responses: { 200: json(z.object({ chat: s.Chat })), ...errorResponses(400, 401, 403, 404, 413, 415, 503) },
  }),
  async (c) => {
    const chat = await setMessageTtl(c.var.db, c.env, c.var.chatAccess, c.req.valid("json").seconds);
    return c.json({ chat }, 200);
  },
);

export default app;
