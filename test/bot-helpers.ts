import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { type ApiOptions, api, BASE, signUp, type TestUser, uniqueIp } from "./helpers";

/** Helpers for the bot tests (test/bots.test.ts, test/bot-chats.test.ts). */
export const BOTS = "/api/v1/bots";

export interface TestBot {
  id: string;
  username: string;
  token: string;
  owner: TestUser;
}

let n = 0;
export const botName = () =>
  `b${Date.now().toString(36)}${(++n).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}_bot`.slice(0, 32);

/** Create a bot owned by `owner` (a new user unless given) through the API. */
export async function createBot(owner?: TestUser, displayName = "Helper"): Promise<TestBot> {
  const who = owner ?? (await signUp());
  const res = await api("POST", BOTS, { token: who.accessToken, body: { username: botName(), displayName } });
  expect(res.status, res.text).toBe(201);
  return { id: res.body.bot.id, username: res.body.bot.username, token: res.body.token, owner: who };
}

/** A call made with a bot token (`Authorization: Bot …`). */
export const asBot = (token: string, method: string, path: string, opts: Omit<ApiOptions, "token"> = {}) =>
  api(method, path, { ...opts, headers: { ...opts.headers, authorization: `Bot ${token}` } });

export const sha256Hex = async (text: string) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");

export const userRow = (id: string) => env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<any>();
export const botRow = (id: string) => env.DB.prepare("SELECT * FROM bots WHERE user_id = ?").bind(id).first<any>();

/** Ask for a WebSocket upgrade at `path` with the bot's token in the header (`query`: in `?access_token=` instead). */
export const upgradeAsBot = (path: string, token: string, where: "header" | "query" = "header") =>
  exports.default.fetch(
    new Request(`${BASE}${path}${where === "query" ? `?access_token=${encodeURIComponent(token)}` : ""}`, {
      headers: { "cf-connecting-ip": uniqueIp(), upgrade: "websocket", ...(where === "header" ? { authorization: `Bot ${token}` } : {}) },
    }),
  );
