import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { createBot } from "../bot-helpers";
import { C, createGroup, send } from "../chat-helpers";
import { api, BASE, signUp, type TestUser, uniqueIp, uniqueName } from "../helpers";
import { PNG } from "../media-fixtures";
import { upload } from "../media-helpers";
import { subscribe } from "../push-helpers";
import { admin } from "../webhook-helpers";

/** Text that only the owner's private things contain: a 2xx answer to anyone else must not carry it. */
export const SECRET = "zq-secret-7731";

/**
 * One owner (A) with something of every kind an operation's path can name, the people around A
 * (a member, a stranger, a removed and a banned member, someone A blocked, a suspended account),
 * an admin, and an API key. Built through the public API, as a client would.
 */
export interface World {
  owner: TestUser;
  member: TestUser;
  stranger: TestUser;
  removed: TestUser;
  banned: TestUser;
  blocked: TestUser;
  suspended: TestUser;
  admin: TestUser;
  apiKey: string;
  chatId: string;
  messageId: string;
  pollId: string;
  scheduledId: string;
  mediaId: string;
  storyId: string;
  botId: string;
  platformBotId: string;
  inviteCode: string;
  uploadId: string;
  /** A group call the owner started in the chat (ringing the members). */
  callId: string;
  pushTargetId: string;
  reportId: string;
  apiKeyId: string;
  webhookId: string;
  externalId: string;
  externalSessionId: string;
  requester: TestUser;
}

const ok = async (res: Promise<{ status: number; text: string; body: any }>, ...statuses: number[]) => {
  const r = await res;
  expect(statuses, `${r.status} ${r.text}`).toContain(r.status);
  return r.body;
};
const withKey = (method: string, path: string, key: string, body?: unknown) =>
  api(method, path, { body, headers: { authorization: `ApiKey ${key}` } });

async function tusCreate(token: string): Promise<string> {
  const res = await exports.default.fetch(
    new Request(`${BASE}/api/v1/media/uploads`, {
      method: "POST",
      headers: { "Tus-Resumable": "1.0.0", "Upload-Length": "1000", authorization: `Bearer ${token}`, "cf-connecting-ip": uniqueIp() },
    }),
  );
  await res.text();
  expect(res.status).toBe(201);
  return res.headers.get("location")!.split("/").pop()!;
}

/** Build a fresh world (about 40 requests). */
export async function buildWorld(): Promise<World> {
  const [owner, member, stranger, removed, banned, blocked, suspended, requester, boss] = await Promise.all([
    signUp({ email: `${uniqueName("o")}@example.com`, phone: `+1555${Math.floor(1e6 + Math.random() * 8e6)}` }),
    signUp(),
    signUp(),
    signUp(),
    signUp(),
    signUp(),
    signUp(),
    signUp(),
    admin(),
  ]);
  await ok(
    api("PUT", "/api/v1/users/me/privacy", { token: owner.accessToken, body: { email: "nobody", phone: "nobody", lastSeen: "nobody" } }),
    200,
  );
  const chat = await createGroup(owner, [member, removed, banned, suspended], { name: `${SECRET} group` });
  const chatId = chat.id as string;
  const message = await send(owner, chatId, `${SECRET} message`);
  const poll = await ok(
    api("POST", `${C}/${chatId}/messages`, {
      token: owner.accessToken,
      body: { clientMessageId: uniqueName("p"), type: "poll", poll: { question: `${SECRET}?`, options: [{ text: "a" }, { text: "b" }] } },
    }),
    201,
  );
  const scheduled = await ok(
    api("POST", `${C}/${chatId}/messages`, {
      token: owner.accessToken,
      body: { clientMessageId: uniqueName("s"), text: `${SECRET} later`, scheduledAt: new Date(Date.now() + 86_400_000).toISOString() },
    }),
    202,
  );
  await ok(api("DELETE", `${C}/${chatId}/members/${removed.id}`, { token: owner.accessToken }), 204);
  await ok(api("POST", `${C}/${chatId}/bans`, { token: owner.accessToken, body: { userId: banned.id } }), 201);
  await ok(api("POST", "/api/v1/users/me/blocked", { token: owner.accessToken, body: { userId: blocked.id } }), 201);
  await ok(api("POST", "/api/v1/users/me/contacts", { token: owner.accessToken, body: { userId: member.id } }), 201);
  const invite = await ok(api("POST", `${C}/${chatId}/invites`, { token: owner.accessToken, body: { requiresApproval: true } }), 201);
  await ok(api("POST", `${C}/join`, { token: requester.accessToken, body: { code: invite.invite?.code ?? invite.code } }), 202);
  const media = await upload(owner, PNG, { type: "image/png", name: "a.png", purpose: "attachment" });
  const story = await ok(
    api("POST", "/api/v1/stories", {
      token: owner.accessToken,
      body: { type: "text", text: `${SECRET} story`, audience: { kind: "contacts" } },
    }),
    201,
  );
  const bot = await createBot(owner);
  const uploadId = await tusCreate(owner.accessToken);
  const target = (await subscribe(owner)).target;
  const report = await ok(
    api("POST", "/api/v1/reports", { token: owner.accessToken, body: { targetType: "user", targetId: stranger.id, reason: "spam" } }),
    201,
  );
  const key = await ok(
    api("POST", "/api/v1/admin/api-keys", {
      token: boss.accessToken,
      body: { name: "fuzz", scopes: ["users:write", "tokens:mint", "messages:write", "chats:write", "webhooks:manage"] },
    }),
    201,
  );
  const webhook = await ok(withKey("POST", "/api/v1/webhooks", key.key, { url: "https://hooks.example.test/in", events: ["*"] }), 201);
  const externalId = uniqueName("ext");
  await ok(withKey("PUT", `/api/v1/platform/users/${externalId}`, key.key, { displayName: "External" }), 201);
  const minted = await ok(withKey("POST", `/api/v1/platform/users/${externalId}/tokens`, key.key, { deviceName: "srv" }), 201);
  const platformBot = await ok(
    withKey("POST", "/api/v1/platform/bots", key.key, { username: `pb${Date.now().toString(36)}_bot`, displayName: "P" }),
    201,
  );
  const call = await ok(api("POST", "/api/v1/calls", { token: owner.accessToken, body: { chatId, kind: "audio" } }), 201);
  await ok(api("POST", `/api/v1/admin/users/${suspended.id}/suspend`, { token: boss.accessToken, body: { reason: "fuzz" } }), 200);
  return {
    owner,
    member,
    stranger,
    removed,
    banned,
    blocked,
    suspended,
    requester,
    admin: boss,
    apiKey: key.key,
    chatId,
    messageId: message.id,
    pollId: poll.message.id,
    scheduledId: scheduled.scheduled.id,
    mediaId: media.id,
    storyId: story.story.id,
    botId: bot.id,
    platformBotId: platformBot.bot?.id ?? platformBot.id,
    inviteCode: invite.invite?.code ?? invite.code,
    uploadId,
    callId: call.call.id,
    pushTargetId: target.id,
    reportId: report.report?.id ?? report.id,
    apiKeyId: key.apiKey.id,
    webhookId: webhook.endpoint?.id ?? webhook.id,
    externalId,
    externalSessionId: minted.session.id,
  };
}

