import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { membershipQuery } from "../src/chats/access";
import { membersPageQuery } from "../src/chats/members";
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
  getChat,
  history,
  MISSING,
  memberCount,
  ok,
  queryPlan,
  send,
  setPrivacy,
  systemEvents,
} from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";

const members = (u: TestUser, chatId: string, query = "") => api("GET", `${C}/${chatId}/members${query}`, { token: u.accessToken });
const add = (u: TestUser, chatId: string, body: unknown) => api("POST", `${C}/${chatId}/members`, { token: u.accessToken, body });
const patchMember = (u: TestUser, chatId: string, userId: string, body: unknown) =>
  api("PATCH", `${C}/${chatId}/members/${userId}`, { token: u.accessToken, body });
const remove = (u: TestUser, chatId: string, userId: string) => api("DELETE", `${C}/${chatId}/members/${userId}`, { token: u.accessToken });
const leave = (u: TestUser, chatId: string) => api("POST", `${C}/${chatId}/leave`, { token: u.accessToken });
const transfer = (u: TestUser, chatId: string, userId: string) =>
  api("POST", `${C}/${chatId}/transfer-ownership`, { token: u.accessToken, body: { userId } });
const roles = async (u: TestUser, chatId: string) =>
  Object.fromEntries(((await members(u, chatId, "?limit=100")).body.items as any[]).map((m) => [m.userId, m.role]));

describe("GET /chats/{chatId}/members", () => {
  it("pages through members with roles, permissions and privacy-filtered profiles", async () => {
    const [a, b, c, d] = [await signUp(), await signUp({ displayName: "Bea" }), await signUp(), await signUp()];
    await setPrivacy(b, { lastSeen: "nobody" });
    const chat = await createGroup(a, [b, c, d]);
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const body: any = await ok(await members(c, chat.id, `?limit=3${cursor ? `&cursor=${cursor}` : ""}`));
      expect(body.items.length).toBeLessThanOrEqual(3);
      seen.push(...body.items);
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.map((m) => m.userId)).toEqual([a.id, b.id, c.id, d.id].sort());
    const bea = seen.find((m) => m.userId === b.id);
    expect(bea).toMatchObject({
      role: "member",
      user: { id: b.id, displayName: "Bea" },
      permissions: { sendMessages: true, changeInfo: false },
    });
    expect(bea.user).not.toHaveProperty("lastSeenAt");
    expect(seen.find((m) => m.userId === a.id)).toMatchObject({ role: "owner", permissions: { changeInfo: true, pinMessages: true } });
  });

  it("hides channel subscribers from subscribers, and every chat from strangers", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    const channel = await createChannel(a, [b]);
    expect((await ok(await members(a, channel.id))).items).toHaveLength(2);
    expectError(await members(b, channel.id), 403, "permission_denied");
    const group = await createGroup(a, [b]);
    expectError(await members(stranger, group.id), 404, "not_found");
    expectError(await members(a, MISSING), 404, "not_found");
    expectInvalid(await members(a, `${group.id}`, "?limit=500"), "query.limit");
    expectError(await members(a, group.id, "?cursor=%%%"), 400, "invalid_cursor");
    expectError(await api("GET", `${C}/${group.id}/members`), 401, "unauthorized");
  });

  it("reads members and memberships through the (chat_id, user_id) primary key", async () => {
    const db = createDb(env.DB);
    for (const query of [
      membershipQuery(db, MISSING, MISSING),
      membersPageQuery(db, MISSING, 20),
      membersPageQuery(db, MISSING, 20, MISSING),
    ]) {
      const plan = await queryPlan(query);
      expect(plan.join("\n")).toMatch(
        /SEARCH chat_members USING INDEX sqlite_autoindex_chat_members_1 \(chat_id=\? AND user_id[=>]\?\)|SEARCH chat_members USING INDEX sqlite_autoindex_chat_members_1 \(chat_id=\?\)/,
      );
      expect(plan.filter((d) => /^SCAN|TEMP B-TREE/.test(d))).toEqual([]);
    }
    const [a] = [await signUp()];
    const chat = await createGroup(a);
    const { sql, params } = membershipQuery(db, chat.id, a.id).toSQL();
    const res = await env.DB.prepare(sql)
      .bind(...params)
      .all();
    expect(res.results).toHaveLength(1);
    expect(res.meta.rows_read).toBe(1);
  });
});

