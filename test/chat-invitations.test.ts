import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { invitationsPageQuery } from "../src/chats/invitations";
import { createDb } from "../src/db/client";
import {
  addContact,
  block,
  C,
  createChannel,
  createGroup,
  expectInvalid,
  getChat,
  MISSING,
  memberCount,
  ok,
  send,
  setPrivacy,
  systemEvents,
} from "./chat-helpers";
import { api, expectError, STRONG_PASSWORD, signUp, type TestUser } from "./helpers";

const I = `${C}/invitations`;
const add = (u: TestUser, chatId: string, userIds: string[]) =>
  api("POST", `${C}/${chatId}/members`, { token: u.accessToken, body: { userIds } });
const invitations = (u: TestUser | undefined, query = "") => api("GET", `${I}${query}`, { token: u?.accessToken });
const accept = (u: TestUser | undefined, chatId: string) => api("POST", `${I}/${chatId}/accept`, { token: u?.accessToken });
const decline = (u: TestUser | undefined, chatId: string) => api("POST", `${I}/${chatId}/decline`, { token: u?.accessToken });
const members = (u: TestUser, chatId: string) => api("GET", `${C}/${chatId}/members?limit=100`, { token: u.accessToken });
const invitationRows = async (where: string, ...binds: string[]) =>
  (
    await env.DB.prepare(`SELECT chat_id, user_id, invited_by, created_at FROM chat_invitations WHERE ${where} ORDER BY chat_id, user_id`)
      .bind(...binds)
      .all<{ chat_id: string; user_id: string; invited_by: string; created_at: number }>()
  ).results;
const invitationsTo = (userId: string) => invitationRows("user_id = ?", userId);

/** A user who allows nobody to add them to groups. */
async function closedUser(displayName?: string) {
  const u = await signUp(displayName ? { displayName } : {});
  await setPrivacy(u, { groupInvites: "nobody" });
  return u;
}

describe("adding someone whose groupInvites privacy refuses the adder", () => {
  it("invites them instead (once, however often they are added) and reports them in `invited`", async () => {
    const [a, b, closed] = [await signUp(), await signUp(), await closedUser()];
    const chat = await createGroup(a);
    const body = await ok(await add(a, chat.id, [closed.id]));
    expect(body).toEqual({ added: [], alreadyMembers: [], invited: [closed.id], skipped: [] });
    const [row] = await invitationsTo(closed.id);
    expect(row).toMatchObject({ chat_id: chat.id, user_id: closed.id, invited_by: a.id });
    expect(row!.created_at).toBeGreaterThan(Date.now() - 60_000);
    expect(await memberCount(chat.id)).toEqual({ n: 1, rows: 1 });
    // Inviting again, by anyone, changes nothing: the first invitation stays.
    await ok(await add(a, chat.id, [b.id]));
    expect((await ok(await add(b, chat.id, [closed.id]))).invited).toEqual([closed.id]);
    expect(await invitationsTo(closed.id)).toEqual([row]);
  });

  it("invites people whose `contacts` setting does not include the adder, on create-group and in channels too", async () => {
    const [a, contactsOnly, friend] = [await signUp(), await signUp(), await signUp()];
    await setPrivacy(contactsOnly, { groupInvites: "contacts" });
    await setPrivacy(friend, { groupInvites: "contacts" });
    await addContact(friend, a);
    const res = await api("POST", C, {
      token: a.accessToken,
      body: { type: "group", name: "Invitations", memberIds: [contactsOnly.id, friend.id] },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ invited: [contactsOnly.id], skipped: [], chat: { memberCount: 2 } });
    expect(await invitationsTo(contactsOnly.id)).toMatchObject([{ chat_id: res.body.chat.id, invited_by: a.id }]);
    expect(await invitationsTo(friend.id)).toEqual([]);
    const channel = await createChannel(a);
    expect(await ok(await add(a, channel.id, [contactsOnly.id]))).toMatchObject({ added: [], invited: [contactsOnly.id] });
    expect(await invitationsTo(contactsOnly.id)).toHaveLength(2);
  });

  it("still skips blocked, inactive and unknown users silently: no invitation, the same answer as an unknown id", async () => {
    const [a, blocksA, blockedByA, gone] = [await closedUser(), await closedUser(), await closedUser(), await closedUser()];
    await block(blocksA, a);
    await block(a, blockedByA);
    await env.DB.prepare("UPDATE users SET status = 'banned' WHERE id = ?").bind(gone.id).run();
    const chat = await createGroup(a);
    for (const u of [blocksA, blockedByA, gone]) {
      const refused = expectError(await add(a, chat.id, [u.id]), 403, "cannot_add_user");
      expect(refused.details).toEqual({ userIds: [u.id] });
    }
    const unknown = expectError(await add(a, chat.id, [MISSING]), 403, "cannot_add_user");
    expect(unknown.details).toEqual({ userIds: [MISSING] });
    const created = await api("POST", C, { token: a.accessToken, body: { type: "group", name: "x", memberIds: [blocksA.id, MISSING] } });
    expect(created.body).toMatchObject({ invited: [], skipped: [blocksA.id, MISSING] });
    for (const u of [blocksA, blockedByA, gone]) expect(await invitationsTo(u.id)).toEqual([]);
    expect((await ok(await invitations(blocksA))).items).toEqual([]);
  });

  it("does not invite chat members or users banned from the chat", async () => {
    const [a, b, member] = [await signUp(), await closedUser(), await signUp()];
    const chat = await createGroup(a, [member]);
    await setPrivacy(member, { groupInvites: "nobody" });
    expect(await ok(await add(a, chat.id, [member.id]))).toMatchObject({ alreadyMembers: [member.id], invited: [] });
    expect(await ok(await api("POST", `${C}/${chat.id}/bans`, { token: a.accessToken, body: { userId: b.id } }), 201)).toBeTruthy();
    expectError(await add(a, chat.id, [b.id]), 403, "cannot_add_user");
    expect(await invitationRows("chat_id = ?", chat.id)).toEqual([]);
  });
});

