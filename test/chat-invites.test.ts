import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { C, createDirect, createGroup, expectInvalid, expectSendRefused, getChat, MISSING, send, systemEvents } from "./chat-helpers";
import { type ApiResponse, api, BASE, expectError, signUp, type TestUser } from "./helpers";

const invite = (u: TestUser | undefined, chatId: string, body: unknown = {}) =>
  api("POST", `${C}/${chatId}/invites`, { token: u?.accessToken, body });
const invites = (u: TestUser | undefined, chatId: string, query = "") =>
  api("GET", `${C}/${chatId}/invites${query}`, { token: u?.accessToken });
const revoke = (u: TestUser | undefined, chatId: string, code: string) =>
  api("DELETE", `${C}/${chatId}/invites/${code}`, { token: u?.accessToken });
const join = (u: TestUser | undefined, body: unknown) => api("POST", `${C}/join`, { token: u?.accessToken, body });
const requests = (u: TestUser | undefined, chatId: string, query = "") =>
  api("GET", `${C}/${chatId}/join-requests${query}`, { token: u?.accessToken });
const decide = (u: TestUser | undefined, chatId: string, userId: string, decision: "approve" | "reject") =>
  api("POST", `${C}/${chatId}/join-requests/${userId}/${decision}`, { token: u?.accessToken });
const ban = (u: TestUser, chatId: string, body: unknown) => api("POST", `${C}/${chatId}/bans`, { token: u.accessToken, body });
const counts = async (chatId: string) =>
  (await env.DB.prepare("SELECT member_count AS n, (SELECT count(*) FROM chat_members WHERE chat_id = ?1) AS rows FROM chats WHERE id = ?1")
    .bind(chatId)
    .first<{ n: number; rows: number }>())!;
const uses = async (code: string) =>
  (await env.DB.prepare("SELECT uses FROM chat_invites WHERE code = ?").bind(code).first<{ uses: number }>())!.uses;

async function ok(res: ApiResponse, status = 200) {
  expect(res.status, res.text).toBe(status);
  return res.body;
}

describe("invite links", () => {
  it("creates a link, lets people join once with it and counts uses", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a);
    const created = await ok(await invite(a, chat.id, { maxUses: 5 }), 201);
    expect(created.code).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(created).toMatchObject({ url: `${BASE}/join/${created.code}`, maxUses: 5, uses: 0, requiresApproval: false, expiresAt: null });
    const joined = await ok(await join(b, { code: created.code }));
    expect(joined.chat).toMatchObject({ id: chat.id, role: "member", memberCount: 2 });
    expect((await send(b, chat.id, "hi all")).senderId).toBe(b.id);
    expect((await systemEvents(a, chat.id)).at(-1)).toMatchObject({ event: "joined", actorId: b.id, userIds: [b.id] });
    // Joining again changes nothing and answers the chat.
    expect((await ok(await join(b, { code: created.code }))).chat.id).toBe(chat.id);
    await ok(await join(c, { code: created.code }));
    expect(await uses(created.code)).toBe(2);
    expect(await counts(chat.id)).toEqual({ n: 3, rows: 3 });
  });

  it("stops at maxUses, at expiry and when revoked with 404 invite_invalid", async () => {
    const [a, b, c, d] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a);
    const once = await ok(await invite(a, chat.id, { maxUses: 1 }), 201);
    await ok(await join(b, { code: once.code }));
    expectError(await join(c, { code: once.code }), 404, "invite_invalid");
    expect(await uses(once.code)).toBe(1);

    const soon = await ok(await invite(a, chat.id, { expiresAt: new Date(Date.now() + 60_000).toISOString() }), 201);
    await env.DB.prepare("UPDATE chat_invites SET expires_at = ? WHERE code = ?")
      .bind(Date.now() - 1000, soon.code)
      .run();
    expectError(await join(c, { code: soon.code }), 404, "invite_invalid");

    const revoked = await ok(await invite(a, chat.id), 201);
    const listed = (await ok(await invites(a, chat.id))).items.map((i: any) => i.code);
    expect(listed).toEqual([revoked.code]); // used-up and expired links are not listed
    await ok(await revoke(a, chat.id, revoked.code), 204);
    expectError(await revoke(a, chat.id, revoked.code), 404, "not_found");
    expectError(await join(d, { code: revoked.code }), 404, "invite_invalid");
    expectError(await join(d, { code: "unknownCode12" }), 404, "invite_invalid");
    expect((await ok(await invites(a, chat.id))).items).toEqual([]);
    expect(await counts(chat.id)).toEqual({ n: 2, rows: 2 });
  });

  it("refuses banned users on join, and their sends", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b], { isPublic: true });
    const link = await ok(await invite(a, chat.id), 201);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    await ok(await ban(a, chat.id, { userId: b.id, until }), 201);
    await expectSendRefused(b, chat.id, 404, "not_found");
    const refused = expectError(await join(b, { code: link.code }), 403, "banned");
    expect(refused.details.until).toBe(until);
    expectError(await join(b, { chatId: chat.id }), 403, "banned");
    expect(await uses(link.code)).toBe(0);
    // Once the ban has passed they may join.
    await env.DB.prepare("UPDATE chat_bans SET until = ? WHERE chat_id = ? AND user_id = ?")
      .bind(Date.now() - 1, chat.id, b.id)
      .run();
    expect((await ok(await join(b, { chatId: chat.id }))).chat.id).toBe(chat.id);
  });

  it("joins public chats by id; private chats and direct chats by id are 404", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const open = await createGroup(a, [], { isPublic: true });
    const closed = await createGroup(a);
    expect((await ok(await join(b, { chatId: open.id }))).chat).toMatchObject({ id: open.id, role: "member" });
    expectError(await join(b, { chatId: closed.id }), 404, "not_found");
    expectError(await join(b, { chatId: MISSING }), 404, "not_found");
    expectError(await join(b, { chatId: (await createDirect(a, await signUp())).id }), 404, "not_found");
    expect(await counts(open.id)).toEqual({ n: 2, rows: 2 });
  });

  it("needs addMembers to create, admins to list, and validates input", async () => {
    const [a, b, c, stranger] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c]);
    const mine = await ok(await invite(b, chat.id), 201); // groups let members add by default
    expectError(await invites(b, chat.id), 403, "permission_denied");
    expectError(await revoke(c, chat.id, mine.code), 403, "permission_denied");
    await ok(await revoke(b, chat.id, mine.code), 204);
    await ok(await api("PATCH", `${C}/${chat.id}`, { token: a.accessToken, body: { permissions: { addMembers: false } } }));
    expectError(await invite(b, chat.id), 403, "permission_denied");
    expectInvalid(await invite(a, chat.id, { maxUses: 0 }), "body.maxUses");
    expectInvalid(await invite(a, chat.id, { maxUses: 100_001 }), "body.maxUses");
    expectInvalid(await invite(a, chat.id, { expiresAt: new Date(Date.now() - 1000).toISOString() }), "body.expiresAt");
    expectInvalid(await invite(a, chat.id, { nope: true }), "body");
    expectError(await join(b, { code: "x", chatId: chat.id }), 400, "validation_failed");
    expectError(await join(b, {}), 400, "validation_failed");
    expectError(await invite(undefined, chat.id), 401, "unauthorized");
    expectError(await invites(undefined, chat.id), 401, "unauthorized");
    expectError(await join(undefined, { chatId: chat.id }), 401, "unauthorized");
    expectError(await invite(stranger, chat.id), 404, "not_found");
    expectError(await invites(stranger, chat.id), 404, "not_found");
    expectError(await revoke(stranger, chat.id, mine.code), 404, "not_found");
    const direct = await createDirect(a, b);
    expectError(await invite(a, direct.id), 400, "direct_chat_unsupported");
  });

  it("pages through invites", async () => {
    const a = await signUp();
    const chat = await createGroup(a);
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) codes.push((await ok(await invite(a, chat.id), 201)).code);
    const first = await ok(await invites(a, chat.id, "?limit=2"));
    const second = await ok(await invites(a, chat.id, `?limit=2&cursor=${first.nextCursor}`));
    expect([...first.items, ...second.items].map((i: any) => i.code).sort()).toEqual([...codes].sort());
    expect(second.nextCursor).toBeNull();
  });
});