describe("POST /chats/{chatId}/members", () => {
  it("adds people, counts them exactly and leaves an `added` system message", async () => {
    const [a, b, c, d] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const body = await ok(await add(a, chat.id, { userIds: [c.id, d.id, b.id, c.id] }));
    expect(body.added.map((m: any) => m.userId).sort()).toEqual([c.id, d.id].sort());
    expect(body.added[0]).toMatchObject({ role: "member", user: { id: body.added[0].userId } });
    expect(body).toMatchObject({ alreadyMembers: [b.id], invited: [], skipped: [] });
    expect(await memberCount(chat.id)).toEqual({ n: 4, rows: 4 });
    expect((await systemEvents(c, chat.id)).at(-1)).toMatchObject({ event: "added", actorId: a.id, userIds: [c.id, d.id], role: "member" });
    expect((await send(d, chat.id, "glad to be here")).senderId).toBe(d.id);
    // Adding only existing members changes nothing.
    expect(await ok(await add(a, chat.id, { userIds: [b.id] }))).toEqual({ added: [], alreadyMembers: [b.id], invited: [], skipped: [] });
  });

  it("invites people whose groupInvites privacy refuses the adder, skips blocks, and answers 403 cannot_add_user when nobody can be added or invited", async () => {
    const [a, b, closed, contactsOnly, blocker] = [await signUp(), await signUp(), await signUp(), await signUp(), await signUp()];
    await setPrivacy(closed, { groupInvites: "nobody" });
    await setPrivacy(contactsOnly, { groupInvites: "contacts" });
    await block(blocker, a);
    const chat = await createGroup(a);
    const mixed = await ok(await add(a, chat.id, { userIds: [b.id, closed.id] }));
    expect(mixed).toMatchObject({ invited: [closed.id], skipped: [], alreadyMembers: [] });
    expect(mixed.added.map((m: any) => m.userId)).toEqual([b.id]);
    const someInvited = await ok(await add(a, chat.id, { userIds: [closed.id, contactsOnly.id, blocker.id, MISSING] }));
    expect(someInvited).toMatchObject({ added: [], invited: [closed.id, contactsOnly.id] });
    expect([...someInvited.skipped].sort()).toEqual([blocker.id, MISSING].sort());
    const refused = expectError(await add(a, chat.id, { userIds: [blocker.id, MISSING] }), 403, "cannot_add_user");
    expect([...refused.details.userIds].sort()).toEqual([blocker.id, MISSING].sort());
    await addContact(contactsOnly, a);
    expect((await ok(await add(a, chat.id, { userIds: [contactsOnly.id] }))).added).toHaveLength(1);
    // The privacy rule is about who adds: b is not in contactsOnly's contacts, so b's add is an invitation.
    await api("DELETE", `${C}/${chat.id}/members/${contactsOnly.id}`, { token: a.accessToken });
    expect(await ok(await add(b, chat.id, { userIds: [contactsOnly.id] }))).toMatchObject({ added: [], invited: [contactsOnly.id] });
    expect(await memberCount(chat.id)).toEqual({ n: 2, rows: 2 });
  });

  it("needs addMembers; admins always have it; only the owner adds admins", async () => {
    const [a, b, c, d, e] = [await signUp(), await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    // Group members may add by default.
    expect((await ok(await add(b, chat.id, { userIds: [c.id] }))).added).toHaveLength(1);
    expectError(await add(b, chat.id, { userIds: [d.id], role: "admin" }), 403, "permission_denied");
    await ok(await patchMember(a, chat.id, b.id, { role: "admin" }));
    expectError(await add(b, chat.id, { userIds: [d.id], role: "admin" }), 403, "permission_denied");
    expect((await ok(await add(a, chat.id, { userIds: [d.id], role: "admin" }))).added[0].role).toBe("admin");
    // Admins revoke it from a member.
    await ok(await patchMember(b, chat.id, c.id, { permissions: { addMembers: false } }));
    expectError(await add(c, chat.id, { userIds: [e.id] }), 403, "permission_denied");
    // Channel subscribers cannot add.
    const channel = await createChannel(a, [c]);
    expectError(await add(c, channel.id, { userIds: [e.id] }), 403, "permission_denied");
  });

  it("stops at the member limit with 409 member_limit and writes nothing", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a);
    // Pretend 998 others already joined (creating 1,000 accounts would only slow the test down).
    await env.DB.prepare("UPDATE chats SET member_count = 999 WHERE id = ?").bind(chat.id).run();
    const refused = expectError(await add(a, chat.id, { userIds: [b.id, c.id] }), 409, "member_limit");
    expect(refused.details).toEqual({ limit: 1000 });
    expect((await env.DB.prepare("SELECT member_count AS n FROM chats WHERE id = ?").bind(chat.id).first())!.n).toBe(999);
    expect((await ok(await add(a, chat.id, { userIds: [b.id] }))).added).toHaveLength(1);
    expect((await env.DB.prepare("SELECT member_count AS n FROM chats WHERE id = ?").bind(chat.id).first())!.n).toBe(1000);
    expectError(await add(a, chat.id, { userIds: [c.id] }), 409, "member_limit");
  });

  it("adds each user once when the same add runs concurrently", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a);
    const results = await Promise.all([add(a, chat.id, { userIds: [b.id, c.id] }), add(a, chat.id, { userIds: [b.id, c.id] })]);
    const added = results.flatMap((r) => r.body.added.map((m: any) => m.userId));
    expect(added.sort()).toEqual([b.id, c.id].sort());
    expect(await memberCount(chat.id)).toEqual({ n: 3, rows: 3 });
  });

  it("refuses bad bodies, direct chats and strangers", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a);
    expectInvalid(await add(a, chat.id, { userIds: [] }), "body.userIds");
    expectInvalid(await add(a, chat.id, { userIds: ["x"] }), "body.userIds.0");
    expectInvalid(await add(a, chat.id, { userIds: Array.from({ length: 201 }, () => MISSING) }), "body.userIds");
    expectInvalid(await add(a, chat.id, { userIds: [b.id], role: "owner" }), "body.role");
    expectInvalid(await add(a, chat.id, { userIds: [b.id], note: "hi" }), "body");
    expectError(await add(stranger, chat.id, { userIds: [b.id] }), 404, "not_found");
    const direct = await createDirect(a, b);
    expectError(await add(a, direct.id, { userIds: [stranger.id] }), 400, "direct_chat_unsupported");
  });
});

