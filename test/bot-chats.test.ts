import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { asBot, createBot, type TestBot, upgradeAsBot } from "./bot-helpers";
import { C, createDirect, createGroup, flush, ok, send } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { TestSocket } from "./room-helpers";
import { postStory } from "./story-helpers";

/**
 * Bots in chats: a bot opens a direct chat only with someone who messaged it there first
 * (403 bot_cannot_initiate); it is added to groups like anyone (groupInvites applies both ways);
 * its sockets take the token in the Authorization header only.
 */

const openDirect = (bot: TestBot, user: TestUser) => asBot(bot.token, "POST", C, { body: { type: "direct", memberIds: [user.id] } });
const directChats = async (a: string, b: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM chats WHERE direct_key IN (?1 || ':' || ?2, ?2 || ':' || ?1)")
    .bind(a, b)
    .first<{ n: number }>())!.n;
const botSend = (bot: TestBot, chatId: string, text: string) =>
  asBot(bot.token, "POST", `${C}/${chatId}/messages`, { body: { clientMessageId: crypto.randomUUID(), text } });

describe("a bot and direct chats", () => {
  it("cannot start one with someone who never wrote to it, nor through a story reply", async () => {
    const [bot, user] = [await createBot(), await signUp()];
    expectError(await openDirect(bot, user), 403, "bot_cannot_initiate");
    expect(await directChats(bot.id, user.id)).toBe(0);
    const story = await postStory(user);
    expectError(await asBot(bot.token, "POST", `/api/v1/stories/${story.id}/reply`, { body: { text: "hi" } }), 403, "bot_cannot_initiate");
    expect(await directChats(bot.id, user.id)).toBe(0);
  });

  it("cannot open one the person opened but never wrote in, even after they read it", async () => {
    const [bot, user] = [await createBot(), await signUp()];
    const chat = await createDirect(user, { id: bot.id } as TestUser);
    expect((await api("POST", `${C}/${chat.id}/read`, { token: user.accessToken, body: { seq: 1 } })).status).toBe(200);
    await flush(chat.id);
    expectError(await openDirect(bot, user), 403, "bot_cannot_initiate");
  });

  it("opens it once the person wrote there, whoever wrote last since; not with someone else", async () => {
    const [bot, user, stranger] = [await createBot(), await signUp(), await signUp()];
    const chat = await createDirect(user, { id: bot.id } as TestUser);
    await send(user, chat.id, "/start");
    await flush(chat.id);
    // The person wrote last: the chat's summary says so.
    expect((await ok(await openDirect(bot, user))).chat.id).toBe(chat.id);
    expect((await botSend(bot, chat.id, "Hello!")).status).toBe(201);
    await flush(chat.id);
    const last = await env.DB.prepare("SELECT last_message FROM chats WHERE id = ?").bind(chat.id).first<{ last_message: string }>();
    expect(JSON.parse(last!.last_message).senderId).toBe(bot.id);
    // The bot wrote last: the room's log says the person wrote before.
    expect((await ok(await openDirect(bot, user))).chat.id).toBe(chat.id);
    // Their message deleted for everyone still counts: it was sent.
    const mine = (await ok(await api("GET", `${C}/${chat.id}/messages`, { token: user.accessToken }))).items.find(
      (m: any) => m.senderId === user.id,
    );
    expect((await api("DELETE", `${C}/${chat.id}/messages/${mine.id}?for=everyone`, { token: user.accessToken })).status).toBe(204);
    expect((await openDirect(bot, user)).status).toBe(200);
    expectError(await openDirect(bot, stranger), 403, "bot_cannot_initiate");
  });

  it("people open direct chats with bots freely, and other bots need the same first message", async () => {
    const [bot, other, user] = [await createBot(), await createBot(), await signUp()];
    expect((await api("POST", C, { token: user.accessToken, body: { type: "direct", memberIds: [bot.id] } })).status).toBe(201);
    expectError(await asBot(bot.token, "POST", C, { body: { type: "direct", memberIds: [other.id] } }), 403, "bot_cannot_initiate");
  });
});

describe("a bot in groups", () => {
  it("is added like anyone, reads and sends; adding people respects their groupInvites", async () => {
    const [bot, owner, shy] = [await createBot(), await signUp(), await signUp()];
    const group = await createGroup(owner, [{ id: bot.id } as TestUser]);
    expect(group.memberCount).toBe(2);
    await send(owner, group.id, "ping");
    const history = await ok(await asBot(bot.token, "GET", `${C}/${group.id}/messages`));
    expect(history.items.map((m: any) => m.text)).toContain("ping");
    expect((await botSend(bot, group.id, "pong")).status).toBe(201);
    const members = (await ok(await api("GET", `${C}/${group.id}/members`, { token: owner.accessToken }))).items;
    expect(members.find((m: any) => m.user.id === bot.id).user.kind).toBe("bot");

    await ok(await api("PUT", "/api/v1/users/me/privacy", { token: shy.accessToken, body: { groupInvites: "nobody" } }));
    const made = await asBot(bot.token, "POST", C, { body: { type: "group", name: "Bot's", memberIds: [shy.id, owner.id] } });
    expect(made.status, made.text).toBe(201);
    expect(made.body).toMatchObject({ invited: [shy.id], skipped: [] });
    await ok(await api("PUT", "/api/v1/users/me/privacy", { token: owner.accessToken, body: { groupInvites: "nobody" } }));
    expect((await api("POST", `${C}/${group.id}/members`, { token: owner.accessToken, body: { userIds: [shy.id] } })).body.invited).toEqual(
      [shy.id],
    );
  });
});

describe("a bot's sockets", () => {
  it("open with Authorization: Bot, never with the token in the query", async () => {
    const [bot, owner] = [await createBot(), await signUp()];
    const group = await createGroup(owner, [{ id: bot.id } as TestUser]);
    for (const path of ["/api/v1/realtime", `${C}/${group.id}/ws`]) {
      expectError(await asJson(await upgradeAsBot(path, bot.token, "query")), 401, "unauthorized");
    }
    const realtime = await upgradeAsBot("/api/v1/realtime", bot.token);
    expect(realtime.status).toBe(101);
    realtime.webSocket!.accept();
    const res = await upgradeAsBot(`${C}/${group.id}/ws`, bot.token);
    expect(res.status).toBe(101);
    const socket = new TestSocket(res.webSocket!);
    res.webSocket!.accept();
    await socket.next("hello");
    await send(owner, group.id, "live");
    expect((await socket.next("message.new", (f) => f.message.text === "live")).message.senderId).toBe(owner.id);
  });
});

async function asJson(res: Response) {
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), headers: res.headers, text };
}