/** The real uuids of a world (mixed into generated `format: uuid` fields). */
export const worldUuids = (w: World) =>
  [w.owner.id, w.member.id, w.stranger.id, w.chatId, w.messageId, w.pollId, w.mediaId, w.storyId, w.botId, w.reportId].filter(Boolean);

/**
 * The value of path parameter `name` in `path` naming the world's thing of that kind; throws for
 * a parameter it does not know, so a new kind of route fails the suites until it is mapped here.
 */
export function pathValue(w: World, path: string, name: string): string {
  const rules: [RegExp, string, () => string][] = [
    [/\/auth\/sessions\/\{id\}/, "id", () => w.owner.sessionId],
    [/\/auth\/devices\/\{id\}/, "id", () => w.owner.deviceId],
    [/\/platform\/bots\/\{id\}/, "id", () => w.platformBotId],
    [/\/bots\/\{id\}/, "id", () => w.botId],
    [/\/users\/\{id\}/, "id", () => w.owner.id],
    [/\/admin\/reports\/\{id\}/, "id", () => w.reportId],
    [/\/admin\/api-keys\/\{id\}/, "id", () => w.apiKeyId],
    [/\/push\/targets\/\{id\}/, "id", () => w.pushTargetId],
    [/\/media\/uploads\/\{id\}/, "id", () => w.uploadId],
    [/\/media\/\{id\}/, "id", () => w.mediaId],
    [/\/stories\/\{id\}/, "id", () => w.storyId],
    [/\/webhooks\/\{id\}/, "id", () => w.webhookId],
    [/\/calls\/\{callId\}/, "callId", () => w.callId],
    // No SFU is configured in tests: any session id is someone else's (or none).
    [/\/sfu\/sessions\/\{sfuSessionId\}/, "sfuSessionId", () => "01930f3e8d4a7c1e9d2b5a7f3c2e1b0a"],
    [/\/scheduled\/\{messageId\}/, "messageId", () => w.scheduledId],
    [/\/(votes|close-poll)$/, "messageId", () => w.pollId],
    [/\{messageId\}/, "messageId", () => w.messageId],
    [/\{chatId\}/, "chatId", () => w.chatId],
    [/\/bans\/\{userId\}/, "userId", () => w.banned.id],
    [/\/join-requests\/\{userId\}/, "userId", () => w.requester.id],
    [/\/members\/\{userId\}/, "userId", () => w.member.id],
    [/\/contacts\/\{userId\}/, "userId", () => w.member.id],
    [/\/blocked\/\{userId\}/, "userId", () => w.blocked.id],
    [/\/keys\/\{userId\}/, "userId", () => w.owner.id],
    [/\/keys\/\{userId\}\/\{deviceId\}/, "deviceId", () => w.owner.deviceId],
    [/\/by-username\/\{username\}/, "username", () => w.owner.username],
    [/\/invites\/\{code\}/, "code", () => w.inviteCode],
    [/\/reactions\/\{emoji\}/, "emoji", () => "👍"],
    [/\/platform\/users\/\{externalId\}/, "externalId", () => w.externalId],
    [/\/sessions\/\{sessionId\}/, "sessionId", () => w.externalSessionId],
  ];
  const rule = rules.find(([re, param]) => param === name && re.test(path));
  if (!rule) throw new Error(`no fixture for path parameter {${name}} of ${path}: map it in test/fuzz/world.ts`);
  return rule[2]();
}