describe("PATCH /chats/{chatId}/members/{userId}", () => {
  it("the owner makes and unmakes admins, with `role_changed` system messages", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    const promoted = await ok(await patchMember(a, chat.id, b.id, { role: "admin" }));
    expect(promoted.member).toMatchObject({ userId: b.id, role: "admin", permissions: { changeInfo: true } });
    expect((await getChat(b, chat.id)).body.chat.role).toBe("admin");
    expect((await systemEvents(a, chat.id)).at(-1)).toMatchObject({
      event: "role_changed",
      actorId: a.id,
      userIds: [b.id],
      role: "admin",
      previousRole: "member",
    });
    expect((await ok(await patchMember(a, chat.id, b.id, { role: "member" }))).member.role).toBe("member");
  });

  it("admins manage members' permissions; the room applies them at once; null resets them", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c]);
    await ok(await patchMember(a, chat.id, b.id, { role: "admin" }));
    const muted = await ok(await patchMember(b, chat.id, c.id, { permissions: { sendMessages: false } }));
    expect(muted.member.permissions).toMatchObject({ sendMessages: false, sendMedia: true });
    await expectSendRefused(c, chat.id, 403, "send_forbidden");
    const granted = await ok(await patchMember(b, chat.id, c.id, { permissions: { pinMessages: true } }));
    expect(granted.member.permissions).toMatchObject({ sendMessages: false, pinMessages: true });
    expect((await ok(await patchMember(b, chat.id, c.id, { permissions: null }))).member.permissions).toMatchObject({
      sendMessages: true,
      pinMessages: false,
    });
    await send(c, chat.id, "unmuted");
  });

  it("nobody edits the owner, admins cannot manage admins, members cannot manage anyone", async () => {
    const [a, b, c, d] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c, d]);
    await ok(await patchMember(a, chat.id, b.id, { role: "admin" }));
    await ok(await patchMember(a, chat.id, c.id, { role: "admin" }));
    expectError(await patchMember(b, chat.id, a.id, { permissions: { sendMessages: false } }), 403, "permission_denied");
    expectError(await patchMember(a, chat.id, a.id, { role: "member" }), 403, "permission_denied");
    expectError(await patchMember(b, chat.id, c.id, { role: "member" }), 403, "permission_denied");
    expectError(await patchMember(b, chat.id, d.id, { role: "admin" }), 403, "permission_denied");
    expectError(await patchMember(d, chat.id, b.id, { permissions: { sendMessages: false } }), 403, "permission_denied");
    expect(await roles(a, chat.id)).toEqual({ [a.id]: "owner", [b.id]: "admin", [c.id]: "admin", [d.id]: "member" });
  });

  it("refuses bad bodies, non-members, direct chats and strangers", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    expectInvalid(await patchMember(a, chat.id, b.id, {}), "body");
    expectInvalid(await patchMember(a, chat.id, b.id, { role: "owner" }), "body.role");
    expectInvalid(await patchMember(a, chat.id, b.id, { permissions: {} }), "body.permissions");
    expectInvalid(await patchMember(a, chat.id, b.id, { permissions: { fly: true } }), "body.permissions");
    expectInvalid(await patchMember(a, chat.id, "nope", { role: "admin" }), "params.userId");
    expectError(await patchMember(a, chat.id, stranger.id, { role: "admin" }), 404, "not_found");
    expectError(await patchMember(stranger, chat.id, b.id, { role: "admin" }), 404, "not_found");
    const direct = await createDirect(a, b);
    expectError(await patchMember(a, direct.id, b.id, { role: "admin" }), 400, "direct_chat_unsupported");
  });
});

