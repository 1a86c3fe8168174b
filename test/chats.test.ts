import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chatPageRowsQuery } from "../src/chats/list";
import { MUTE_FOREVER_MS } from "../src/chats/schemas";
import { createDb } from "../src/db/client";
import {
  addContact,
  block,
  C,
  createChannel,
  createDirect,
  createGroup,
  expectInvalid,
  expectSendRefused,
  flush,
  getChat,
  MISSING,
  queryPlan,
  send,
  setPrivacy,
  systemEvents,
} from "./chat-helpers";
import { api, BASE, expectError, signUp, type TestUser, uniqueIp } from "./helpers";
import { avatarFor } from "./media-helpers";

const post = (u: TestUser | undefined, body: unknown) => api("POST", C, { token: u?.accessToken, body });
const list = (u: TestUser, query = "") => api("GET", `${C}${query}`, { token: u.accessToken });
const patch = (u: TestUser, chatId: string, body: unknown) => api("PATCH", `${C}/${chatId}`, { token: u.accessToken, body });
const settings = (u: TestUser, chatId: string, body: unknown) => api("PUT", `${C}/${chatId}/settings`, { token: u.accessToken, body });
const memberRow = (chatId: string, userId: string) =>
  env.DB.prepare("SELECT role, hidden FROM chat_members WHERE chat_id = ? AND user_id = ?").bind(chatId, userId).first();

