import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  C,
  createChannel,
  createDirect,
  createGroup,
  expectInvalid,
  expectSendRefused,
  getChat,
  MISSING,
  send,
  systemEvents,
} from "./chat-helpers";
import { type ApiResponse, api, expectError, signUp, type TestUser } from "./helpers";
import { connectRoom } from "./room-helpers";

const ban = (u: TestUser | undefined, chatId: string, body: unknown) => api("POST", `${C}/${chatId}/bans`, { token: u?.accessToken, body });
const unban = (u: TestUser | undefined, chatId: string, userId: string) =>
  api("DELETE", `${C}/${chatId}/bans/${userId}`, { token: u?.accessToken });
const bans = (u: TestUser | undefined, chatId: string, query = "") => api("GET", `${C}/${chatId}/bans${query}`, { token: u?.accessToken });
const add = (u: TestUser, chatId: string, userIds: string[]) =>
  api("POST", `${C}/${chatId}/members`, { token: u.accessToken, body: { userIds } });
const patchMember = (u: TestUser, chatId: string, userId: string, body: unknown) =>
  api("PATCH", `${C}/${chatId}/members/${userId}`, { token: u.accessToken, body });
const counts = async (chatId: string) =>
  (await env.DB.prepare("SELECT member_count AS n, (SELECT count(*) FROM chat_members WHERE chat_id = ?1) AS rows FROM chats WHERE id = ?1")
    .bind(chatId)
    .first<{ n: number; rows: number }>())!;

async function ok(res: ApiResponse, status = 200) {
  expect(res.status, res.text).toBe(status);
  return res.body;
}