describe("DELETE /chats/{chatId}/members/{userId}", () => {
  it("removes a member who then cannot read, send, see the chat or open its socket", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c]);
    await send(b, chat.id, "before");
    expect((await remove(a, chat.id, b.id)).status).toBe(204);
    expectError(await history(b, chat.id), 404, "not_found");
    expectError(
      await api("POST", `${C}/${chat.id}/messages`, { token: b.accessToken, body: { clientMessageId: "x", text: "after" } }),
      404,
      "not_found",
    );
    expectError(await getChat(b, chat.id), 404, "not_found");
    expectError(await api("GET", `${C}/${chat.id}/ws`, { token: b.accessToken, headers: { upgrade: "websocket" } }), 404, "not_found");
    expect((await api("GET", C, { token: b.accessToken })).body.items).toEqual([]);
    expect(await memberCount(chat.id)).toEqual({ n: 2, rows: 2 });
    expect((await systemEvents(c, chat.id)).at(-1)).toMatchObject({ event: "removed", actorId: a.id, userIds: [b.id] });
    expectError(await remove(a, chat.id, b.id), 404, "not_found");
    // Added back, they can talk again.
    await ok(await add(a, chat.id, { userIds: [b.id] }));
    await send(b, chat.id, "back");
  });

  it("admins remove members, only the owner removes admins, members remove nobody", async () => {
    const [a, b, c, d] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c, d]);
    await ok(await patchMember(a, chat.id, b.id, { role: "admin" }));
    await ok(await patchMember(a, chat.id, c.id, { role: "admin" }));
    expectError(await remove(d, chat.id, c.id), 403, "permission_denied");
    expectError(await remove(b, chat.id, c.id), 403, "permission_denied");
    expectError(await remove(b, chat.id, a.id), 403, "permission_denied");
    expect((await remove(b, chat.id, d.id)).status).toBe(204);
    expect((await remove(a, chat.id, c.id)).status).toBe(204);
    expectError(await remove(a, chat.id, a.id), 400, "cannot_remove_self");
    expect(await roles(a, chat.id)).toEqual({ [a.id]: "owner", [b.id]: "admin" });
  });

  it("refuses direct chats and strangers", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    const direct = await createDirect(a, b);
    expectError(await remove(a, direct.id, b.id), 400, "direct_chat_unsupported");
    expectError(await remove(stranger, direct.id, b.id), 404, "not_found");
    expectError(await api("DELETE", `${C}/${direct.id}/members/${b.id}`), 401, "unauthorized");
  });
});