describe("POST /chats: groups and channels", () => {
  it("creates a group with the creator as owner, its members, an exact count and a `created` system message", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const res = await post(a, { type: "group", name: "  Hikers  ", description: "Weekends", memberIds: [b.id, c.id, b.id, a.id] });
    expect(res.status, res.text).toBe(201);
    const chat = res.body.chat;
    expect(res.body).toMatchObject({ skipped: [], invited: [] });
    expect(chat).toMatchObject({
      type: "group",
      name: "Hikers",
      description: "Weekends",
      isPublic: false,
      memberCount: 3,
      role: "owner",
      unreadCount: 0,
      lastSeq: 0,
      frozen: false,
    });
    expect(chat.permissions).toEqual({ sendMessages: true, sendMedia: true, addMembers: true, pinMessages: false, changeInfo: false });
    expect(Object.values(chat.myPermissions).every(Boolean)).toBe(true);
    expect(chat).toMatchObject({ mutedUntil: null, muted: false, pinned: false, archived: false, hidden: false });
    const counted = await env.DB.prepare(
      "SELECT member_count AS n, (SELECT count(*) FROM chat_members WHERE chat_id = ?1) AS rows FROM chats WHERE id = ?1",
    )
      .bind(chat.id)
      .first();
    expect(counted).toEqual({ n: 3, rows: 3 });
    expect(await memberRow(chat.id, b.id)).toMatchObject({ role: "member" });
    expect(await systemEvents(b, chat.id)).toEqual([{ event: "created", actorId: a.id, userIds: [b.id, c.id] }]);
  });

  it("creates a channel whose subscribers hold no permissions and cannot post", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createChannel(a, [b]);
    expect(chat).toMatchObject({ type: "channel", role: "owner", memberCount: 2 });
    expect(Object.values(chat.permissions).some(Boolean)).toBe(false);
    const seen = await getChat(b, chat.id);
    expect(seen.body.chat).toMatchObject({ role: "member", myPermissions: { sendMessages: false, addMembers: false } });
    await expectSendRefused(b, chat.id, 403, "channel_read_only");
    expect((await send(a, chat.id, "news")).text).toBe("news");
  });

  it("adds the people whose privacy and blocks allow it, invites those only their privacy keeps out, and skips the rest", async () => {
    const [a, open, nobody, contactsOnly, friend, blockedByMe, blockingMe, banned] = await Promise.all(
      Array.from({ length: 8 }, () => signUp()),
    );
    await setPrivacy(nobody!, { groupInvites: "nobody" });
    await setPrivacy(contactsOnly!, { groupInvites: "contacts" });
    await setPrivacy(friend!, { groupInvites: "contacts" });
    await addContact(friend!, a!);
    await block(a!, blockedByMe!);
    await block(blockingMe!, a!);
    await env.DB.prepare("UPDATE users SET status = 'banned' WHERE id = ?").bind(banned!.id).run();
    const ids = [open, nobody, contactsOnly, friend, blockedByMe, blockingMe, banned].map((u) => u!.id);
    const res = await post(a, { type: "group", name: "Screened", memberIds: [...ids, MISSING] });
    expect(res.status, res.text).toBe(201);
    expect(res.body.chat.memberCount).toBe(3);
    expect([...res.body.skipped].sort()).toEqual(
      [blockedByMe, blockingMe, banned]
        .map((u) => u!.id)
        .concat(MISSING)
        .sort(),
    );
    expect([...res.body.invited].sort()).toEqual([nobody!.id, contactsOnly!.id].sort());
    expect(await memberRow(res.body.chat.id, friend!.id)).toMatchObject({ role: "member" });
    expect(await memberRow(res.body.chat.id, nobody!.id)).toBeNull();
  });

  it.each([
    ["no type", { name: "x" }, "body.type"],
    ["an unknown type", { type: "forum", name: "x" }, "body.type"],
    ["a group without a name", { type: "group" }, "body.name"],
    ["a blank name", { type: "group", name: "   " }, "body.name"],
    ["a name over 128 characters", { type: "group", name: "x".repeat(129) }, "body.name"],
    ["a name with a control character", { type: "group", name: "a\u0007b" }, "body.name"],
    ["a description over 1024 characters", { type: "channel", name: "x", description: "d".repeat(1025) }, "body.description"],
    ["memberIds that are not ids", { type: "group", name: "x", memberIds: ["bob"] }, "body.memberIds.0"],
    ["more than 200 memberIds", { type: "group", name: "x", memberIds: Array.from({ length: 201 }, () => MISSING) }, "body.memberIds"],
    ["isPublic as a string", { type: "group", name: "x", isPublic: "yes" }, "body.isPublic"],
    ["an unknown field", { type: "group", name: "x", ownerId: MISSING }, "body"],
    ["a direct chat without memberIds", { type: "direct" }, "body.memberIds"],
    ["a direct chat with two memberIds", { type: "direct", memberIds: [MISSING, MISSING] }, "body.memberIds"],
    ["a direct chat with a name", { type: "direct", memberIds: [MISSING], name: "us" }, "body.name"],
  ])("refuses %s (400)", async (_label, body, path) => {
    const a = await signUp();
    expectInvalid(await post(a, body), path);
  });

  it("refuses malformed JSON, other content types and requests without a token", async () => {
    const a = await signUp();
    expectError(
      await api("POST", C, { token: a.accessToken, raw: "{nope", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(
      await api("POST", C, { token: a.accessToken, raw: "type=group", headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
    expectError(await post(undefined, { type: "group", name: "x" }), 401, "unauthorized");
  });
});

describe("POST /chats: direct chats", () => {
  it("creates one direct chat per pair: 201 first, then 200 with the same chat from either side", async () => {
    const [a, b] = [await signUp(), await signUp({ displayName: "Bea" })];
    const first = await post(a, { type: "direct", memberIds: [b.id] });
    expect(first.status, first.text).toBe(201);
    const chat = first.body.chat;
    expect(chat).toMatchObject({ type: "direct", name: "Bea", memberCount: 2, role: "member", peer: { id: b.id, displayName: "Bea" } });
    const again = await post(a, { type: "direct", memberIds: [b.id] });
    expect(again.status).toBe(200);
    expect(again.body.chat.id).toBe(chat.id);
    const reverse = await post(b, { type: "direct", memberIds: [a.id] });
    expect(reverse.status).toBe(200);
    expect(reverse.body.chat).toMatchObject({ id: chat.id, name: a.username, peer: { id: a.id } });
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM chats WHERE direct_key = ?").bind([a.id, b.id].sort().join(":")).first();
    expect(rows).toEqual({ n: 1 });
    // Both can talk at once.
    await send(b, chat.id, "hey");
  });

  it("makes one chat when both people open it at the same time", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const results = await Promise.all([
      post(a, { type: "direct", memberIds: [b.id] }),
      post(b, { type: "direct", memberIds: [a.id] }),
      post(a, { type: "direct", memberIds: [b.id] }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(results.map((r) => r.body.chat.id)).size).toBe(1);
    const chatId = results[0]!.body.chat.id;
    expect(await env.DB.prepare("SELECT member_count FROM chats WHERE id = ?").bind(chatId).first()).toEqual({ member_count: 2 });
    expect((await send(a, chatId, "first")).seq).toBeGreaterThan(0);
  });

  it("is refused between people where either blocked the other, also when the chat already exists", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    await createDirect(a, c);
    await block(b, a);
    expectError(await post(a, { type: "direct", memberIds: [b.id] }), 404, "not_found");
    expectError(await post(b, { type: "direct", memberIds: [a.id] }), 403, "blocked");
    await block(c, a);
    expectError(await post(a, { type: "direct", memberIds: [c.id] }), 404, "not_found");
  });

  it("refuses yourself (400) and unknown or inactive users (404)", async () => {
    const [a, gone] = [await signUp(), await signUp()];
    expectError(await post(a, { type: "direct", memberIds: [a.id] }), 400, "cannot_chat_with_self");
    expectError(await post(a, { type: "direct", memberIds: [MISSING] }), 404, "not_found");
    await env.DB.prepare("UPDATE users SET status = 'deleted' WHERE id = ?").bind(gone.id).run();
    expectError(await post(a, { type: "direct", memberIds: [gone.id] }), 404, "not_found");
  });

  it("opening a hidden direct chat again un-hides it for the opener", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createDirect(a, b);
    expect((await settings(a, chat.id, { hidden: true })).body.settings.hidden).toBe(true);
    const again = await post(a, { type: "direct", memberIds: [b.id] });
    expect(again.body.chat).toMatchObject({ id: chat.id, hidden: false });
    expect(await memberRow(chat.id, a.id)).toMatchObject({ hidden: 0 });
  });
});

describe("GET /chats", () => {
  it("lists my chats by last activity, pinned first, with previews, exact unread counts and my settings", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const g1 = await createGroup(a, [b]);
    const g2 = await createGroup(a, [b]);
    const g3 = await createGroup(a, [b]);
    expect((await list(a)).body.items.map((c: any) => c.id)).toEqual([g3.id, g2.id, g1.id]);
    await send(b, g1.id, "old chat wakes up");
    await flush(g1.id);
    const after = (await list(a)).body;
    expect(after.items.map((c: any) => c.id)).toEqual([g1.id, g3.id, g2.id]);
    expect(after.items[0]).toMatchObject({
      lastSeq: 2,
      unreadCount: 1,
      lastMessage: { seq: 2, senderId: b.id, type: "text", text: "old chat wakes up" },
    });
    expect(Date.parse(after.items[0].lastActivityAt)).toBeGreaterThanOrEqual(Date.parse(after.items[1].lastActivityAt));
    await settings(a, g2.id, { pinned: true });
    expect((await list(a)).body.items.map((c: any) => c.id)).toEqual([g2.id, g1.id, g3.id]);
    // Only mine: b sees the same three chats; a stranger sees none.
    expect((await list(b)).body.items).toHaveLength(3);
    expect((await list(await signUp())).body).toEqual({ items: [], nextCursor: null });
  });

  it("pages with a keyset cursor without gaps or repeats, also across the pinned boundary", async () => {
    const a = await signUp();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.unshift((await createGroup(a)).id);
    await settings(a, ids[3]!, { pinned: true });
    const expected = [ids[3], ids[0], ids[1], ids[2], ids[4]];
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list(a, `?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((c: any) => c.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(expected);
    expect(pages).toBe(3);
    const exact = await list(a, "?limit=5");
    expect(exact.body.items).toHaveLength(5);
    expect(exact.body.nextCursor).toBeNull();
  });

  it("keeps archived and hidden chats out of the default list and lists them on request", async () => {
    const a = await signUp();
    const [plain, archived, hidden] = [await createGroup(a), await createGroup(a), await createGroup(a)];
    await settings(a, archived.id, { archived: true });
    await settings(a, hidden.id, { hidden: true });
    expect((await list(a)).body.items.map((c: any) => c.id)).toEqual([plain.id]);
    expect((await list(a, "?archived=true")).body.items.map((c: any) => c.id)).toEqual([archived.id]);
    expect((await list(a, "?hidden=true")).body.items.map((c: any) => c.id)).toEqual([hidden.id]);
  });

  it("reads a page's memberships and chats by primary key (the order comes from my hub), never a SCAN of either", async () => {
    const db = createDb(env.DB);
    const ids = Array.from({ length: 20 }, () => crypto.randomUUID());
    const plan = await queryPlan(chatPageRowsQuery(db, MISSING, ids));
    // Both columns of a key: the primary key (chat_id, user_id) or the user index (user_id, chat_id).
    expect(plan.join("\n")).toMatch(
      /SEARCH chat_members USING (COVERING )?INDEX \w+ \((chat_id=\? AND user_id|user_id=\? AND chat_id)=\?\)/,
    );
    expect(plan.join("\n")).toMatch(/SEARCH chats USING INDEX sqlite_autoindex_chats_1 \(id=\?\)/);
    // Only the page's ids (a JSON parameter) are scanned: O(page), never O(my chats).
    expect(plan.filter((d) => /^SCAN/.test(d) && !/json_each/.test(d))).toEqual([]);
  });

  it("refuses bad queries and missing tokens", async () => {
    const a = await signUp();
    expectInvalid(await list(a, "?limit=0"), "query.limit");
    expectInvalid(await list(a, "?limit=101"), "query.limit");
    expectInvalid(await list(a, "?archived=yes"), "query.archived");
    expectError(await list(a, "?cursor=not-a-cursor"), 400, "invalid_cursor");
    expectError(await api("GET", C), 401, "unauthorized");
  });
});

describe("GET /chats/{chatId}", () => {
  it("shows a chat to its members and answers 404 to everyone else", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const res = await getChat(b, chat.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.chat).toMatchObject({ id: chat.id, name: chat.name, role: "member", memberCount: 2 });
    expectError(await getChat(stranger, chat.id), 404, "not_found");
    expectError(await getChat(a, MISSING), 404, "not_found");
    expectInvalid(await getChat(a, "not-an-id"), "params.chatId");
    expectError(await api("GET", `${C}/${chat.id}`), 401, "unauthorized");
  });
});

describe("PATCH /chats/{chatId}", () => {
  it("renames (with a `renamed` system message) and changes info with the changeInfo permission", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const avatar = await avatarFor(a);
    const renamed = await patch(a, chat.id, { name: "New name", description: "About us", avatarMediaId: avatar });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body.chat).toMatchObject({ name: "New name", description: "About us", avatarMediaId: avatar });
    const notices = await systemEvents(b, chat.id);
    expect(notices.at(-1)).toMatchObject({ event: "renamed", actorId: a.id, name: "New name", previousName: chat.name });
    // A plain member needs changeInfo, which admins grant through the chat's defaults.
    expectError(await patch(b, chat.id, { name: "Mine now" }), 403, "permission_denied");
    expect((await patch(a, chat.id, { permissions: { changeInfo: true } })).body.chat.permissions.changeInfo).toBe(true);
    expect((await patch(b, chat.id, { name: "Ours" })).body.chat.name).toBe("Ours");
    // Moderation settings stay with admins.
    expectError(await patch(b, chat.id, { slowModeSeconds: 10 }), 403, "permission_denied");
    expectError(await patch(b, chat.id, { isPublic: true }), 403, "permission_denied");
    // Clearing: null and empty descriptions.
    expect((await patch(a, chat.id, { description: null, avatarMediaId: null })).body.chat).toMatchObject({
      description: null,
      avatarMediaId: null,
    });
  });

  it("applies slow mode and default permissions in the room at once", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    expect((await patch(a, chat.id, { slowModeSeconds: 60 })).body.chat.slowModeSeconds).toBe(60);
    await send(b, chat.id, "one");
    await expectSendRefused(b, chat.id, 429, "slow_mode");
    await send(a, chat.id, "admins are not slowed");
    await patch(a, chat.id, { slowModeSeconds: 0, permissions: { sendMessages: false } });
    await expectSendRefused(b, chat.id, 403, "send_forbidden");
    await patch(a, chat.id, { permissions: { sendMessages: true } });
    await send(b, chat.id, "back");
  });

  it("refuses bad bodies, direct chats and non-members", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    expectInvalid(await patch(a, chat.id, {}), "body");
    expectInvalid(await patch(a, chat.id, { topic: "x" }), "body");
    expectInvalid(await patch(a, chat.id, { slowModeSeconds: 3601 }), "body.slowModeSeconds");
    expectInvalid(await patch(a, chat.id, { slowModeSeconds: -1 }), "body.slowModeSeconds");
    expectInvalid(await patch(a, chat.id, { name: "" }), "body.name");
    expectInvalid(await patch(a, chat.id, { permissions: { sendPolls: true } }), "body.permissions");
    expectError(await patch(stranger, chat.id, { name: "x" }), 404, "not_found");
    const direct = await createDirect(a, b);
    expectError(await patch(a, direct.id, { name: "x" }), 400, "direct_chat_unsupported");
  });
});

describe("DELETE /chats/{chatId}", () => {
  it("lets only the owner delete; the chat, its members and its room are gone", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c]);
    await api("PATCH", `${C}/${chat.id}/members/${b.id}`, { token: a.accessToken, body: { role: "admin" } });
    await send(c, chat.id, "soon gone");
    expectError(await api("DELETE", `${C}/${chat.id}`, { token: b.accessToken }), 403, "permission_denied");
    expectError(await api("DELETE", `${C}/${chat.id}`, { token: c.accessToken }), 403, "permission_denied");
    const res = await api("DELETE", `${C}/${chat.id}`, { token: a.accessToken });
    expect(res.status, res.text).toBe(204);
    for (const u of [a, b, c]) expectError(await getChat(u, chat.id), 404, "not_found");
    expectError(await api("GET", `${C}/${chat.id}/messages`, { token: a.accessToken }), 404, "not_found");
    const rows = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM chats WHERE id = ?1) AS chats, (SELECT count(*) FROM chat_members WHERE chat_id = ?1) AS members",
    )
      .bind(chat.id)
      .first();
    expect(rows).toEqual({ chats: 0, members: 0 });
    expectError(await api("DELETE", `${C}/${chat.id}`, { token: a.accessToken }), 404, "not_found");
  });

  it("refuses direct chats and strangers", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const direct = await createDirect(a, b);
    expectError(await api("DELETE", `${C}/${direct.id}`, { token: a.accessToken }), 400, "direct_chat_unsupported");
    const group = await createGroup(a);
    expectError(await api("DELETE", `${C}/${group.id}`, { token: b.accessToken }), 404, "not_found");
    expectError(await api("DELETE", `${C}/${group.id}`), 401, "unauthorized");
  });
});

describe("POST /chats/{chatId}/freeze and /unfreeze", () => {
  it("freezes for owners and admins: nobody can post until it is unfrozen", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    expectError(await api("POST", `${C}/${chat.id}/freeze`, { token: b.accessToken }), 403, "permission_denied");
    const frozen = await api("POST", `${C}/${chat.id}/freeze`, { token: a.accessToken });
    expect(frozen.status, frozen.text).toBe(200);
    expect(frozen.body.chat.frozen).toBe(true);
    expect((await api("POST", `${C}/${chat.id}/freeze`, { token: a.accessToken })).body.chat.frozen).toBe(true);
    await expectSendRefused(b, chat.id, 403, "chat_frozen");
    await expectSendRefused(a, chat.id, 403, "chat_frozen");
    expect((await api("POST", `${C}/${chat.id}/unfreeze`, { token: a.accessToken })).body.chat.frozen).toBe(false);
    await send(b, chat.id, "thawed");
  });

  it("refuses direct chats and strangers", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const direct = await createDirect(a, b);
    expectError(await api("POST", `${C}/${direct.id}/freeze`, { token: a.accessToken }), 400, "direct_chat_unsupported");
    const group = await createGroup(a);
    expectError(await api("POST", `${C}/${group.id}/unfreeze`, { token: b.accessToken }), 404, "not_found");
  });
});

describe("PUT /chats/{chatId}/settings", () => {
  it("mutes until a time, forever, or not at all, and pins, archives and hides for me only", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const until = new Date(Date.now() + 3600_000).toISOString();
    expect((await settings(a, chat.id, { mutedUntil: until })).body.settings).toEqual({
      mutedUntil: until,
      muted: true,
      pinned: false,
      archived: false,
      hidden: false,
    });
    const forever = await settings(a, chat.id, { mutedUntil: "forever", pinned: true, archived: true });
    expect(forever.body.settings).toEqual({
      mutedUntil: new Date(MUTE_FOREVER_MS).toISOString(),
      muted: true,
      pinned: true,
      archived: true,
      hidden: false,
    });
    expect(forever.body.settings.mutedUntil).toBe("9999-12-31T23:59:59.999Z");
    expect((await settings(a, chat.id, { mutedUntil: null, archived: false })).body.settings).toMatchObject({
      mutedUntil: null,
      muted: false,
      pinned: true,
    });
    expect((await settings(a, chat.id, { mutedUntil: new Date(Date.now() - 1000).toISOString() })).body.settings.muted).toBe(false);
    // b's settings are untouched.
    expect((await getChat(b, chat.id)).body.chat).toMatchObject({ muted: false, pinned: false, archived: false });
  });

  it("refuses bad bodies and other people's chats", async () => {
    const [a, stranger] = [await signUp(), await signUp()];
    const chat = await createGroup(a);
    expectInvalid(await settings(a, chat.id, {}), "body");
    expectInvalid(await settings(a, chat.id, { mutedUntil: "tomorrow" }), "body.mutedUntil");
    expectInvalid(await settings(a, chat.id, { pinned: "yes" }), "body.pinned");
    expectInvalid(await settings(a, chat.id, { starred: true }), "body");
    expectError(await settings(stranger, chat.id, { pinned: true }), 404, "not_found");
    expectError(await api("PUT", `${C}/${chat.id}/settings`, { body: { pinned: true } }), 401, "unauthorized");
  });
});

describe("every chat and message route", () => {
  const routes: [string, string][] = [
    ["POST", ""],
    ["GET", ""],
    ["GET", "/unread"],
    ["GET", "/{c}"],
    ["PATCH", "/{c}"],
    ["DELETE", "/{c}"],
    ["PUT", "/{c}/settings"],
    ["POST", "/{c}/freeze"],
    ["POST", "/{c}/unfreeze"],
    ["GET", "/{c}/members"],
    ["POST", "/{c}/members"],
    ["PATCH", "/{c}/members/{u}"],
    ["DELETE", "/{c}/members/{u}"],
    ["POST", "/{c}/leave"],
    ["POST", "/{c}/transfer-ownership"],
    ["GET", "/{c}/ws"],
    ["POST", "/{c}/messages"],
    ["GET", "/{c}/messages"],
    ["GET", "/{c}/messages/{m}"],
    ["PATCH", "/{c}/messages/{m}"],
    ["DELETE", "/{c}/messages/{m}"],
    ["GET", "/{c}/messages/{m}/receipts"],
    ["POST", "/{c}/read"],
    ["POST", "/{c}/delivered"],
    ["GET", "/{c}/events"],
  ];
  const fill = (path: string, chatId: string, userId: string, messageId: string) =>
    `${C}${path.replace("{c}", chatId).replace("{u}", userId).replace("{m}", messageId)}`;
  const bodies: Record<string, unknown> = {
    "PATCH /{c}": { name: "x" },
    "PUT /{c}/settings": { pinned: true },
    "POST /{c}/members": { userIds: [MISSING] },
    "PATCH /{c}/members/{u}": { role: "admin" },
    "POST /{c}/transfer-ownership": { userId: MISSING },
    "POST /{c}/messages": { clientMessageId: "k", text: "x" },
    "PATCH /{c}/messages/{m}": { text: "x" },
    "POST /{c}/read": { seq: 1 },
    "POST /{c}/delivered": { seq: 1 },
  };

  it("needs a token", async () => {
    for (const [method, path] of routes) {
      const res = await api(method, fill(path, MISSING, MISSING, MISSING), {
        body: bodies[`${method} ${path}`] ?? (method === "POST" && path === "" ? { type: "group", name: "x" } : undefined),
      });
      expectError(res, 401, "unauthorized");
    }
  });

  it("answers 404 for another user's chat, whatever the route", async () => {
    const [owner, member, stranger] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(owner, [member]);
    const m = await send(owner, chat.id, "not for strangers");
    for (const [method, path] of routes.filter(([, p]) => p.startsWith("/{c}"))) {
      const headers = path === "/{c}/ws" ? { upgrade: "websocket" } : undefined;
      const res = await api(method, fill(path, chat.id, member.id, m.id), {
        token: stranger.accessToken,
        body: bodies[`${method} ${path}`],
        headers,
      });
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
    // Nothing changed for the members.
    expect((await getChat(member, chat.id)).body.chat).toMatchObject({ name: chat.name, memberCount: 2, frozen: false });
  });
});

describe("GET /chats/{chatId}/ws", () => {
  const upgrade = (path: string, headers: Record<string, string> = {}) =>
    exports.default.fetch(new Request(BASE + path, { headers: { "cf-connecting-ip": uniqueIp(), Upgrade: "websocket", ...headers } }));

  it("upgrades a member (token in the query) and the room greets them", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const res = await upgrade(`${C}/${chat.id}/ws?access_token=${b.accessToken}`);
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const hello = new Promise<any>((resolve) =>
      ws.addEventListener("message", (e) => resolve(JSON.parse(e.data as string)), { once: true }),
    );
    ws.accept();
    expect(await hello).toMatchObject({ type: "hello", chatId: chat.id, lastSeq: 1 });
    ws.close(1000, "bye");
    // The Authorization header works too.
    const viaHeader = await upgrade(`${C}/${chat.id}/ws`, { authorization: `Bearer ${a.accessToken}` });
    expect(viaHeader.status).toBe(101);
    viaHeader.webSocket!.accept();
    viaHeader.webSocket!.close(1000, "bye");
  });

  it("refuses non-upgrades (426), missing tokens (401) and non-members (404)", async () => {
    const [a, stranger] = [await signUp(), await signUp()];
    const chat = await createGroup(a);
    const plain = await api("GET", `${C}/${chat.id}/ws`, { token: a.accessToken });
    expectError(plain, 426, "upgrade_required");
    expect(plain.headers.get("upgrade")).toBe("websocket");
    const anonymous = await upgrade(`${C}/${chat.id}/ws`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as any).error.code).toBe("unauthorized");
    const notMine = await upgrade(`${C}/${chat.id}/ws?access_token=${stranger.accessToken}`);
    expect(notMine.status).toBe(404);
    expect((await upgrade(`${C}/${MISSING}/ws?access_token=${a.accessToken}`)).status).toBe(404);
  });

  it("is documented with its 101 response", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const ws = doc.paths["/api/v1/chats/{chatId}/ws"].get;
    expect(Object.keys(ws.responses)).toEqual(expect.arrayContaining(["101", "401", "404", "426"]));
    for (const path of [
      "/api/v1/chats",
      "/api/v1/chats/unread",
      "/api/v1/chats/{chatId}/members/{userId}",
      "/api/v1/chats/{chatId}/messages/{messageId}/receipts",
    ]) {
      expect(doc.paths[path], path).toBeTruthy();
    }
  });
});