describe("POST /chats/{chatId}/bans", () => {
  it("removes a member, closes their socket with 4002, logs `banned` and keeps member_count exact", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b, c]);
    await send(b, chat.id, "before");
    const socket = await connectRoom(chat.id, b.id);
    const body = await ok(await ban(a, chat.id, { userId: b.id }), 201);
    expect(body.ban).toMatchObject({ userId: b.id, bannedBy: a.id, until: null, shadow: false });
    expect((await socket.closedWith()).code).toBe(4002);
    expect(await counts(chat.id)).toEqual({ n: 2, rows: 2 });
    expectError(await getChat(b, chat.id), 404, "not_found");
    await expectSendRefused(b, chat.id, 404, "not_found");
    expect((await systemEvents(a, chat.id)).at(-1)).toMatchObject({ event: "banned", actorId: a.id, userIds: [b.id] });
    // Banning again (or a non-member) records the ban and touches no membership.
    const again = await ok(await ban(a, chat.id, { userId: b.id, until: new Date(Date.now() + 3_600_000).toISOString() }), 201);
    expect(again.ban.until).not.toBeNull();
    expect(await counts(chat.id)).toEqual({ n: 2, rows: 2 });
  });

  it("refuses a banned user when added, until the ban is lifted", async () => {
    const [a, b, c] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    await ok(await ban(a, chat.id, { userId: b.id }), 201);
    await ok(await ban(a, chat.id, { userId: c.id }), 201); // never a member
    expect(expectError(await add(a, chat.id, [b.id, c.id]), 403, "cannot_add_user").details.userIds.sort()).toEqual([b.id, c.id].sort());
    expect(await counts(chat.id)).toEqual({ n: 1, rows: 1 });
    const listed = await ok(await bans(a, chat.id));
    expect(listed.items.map((x: any) => x.userId)).toEqual([b.id, c.id].sort());
    expect(await ok(await unban(a, chat.id, b.id), 204)).toBeNull();
    expectError(await unban(a, chat.id, b.id), 404, "not_found");
    const added = await ok(await add(a, chat.id, [b.id, c.id]));
    expect(added.added.map((m: any) => m.userId)).toEqual([b.id]);
    expect(added.skipped).toEqual([c.id]);
    expect((await send(b, chat.id, "back")).senderId).toBe(b.id);
  });

  it("lets a ban lapse once `until` has passed", async () => {
    const [a, b] = [await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    await ok(await ban(a, chat.id, { userId: b.id, until: new Date(Date.now() + 60_000).toISOString() }), 201);
    await env.DB.prepare("UPDATE chat_bans SET until = ?3 WHERE chat_id = ?1 AND user_id = ?2")
      .bind(chat.id, b.id, Date.now() - 1000)
      .run();
    expect((await ok(await bans(a, chat.id))).items).toEqual([]);
    expect((await ok(await add(a, chat.id, [b.id]))).added).toHaveLength(1);
  });

  it("follows the ranks: admins ban members, only the owner bans admins, nobody bans the owner or themselves", async () => {
    const [a, admin, admin2, m, m2] = [await signUp(), await signUp(), await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [admin, admin2, m, m2]);
    await ok(await patchMember(a, chat.id, admin.id, { role: "admin" }));
    await ok(await patchMember(a, chat.id, admin2.id, { role: "admin" }));
    expectError(await ban(m, chat.id, { userId: m2.id }), 403, "permission_denied");
    expectError(await bans(m, chat.id), 403, "permission_denied");
    expectError(await unban(m, chat.id, m2.id), 403, "permission_denied");
    expectError(await ban(admin, chat.id, { userId: admin2.id }), 403, "permission_denied");
    expectError(await ban(admin, chat.id, { userId: a.id }), 403, "permission_denied");
    expectError(await ban(admin, chat.id, { userId: admin.id }), 400, "cannot_ban_self");
    await ok(await ban(admin, chat.id, { userId: m.id }), 201);
    await ok(await ban(a, chat.id, { userId: admin2.id }), 201);
    expect(await counts(chat.id)).toEqual({ n: 3, rows: 3 });
    expectError(await ban(a, chat.id, { userId: MISSING }), 404, "not_found");
  });

  it("validates input, and hides chats from strangers, the signed-out and direct chats", async () => {
    const [a, b, stranger] = [await signUp(), await signUp(), await signUp()];
    const chat = await createGroup(a, [b]);
    expectInvalid(await ban(a, chat.id, { userId: b.id, until: new Date(Date.now() - 1000).toISOString() }), "body.until");
    expectInvalid(await ban(a, chat.id, { userId: "nope" }), "body.userId");
    expectInvalid(await ban(a, chat.id, { userId: b.id, extra: 1 }), "body");
    expectInvalid(await bans(a, chat.id, "?limit=0"), "query.limit");
    expectError(await bans(a, chat.id, "?cursor=%%%"), 400, "invalid_cursor");
    expectError(await ban(undefined, chat.id, { userId: b.id }), 401, "unauthorized");
    expectError(await bans(undefined, chat.id), 401, "unauthorized");
    expectError(await unban(undefined, chat.id, b.id), 401, "unauthorized");
    expectError(await ban(stranger, chat.id, { userId: b.id }), 404, "not_found");
    expectError(await bans(stranger, chat.id), 404, "not_found");
    expectError(await unban(stranger, chat.id, b.id), 404, "not_found");
    const direct = await createDirect(a, b);
    expectError(await ban(a, direct.id, { userId: b.id }), 400, "direct_chat_unsupported");
  });

  it("pages through bans of a channel", async () => {
    const a = await signUp();
    const users = [await signUp(), await signUp(), await signUp()];
    const channel = await createChannel(a, users);
    for (const u of users) await ok(await ban(a, channel.id, { userId: u.id }), 201);
    const first = await ok(await bans(a, channel.id, "?limit=2"));
    const second = await ok(await bans(a, channel.id, `?limit=2&cursor=${first.nextCursor}`));
    expect([...first.items, ...second.items].map((x: any) => x.userId)).toEqual(users.map((u) => u.id).sort());
    expect(second.nextCursor).toBeNull();
    expect(await counts(channel.id)).toEqual({ n: 1, rows: 1 });
  });
});
