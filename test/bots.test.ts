import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { asBot, BOTS, botName, botRow, createBot, sha256Hex, upgradeAsBot, userRow } from "./bot-helpers";
import { ok } from "./chat-helpers";
import { api, expectError, logIn, STRONG_PASSWORD, signUp } from "./helpers";
import { TestSocket } from "./room-helpers";

/**
 * Bots: owned by a regular user (at most 20) or by the app's backend; a token shown once and
 * stored hashed, replaced or erased at once; the token works as the bot wherever a user's does,
 * except the routes that are people's own (403 bot_not_allowed).
 */

const MISSING = "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a";
const TOKEN_RE = /^[0-9a-f-]{36}:[A-Za-z0-9_-]{43}$/;
const count = async (sql: string, ...params: unknown[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>())!.n;

describe("managing bots", () => {
  it("creates a bot with a token shown once and stored hashed; lists it; its profile says bot", async () => {
    const owner = await signUp();
    const username = botName();
    const res = await api("POST", BOTS, { token: owner.accessToken, body: { username, displayName: "Weather" } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.bot).toMatchObject({ username, displayName: "Weather", ownerId: owner.id });
    const { bot, token } = res.body;
    expect(token).toMatch(TOKEN_RE);
    expect(token.startsWith(`${bot.id}:`)).toBe(true);
    const stored = await botRow(bot.id);
    expect(stored).toMatchObject({ owner_id: owner.id, token_hash: await sha256Hex(token) });
    expect(JSON.stringify(stored)).not.toContain(token.split(":")[1]);
    expect(await userRow(bot.id)).toMatchObject({ kind: "bot", password_hash: "", status: "active" });

    const list = await ok(await api("GET", BOTS, { token: owner.accessToken }));
    expect(list.items).toEqual([expect.objectContaining({ id: bot.id, ownerId: owner.id })]);
    expect(JSON.stringify(list)).not.toContain(token);
    expect((await ok(await api("GET", BOTS, { token: (await signUp()).accessToken }))).items).toEqual([]);
    const viewer = await signUp();
    expect((await ok(await api("GET", `/api/v1/users/${bot.id}`, { token: viewer.accessToken }))).user.kind).toBe("bot");
  });

  it("refuses bad input, taken usernames, guests, bots and no token, storing nothing", async () => {
    const owner = await signUp();
    const create = (body: unknown, token = owner.accessToken) => api("POST", BOTS, { token, body });
    for (const body of [
      {},
      { username: botName() },
      { displayName: "x" },
      { username: "a", displayName: "x" },
      { username: botName(), displayName: "" },
      { username: botName(), displayName: "x", ownerId: MISSING },
    ]) {
      expectError(await create(body), 400, "validation_failed");
    }
    expectError(await create({ username: owner.username, displayName: "Clash" }), 409, "username_taken");
    expect(await count("SELECT count(*) AS n FROM bots WHERE owner_id = ?", owner.id)).toBe(0);

    const guest = (await api("POST", "/api/v1/auth/guest", { body: {} })).body.tokens.accessToken;
    expectError(await create({ username: botName(), displayName: "G" }, guest), 403, "guest_not_allowed");
    const bot = await createBot(owner);
    expectError(await asBot(bot.token, "POST", BOTS, { body: { username: botName(), displayName: "B" } }), 403, "bot_not_allowed");
    expectError(await asBot(bot.token, "GET", BOTS), 403, "bot_not_allowed");
    expectError(await api("POST", BOTS, { body: { username: botName(), displayName: "N" } }), 401, "unauthorized");
    expect(await count("SELECT count(*) AS n FROM bots WHERE owner_id = ?", owner.id)).toBe(1);
  });

  it("allows 20 bots per owner, then 409 too_many_bots with nothing left behind", async () => {
    const owner = await signUp();
    for (let i = 0; i < 20; i++) await createBot(owner);
    const username = botName();
    const refused = expectError(
      await api("POST", BOTS, { token: owner.accessToken, body: { username, displayName: "21st" } }),
      409,
      "too_many_bots",
    );
    expect(refused.details).toEqual({ max: 20 });
    expect(await count("SELECT count(*) AS n FROM users WHERE username = ?", username)).toBe(0);
    expect((await ok(await api("GET", BOTS, { token: owner.accessToken }))).items).toHaveLength(20);
  });

  it("replaces a token: the old one stops at once, its sockets close; only the owner may", async () => {
    const bot = await createBot();
    const { socket } = await openRealtimeAsBot(bot.token);
    const other = await signUp();
    expectError(await api("POST", `${BOTS}/${bot.id}/token`, { token: other.accessToken }), 404, "not_found");
    expectError(await api("POST", `${BOTS}/${MISSING}/token`, { token: bot.owner.accessToken }), 404, "not_found");
    expectError(await api("POST", `${BOTS}/not-an-id/token`, { token: bot.owner.accessToken }), 400, "validation_failed");
    expectError(await asBot(bot.token, "POST", `${BOTS}/${bot.id}/token`), 403, "bot_not_allowed");

    const res = await ok(await api("POST", `${BOTS}/${bot.id}/token`, { token: bot.owner.accessToken }));
    expect(res.token).toMatch(TOKEN_RE);
    expect(res.token).not.toBe(bot.token);
    expect((await socket.closedWith()).code).toBe(4005);
    expectError(await asBot(bot.token, "GET", "/api/v1/auth/me"), 401, "unauthorized");
    expect((await ok(await asBot(res.token, "GET", "/api/v1/auth/me"))).user).toMatchObject({ id: bot.id, kind: "bot" });
    expect((await botRow(bot.id)).token_hash).toBe(await sha256Hex(res.token));
    await openRealtimeAsBot(res.token); // the new token opens sockets at once
  });

  it("deletes a bot through the account erasure path; erasing the owner erases its bots", async () => {
    const bot = await createBot();
    const other = await signUp();
    const group = (
      await ok(
        await api("POST", "/api/v1/chats", { token: other.accessToken, body: { type: "group", name: "G", memberIds: [bot.id] } }),
        201,
      )
    ).chat;
    expectError(await api("DELETE", `${BOTS}/${bot.id}`, { token: other.accessToken }), 404, "not_found");
    expect((await api("DELETE", `${BOTS}/${bot.id}`, { token: bot.owner.accessToken })).status).toBe(204);
    expect(await userRow(bot.id)).toMatchObject({ status: "deleted", username: `deleted:${bot.id}`, display_name: "Deleted account" });
    expect(await botRow(bot.id)).toBeNull();
    expectError(await asBot(bot.token, "GET", "/api/v1/auth/me"), 401, "unauthorized");
    expect(await count("SELECT count(*) AS n FROM chat_members WHERE chat_id = ? AND user_id = ?", group.id, bot.id)).toBe(0);
    expectError(await api("DELETE", `${BOTS}/${bot.id}`, { token: bot.owner.accessToken }), 404, "not_found");
    expect((await ok(await api("GET", BOTS, { token: bot.owner.accessToken }))).items).toEqual([]);

    const kept = await createBot();
    expect((await api("DELETE", "/api/v1/users/me", { token: kept.owner.accessToken, body: { password: STRONG_PASSWORD } })).status).toBe(
      204,
    );
    expect((await userRow(kept.id)).status).toBe("deleted");
    expectError(await asBot(kept.token, "GET", "/api/v1/auth/me"), 401, "unauthorized");
  });
});

/** Open the realtime socket with the bot's token in the Authorization header. */
async function openRealtimeAsBot(token: string) {
  const res = await upgradeAsBot("/api/v1/realtime", token);
  expect(res.status, res.status === 101 ? "" : await res.text()).toBe(101);
  const socket = new TestSocket(res.webSocket!);
  res.webSocket!.accept();
  return { socket, hello: await socket.next("hello") };
}

describe("a bot token", () => {
  it("authenticates as the bot; malformed, unknown and erased tokens are 401; moderation applies", async () => {
    const bot = await createBot(undefined, "Reporter");
    expect((await ok(await asBot(bot.token, "GET", "/api/v1/users/me"))).user).toMatchObject({
      id: bot.id,
      kind: "bot",
      displayName: "Reporter",
    });
    expect((await ok(await asBot(bot.token, "PATCH", "/api/v1/users/me", { body: { bio: "I report" } }))).user.bio).toBe("I report");
    const [id, secret] = bot.token.split(":") as [string, string];
    for (const bad of ["", "nonsense", `${id}:short`, `${id}:${secret.slice(1)}x`, `${MISSING}:${secret}`, `${id}:${secret}:x`]) {
      expectError(await asBot(bad, "GET", "/api/v1/auth/me"), 401, "unauthorized");
    }
    await env.DB.prepare("UPDATE users SET status = 'suspended' WHERE id = ?").bind(bot.id).run();
    expectError(await asBot(bot.token, "GET", "/api/v1/auth/me"), 403, "account_suspended");
  });

  it("cannot sign in with a password or a code (bots have neither)", async () => {
    const bot = await createBot();
    expectError(await logIn(bot.username, STRONG_PASSWORD), 401, "invalid_credentials");
    expectError(await logIn(bot.username, ""), 400, "validation_failed");
  });

  it("is refused exactly where the API says bots are not allowed, and accepted everywhere else", async () => {
    const bot = await createBot();
    const doc = (await api("GET", "/openapi.json")).body;
    const wrong: string[] = [];
    let refused = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { security?: Record<string, string[]>[] }>>)) {
      for (const [method, op] of Object.entries(item)) {
        const schemes = (op.security ?? []).flatMap((r) => Object.keys(r));
        if (!schemes.includes("bearerAuth") || (op.security ?? []).some((r) => Object.keys(r).length === 0)) continue;
        const res = await asBot(bot.token, method.toUpperCase(), path.replace(/\{\w+\}/g, MISSING));
        const code = res.body?.error?.code;
        if (!schemes.includes("botAuth")) {
          refused++;
          if (res.status !== 403 || code !== "bot_not_allowed")
            wrong.push(`${method} ${path}: refuses bots but answered ${res.status} ${code}`);
        } else if (res.status === 401 || code === "bot_not_allowed")
          wrong.push(`${method} ${path}: takes bots but answered ${res.status} ${code}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(refused).toBeGreaterThan(20);
    // The one-time-code routes take a token only for verify: bots are refused there too.
    const verify = { purpose: "verify", identifier: "bot@example.com", channel: "email" };
    expectError(await asBot(bot.token, "POST", "/api/v1/auth/otp/send", { body: verify }), 403, "bot_not_allowed");
    expectError(
      await asBot(bot.token, "POST", "/api/v1/auth/otp/verify", {
        body: { purpose: "verify", identifier: "bot@example.com", code: "123456" },
      }),
      403,
      "bot_not_allowed",
    );
  });
});

describe("bots of the app's backend", () => {
  async function key(scopes: string[]) {
    const boss = await signUp();
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(boss.id).run();
    const res = await api("POST", "/api/v1/admin/api-keys", { token: boss.accessToken, body: { name: "backend", scopes } });
    expect(res.status, res.text).toBe(201);
    return res.body.key as string;
  }
  const withKey = (k: string, method: string, path: string, body?: unknown) =>
    api(method, path, { body, headers: { authorization: `ApiKey ${k}` } });

  it("creates ownerless bots with users:write, replaces their tokens and deletes them; not people's bots", async () => {
    const k = await key(["users:write"]);
    const res = await withKey(k, "POST", "/api/v1/platform/bots", { username: botName(), displayName: "Support" });
    expect(res.status, res.text).toBe(201);
    expect(res.body.bot.ownerId).toBeNull();
    expect((await ok(await asBot(res.body.token, "GET", "/api/v1/auth/me"))).user.kind).toBe("bot");
    const rotated = await ok(await withKey(k, "POST", `/api/v1/platform/bots/${res.body.bot.id}/token`));
    expectError(await asBot(res.body.token, "GET", "/api/v1/auth/me"), 401, "unauthorized");

    const persons = await createBot();
    expectError(await withKey(k, "POST", `/api/v1/platform/bots/${persons.id}/token`), 404, "not_found");
    expectError(await withKey(k, "DELETE", `/api/v1/platform/bots/${persons.id}`), 404, "not_found");
    expectError(await api("DELETE", `${BOTS}/${res.body.bot.id}`, { token: persons.owner.accessToken }), 404, "not_found");
    expectError(await withKey(k, "POST", "/api/v1/platform/bots", { username: botName() }), 400, "validation_failed");

    expect((await withKey(k, "DELETE", `/api/v1/platform/bots/${res.body.bot.id}`)).status).toBe(204);
    expectError(await asBot(rotated.token, "GET", "/api/v1/auth/me"), 401, "unauthorized");
    expect((await userRow(res.body.bot.id)).status).toBe("deleted");

    const noScope = await key(["messages:write"]);
    expectError(await withKey(noScope, "POST", "/api/v1/platform/bots", { username: botName(), displayName: "X" }), 403, "scope_required");
  });
});