describe("join requests", () => {
  it("files a request through an approval link; admins approve or reject", async () => {
    const [a, b, c, d] = [await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [d]);
    const link = await ok(await invite(a, chat.id, { requiresApproval: true, maxUses: 10 }), 201);
    expect(await ok(await join(b, { code: link.code }), 202)).toEqual({ status: "pending" });
    expect(await ok(await join(b, { code: link.code }), 202)).toEqual({ status: "pending" });
    await ok(await join(c, { code: link.code }), 202);
    expect(await uses(link.code)).toBe(2);
    expectError(await getChat(b, chat.id), 404, "not_found");
    const pending = await ok(await requests(a, chat.id));
    expect(pending.items.map((r: any) => r.userId)).toEqual([b.id, c.id].sort());
    expectError(await requests(d, chat.id), 403, "permission_denied");
    expectError(await decide(d, chat.id, b.id, "approve"), 403, "permission_denied");
    expectError(await requests(b, chat.id), 404, "not_found");
    expectError(await requests(undefined, chat.id), 401, "unauthorized");
    expectError(await decide(undefined, chat.id, b.id, "approve"), 401, "unauthorized");

    await ok(await decide(a, chat.id, b.id, "approve"), 204);
    expect((await ok(await getChat(b, chat.id))).chat.role).toBe("member");
    expect((await systemEvents(a, chat.id)).at(-1)).toMatchObject({ event: "joined", actorId: a.id, userIds: [b.id] });
    await ok(await decide(a, chat.id, c.id, "reject"), 204);
    expectError(await decide(a, chat.id, c.id, "reject"), 404, "not_found");
    expectError(await decide(a, chat.id, c.id, "approve"), 404, "not_found");
    expectError(await getChat(c, chat.id), 404, "not_found");
    expect((await ok(await requests(a, chat.id))).items).toEqual([]);
    expect(await counts(chat.id)).toEqual({ n: 3, rows: 3 });
  });

  it("refuses approving someone banned meanwhile", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a);
    const link = await ok(await invite(a, chat.id, { requiresApproval: true }), 201);
    await ok(await join(b, { code: link.code }), 202);
    await ok(await ban(a, chat.id, { userId: b.id }), 201);
    expectError(await decide(a, chat.id, b.id, "approve"), 403, "banned");
    expectError(await join(b, { code: link.code }), 403, "banned");
    expect(await counts(chat.id)).toEqual({ n: 1, rows: 1 });
  });
});