describe("GET /chats/invitations", () => {
  it("lists my invitations newest first with the chat and the inviter, page by page", async () => {
    const [a, b, me] = [await signUp({ displayName: "Ann" }), await signUp(), await closedUser()];
    const chats = [await createGroup(a), await createGroup(b), await createChannel(a)];
    for (const [i, chat] of chats.entries()) {
      await ok(await add(i === 1 ? b : a, chat.id, [me.id]));
      // Distinct creation times, so "newest first" is the reverse order of creation.
      await env.DB.prepare("UPDATE chat_invitations SET created_at = ?3 WHERE chat_id = ?1 AND user_id = ?2")
        .bind(chat.id, me.id, Date.now() - (3 - i) * 1000)
        .run();
    }
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const body: any = await ok(await invitations(me, `?limit=2${cursor ? `&cursor=${cursor}` : ""}`));
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items);
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.map((i) => i.chat.id)).toEqual(chats.map((c) => c.id).reverse());
    expect(seen[0]).toEqual({
      chat: { id: chats[2].id, type: "channel", name: chats[2].name, avatarMediaId: null, memberCount: 1 },
      invitedBy: expect.objectContaining({ id: a.id, username: a.username, displayName: "Ann", isContact: false }),
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(seen[1].invitedBy.id).toBe(b.id);
    // Invitations made in the same millisecond page by chat id, none twice or left out.
    await env.DB.prepare("UPDATE chat_invitations SET created_at = 1 WHERE user_id = ?").bind(me.id).run();
    const tied: string[] = [];
    for (let next: string | null = "", guard = 0; next !== null && guard < 5; guard++) {
      const body: any = await ok(await invitations(me, `?limit=1${next ? `&cursor=${next}` : ""}`));
      tied.push(...body.items.map((i: any) => i.chat.id));
      next = body.nextCursor;
    }
    expect(tied).toEqual(
      chats
        .map((c) => c.id)
        .sort()
        .reverse(),
    );
    // Nobody else sees them.
    expect((await ok(await invitations(a))).items).toEqual([]);
  });

  it("hides invitations from someone with a block between us", async () => {
    const [a, b, me] = [await signUp(), await signUp(), await closedUser()];
    const [fromA, fromB] = [await createGroup(a), await createGroup(b)];
    await ok(await add(a, fromA.id, [me.id]));
    await ok(await add(b, fromB.id, [me.id]));
    await block(me, a);
    await block(b, me);
    expect((await ok(await invitations(me))).items).toEqual([]);
    expectError(await accept(me, fromA.id), 404, "not_found");
    expectError(await accept(me, fromB.id), 404, "not_found");
    expect(await invitationsTo(me.id)).toHaveLength(2);
  });

  it("reads one page through chat_invitations_user_idx without sorting", async () => {
    const db = createDb(env.DB);
    const planOf = async (query: ReturnType<typeof invitationsPageQuery>) => {
      const { sql, params } = query.toSQL();
      const rows = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      return rows.results.map((r) => r.detail);
    };
    const [first, next] = [
      await planOf(invitationsPageQuery(db, MISSING, 20)),
      await planOf(invitationsPageQuery(db, MISSING, 20, { t: 1, id: MISSING })),
    ];
    for (const plan of [first!, next!]) expect(plan.filter((d) => /^SCAN|TEMP B-TREE/.test(d))).toEqual([]);
    expect(first.join("\n")).toContain("SEARCH chat_invitations USING INDEX chat_invitations_user_idx (user_id=?)");
    // A later page starts its index range at the cursor instead of reading past the newer rows.
    expect(next.join("\n")).toContain("SEARCH chat_invitations USING INDEX chat_invitations_user_idx (user_id=? AND created_at<?)");
  });

  it("refuses bad queries and requests without a token", async () => {
    const me = await signUp();
    expectInvalid(await invitations(me, "?limit=0"), "query.limit");
    expectInvalid(await invitations(me, "?limit=101"), "query.limit");
    expectError(await invitations(me, "?cursor=%%%"), 400, "invalid_cursor");
    expectError(await invitations(undefined), 401, "unauthorized");
  });
});