describe("POST /chats/{chatId}/leave", () => {
  it("lets members leave (a `left` system message); the owner must transfer first", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    expectError(await leave(a, chat.id), 409, "owner_must_transfer");
    expect((await leave(b, chat.id)).status).toBe(204);
    expectError(await getChat(b, chat.id), 404, "not_found");
    expect((await systemEvents(a, chat.id)).at(-1)).toMatchObject({ event: "left", actorId: b.id, userIds: [b.id] });
    expect(await memberCount(chat.id)).toEqual({ n: 1, rows: 1 });
    expectError(await leave(b, chat.id), 404, "not_found");
  });

  it("refuses direct chats", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const direct = await createDirect(a, b);
    expectError(await leave(a, direct.id), 400, "direct_chat_unsupported");
    expectError(await api("POST", `${C}/${direct.id}/leave`), 401, "unauthorized");
  });
});

describe("POST /chats/{chatId}/transfer-ownership", () => {
  it("hands ownership over; the old owner becomes an admin and may then leave", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createChannel(a, [b, c]);
    expectError(await transfer(b, chat.id, c.id), 403, "permission_denied");
    expectError(await transfer(a, chat.id, a.id), 400, "cannot_transfer_to_self");
    const stranger = await signUp();
    expectError(await transfer(a, chat.id, stranger.id), 404, "not_found");
    expect((await transfer(a, chat.id, b.id)).status).toBe(204);
    expect(await roles(b, chat.id)).toEqual({ [a.id]: "admin", [b.id]: "owner", [c.id]: "member" });
    expect((await systemEvents(c, chat.id)).at(-1)).toMatchObject({ event: "ownership_transferred", actorId: a.id, userIds: [b.id] });
    // The new owner posts and deletes; the old one is an admin (still posts) and can leave.
    await send(b, chat.id, "my channel now");
    await send(a, chat.id, "admin post");
    expectError(await transfer(a, chat.id, c.id), 403, "permission_denied");
    expect((await leave(a, chat.id)).status).toBe(204);
    expect((await api("DELETE", `${C}/${chat.id}`, { token: b.accessToken })).status).toBe(204);
  });

  it("refuses bad bodies, direct chats and strangers", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    expectInvalid(await api("POST", `${C}/${chat.id}/transfer-ownership`, { token: a.accessToken, body: {} }), "body.userId");
    expectInvalid(
      await api("POST", `${C}/${chat.id}/transfer-ownership`, { token: a.accessToken, body: { userId: b.id, keepAdmin: false } }),
      "body",
    );
    expectError(await transfer(stranger, chat.id, b.id), 404, "not_found");
    const direct = await createDirect(a, b);
    expectError(await transfer(a, direct.id, b.id), 400, "direct_chat_unsupported");
  });
});
