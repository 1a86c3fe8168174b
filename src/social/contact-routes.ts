import { createRoute, z } from "@hono/zod-openapi";
import { requireAuth } from "../auth/middleware";
import { presenceRulesChanged } from "../hubs/client";
import { bearerSecurity, errorResponses, json, jsonBody, newRouter, noContent } from "../lib/openapi";
import { listCloseFriends, setCloseFriends } from "./close-friends";
import { addContact, listContacts, removeContact } from "./contacts";
import * as s from "./schemas";
import { syncContacts } from "./sync";

const tags = ["Contacts"];
const auth = requireAuth();
const app = newRouter();

app.openapi(
  createRoute({
    method: "get",
    path: "/me/contacts",
    operationId: "listContacts",
    tags,
    summary: "My contacts",
    description: "Each item is the contact's profile as you may see it, plus your `nickname` and `addedAt`. Ordered by user id.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { query: s.PageQuery },
    responses: { 200: json(s.ContactPage), ...errorResponses(400, 401, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listContacts(c.var.db, c.var.auth.userId, limit, cursor), 200);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/me/contacts",
    operationId: "addContact",
    tags,
    summary: "Add a contact, or change a contact's nickname",
    description: "201 when added, 200 when already a contact (the nickname is updated when given). Yourself: `400 cannot_add_self`.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.AddContactBody) },
    responses: {
      201: json(z.object({ contact: s.Contact }), "Added"),
      200: json(z.object({ contact: s.Contact }), "Already a contact; nickname updated when given"),
      ...errorResponses(400, 401, 404, 413, 415, 503),
    },
  }),
  async (c) => {
    const { userId, nickname } = c.req.valid("json");
    const { created, contact } = await addContact(c.var.db, c.var.auth.userId, userId, nickname);
    // Under a `contacts` last-seen setting the new contact may now see the owner online.
    if (created) await presenceRulesChanged(c.env, [c.var.auth.userId, userId]);
    return c.json({ contact: contact }, created ? 201 : 200);
  },
);

app.openapi(
  createRoute({
    method: "delete",
    path: "/me/contacts/{userId}",
    operationId: "removeContact",
    tags,
    summary: "Remove a contact",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { params: s.UserIdParam },
    responses: { ...noContent, ...errorResponses(400, 401, 404, 503) },
  }),
  async (c) => {
    const { userId } = c.req.valid("param");
    await removeContact(c.var.db, c.var.auth.userId, userId);
    await presenceRulesChanged(c.env, [c.var.auth.userId, userId]);
    return c.body(null, 204);
  },
);

app.openapi(
  createRoute({
    method: "post",
    path: "/me/contacts/sync",
    operationId: "syncContacts",
    tags,
    summary: "Find people by phone numbers and emails from my address book",
    description:
      "At most 1,000 entries in total a call (`413 too_many_entries`), 20 calls an hour (`429 rate_limited`). Phones are " +
      "normalized to E.164 (`+1 (415) 555-0100` → `+14155550100`), emails trimmed and lower-cased; entries that are not " +
      "a phone/email are listed in `invalid` (field and index), not fatal. A user matches only by a verified phone/email " +
      "of an active account whose privacy for that field is `everyone`, or `contacts` with you in their contacts; " +
      "never when either of you blocked the other, never yourself. One item per matched entry (a user may match by " +
      "phone and by email). Matches are not added to your contacts.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.SyncBody) },
    responses: { 200: json(s.SyncResult), ...errorResponses(400, 401, 413, 415, 429, 503) },
  }),
  async (c) => {
    const result = await syncContacts(c.var.db, c.var.auth.userId, c.req.valid("json"));
    return c.json(result, 200);
  },
);

app.openapi(
  createRoute({
    method: "get",
    path: "/me/close-friends",
    operationId: "listCloseFriends",
    tags,
    summary: "My close friends (the story audience)",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { query: s.PageQuery },
    responses: { 200: json(s.ProfilePage), ...errorResponses(400, 401, 503) },
  }),
  async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const result = await listCloseFriends(c.var.db, c.var.auth.userId, limit, cursor);
    return c.json(result, 200);
  },
);

app.openapi(
  createRoute({
    method: "put",
    path: "/me/close-friends",
    operationId: "replaceCloseFriends",
    tags,
    summary: "Replace my close-friends list",
    description:
      `The whole list, at most ${s.CLOSE_FRIENDS_MAX} ids. Each must be another active user that neither of you blocked; ` +
      "otherwise `400 invalid_user_ids` with `details.userIds` and nothing changes. `[]` empties the list.",
    security: bearerSecurity,
    middleware: [auth] as const,
    request: { body: jsonBody(s.CloseFriendsBody) },
    responses: {
      200: json(z.object({ userIds: z.array(z.string()) }), "Saved; the ids, sorted"),
      ...errorResponses(400, 401, 413, 415, 503),
    },
  }),
  async (c) => {
    const userIds = await setCloseFriends(c.var.db, c.var.auth.userId, c.req.valid("json").userIds);
    return c.json({ userIds }, 200);
  },
);

export default app;