describe("POST /chats/invitations/{chatId}/accept", () => {
  it("makes me a member the way an add does: counted, listed, an `added` message by the inviter, the invitation gone", async () => {
    const [a, b, me] = [await signUp(), await signUp(), await closedUser()];
    const chat = await createGroup(a, [b]);
    await ok(await add(a, chat.id, [me.id]));
    const body = await ok(await accept(me, chat.id));
    expect(body.chat).toMatchObject({ id: chat.id, type: "group", role: "member", memberCount: 3, unreadCount: 0 });
    expect(await invitationsTo(me.id)).toEqual([]);
    expect((await ok(await invitations(me))).items).toEqual([]);
    expect(await memberCount(chat.id)).toEqual({ n: 3, rows: 3 });
    const listed = (await ok(await members(b, chat.id))).items.find((m: any) => m.userId === me.id);
    expect(listed).toMatchObject({ role: "member", user: { id: me.id } });
    expect((await systemEvents(b, chat.id)).at(-1)).toEqual({ event: "added", actorId: a.id, userIds: [me.id], role: "member" });
    // The room knows me at once: I can post.
    expect((await send(me, chat.id, "thanks for the invite")).senderId).toBe(me.id);
    // The invitation is spent.
    expectError(await accept(me, chat.id), 404, "not_found");
    expectError(await decline(me, chat.id), 404, "not_found");
  });

  it("refuses someone banned from the chat since (403 banned) and a full chat (409 member_limit); the invitation stays", async () => {
    const [a, me, other] = [await signUp(), await closedUser(), await closedUser()];
    const chat = await createGroup(a);
    await ok(await add(a, chat.id, [me.id, other.id]));
    const until = new Date(Date.now() + 3_600_000).toISOString();
    await ok(await api("POST", `${C}/${chat.id}/bans`, { token: a.accessToken, body: { userId: me.id, until } }), 201);
    const banned = expectError(await accept(me, chat.id), 403, "banned");
    expect(Date.parse(banned.details.until)).toBe(Date.parse(until));
    await env.DB.prepare("UPDATE chats SET member_count = 1000 WHERE id = ?").bind(chat.id).run();
    const full = expectError(await accept(other, chat.id), 409, "member_limit");
    expect(full.details).toEqual({ limit: 1000 });
    expect((await memberCount(chat.id)).n).toBe(1000);
    expect((await invitationsTo(me.id)).length + (await invitationsTo(other.id)).length).toBe(2);
    await env.DB.prepare("UPDATE chats SET member_count = 1 WHERE id = ?").bind(chat.id).run();
    expect((await ok(await accept(other, chat.id))).chat.memberCount).toBe(2);
  });

  it("answers 404 for another user's invitation, an unknown chat and a declined invitation; 400 for a bad id", async () => {
    const [a, me, stranger] = [await signUp(), await closedUser(), await signUp()];
    const chat = await createGroup(a);
    await ok(await add(a, chat.id, [me.id]));
    expectError(await accept(stranger, chat.id), 404, "not_found");
    expectError(await decline(stranger, chat.id), 404, "not_found");
    expectError(await accept(a, chat.id), 404, "not_found");
    expectError(await getChat(stranger, chat.id), 404, "not_found");
    expect(await invitationsTo(me.id)).toHaveLength(1);
    expectError(await accept(me, MISSING), 404, "not_found");
    expectError(await decline(me, MISSING), 404, "not_found");
    expectInvalid(await accept(me, "not-a-uuid"), "params.chatId");
    expectInvalid(await decline(me, "not-a-uuid"), "params.chatId");
    expectError(await accept(undefined, chat.id), 401, "unauthorized");
    expectError(await decline(undefined, chat.id), 401, "unauthorized");
  });
});

describe("POST /chats/invitations/{chatId}/decline", () => {
  it("deletes the invitation (204); I am not a member and nobody is told", async () => {
    const [a, me] = [await signUp(), await closedUser()];
    const chat = await createGroup(a);
    await ok(await add(a, chat.id, [me.id]));
    const before = await systemEvents(a, chat.id);
    expect(await ok(await decline(me, chat.id), 204)).toBeNull();
    expect(await invitationsTo(me.id)).toEqual([]);
    expect((await ok(await invitations(me))).items).toEqual([]);
    expectError(await getChat(me, chat.id), 404, "not_found");
    expect(await memberCount(chat.id)).toEqual({ n: 1, rows: 1 });
    expect(await systemEvents(a, chat.id)).toEqual(before);
    expectError(await accept(me, chat.id), 404, "not_found");
    expectError(await decline(me, chat.id), 404, "not_found");
    // Adding again invites again.
    expect((await ok(await add(a, chat.id, [me.id]))).invited).toEqual([me.id]);
  });
});

describe("invitations end with what they point at", () => {
  it("go once the invitee becomes a member another way", async () => {
    const [a, me] = [await signUp(), await closedUser()];
    const chat = await createGroup(a, [], { isPublic: true });
    await ok(await add(a, chat.id, [me.id]));
    await ok(await api("POST", `${C}/join`, { token: me.accessToken, body: { chatId: chat.id } }));
    expect(await invitationsTo(me.id)).toEqual([]);
  });

  it("go with the chat when it is deleted", async () => {
    const [a, me] = [await signUp(), await closedUser()];
    const chat = await createGroup(a);
    await ok(await add(a, chat.id, [me.id]));
    await ok(await api("DELETE", `${C}/${chat.id}`, { token: a.accessToken }), 204);
    expect(await invitationsTo(me.id)).toEqual([]);
    expectError(await accept(me, chat.id), 404, "not_found");
  });

  it("go with an erased account, the invitations it received and those it sent", async () => {
    const [a, b, invitee, inviter] = [await signUp(), await signUp(), await closedUser(), await signUp()];
    const [fromA, fromInviter] = [await createGroup(a, [inviter]), await createGroup(inviter)];
    await setPrivacy(b, { groupInvites: "nobody" });
    await ok(await add(a, fromA.id, [invitee.id]));
    await ok(await add(inviter, fromA.id, [b.id]));
    await ok(await add(inviter, fromInviter.id, [b.id]));
    expect(await invitationRows("invited_by = ?", inviter.id)).toHaveLength(2);
    for (const u of [invitee, inviter]) {
      const res = await api("DELETE", "/api/v1/users/me", { token: u.accessToken, body: { password: STRONG_PASSWORD } });
      expect(res.status, res.text).toBe(204);
    }
    expect(await invitationsTo(invitee.id)).toEqual([]);
    expect(await invitationRows("invited_by = ?", inviter.id)).toEqual([]);
    expect((await ok(await invitations(b))).items).toEqual([]);
  });
});
