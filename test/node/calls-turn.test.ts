import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../bench/server.mjs";
import { apiClient, PASSWORD } from "./api";

/**
 * End to end for TURN credentials: a real `wrangler dev` with a TURN secret, and the check a TURN
 * server makes (coturn's `use-auth-secret`: the username's expiry must be in the future and the
 * credential must be base64(HMAC-SHA1(secret, username))) done with node:crypto, independent of
 * the app's Web Crypto code.
 */

const TURN_SECRET = "node-e2e-turn-secret-7f3a9c";
let server: Awaited<ReturnType<typeof startServer>>;
const api = apiClient(() => server.baseUrl, "2001:db8:71::");

/** What a TURN server accepts: an expiry still ahead and the HMAC of the whole username. */
function turnServerAccepts(username: string, credential: string, nowSeconds: number): boolean {
  const expiry = Number(username.split(":")[0]);
  const expected = createHmac("sha1", TURN_SECRET).update(username).digest("base64");
  return Number.isInteger(expiry) && expiry > nowSeconds && credential === expected;
}

async function newUser(label: string) {
  const username = `turn_${Date.now().toString(36)}_${label}`;
  const res = await api("POST", "/auth/register", { body: { username, password: PASSWORD } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.user.id as string, token: res.body.tokens.accessToken as string };
}

describe("TURN credentials from a running server", () => {
  beforeAll(async () => {
    server = await startServer("calls-turn-e2e", { port: 0, vars: { ARGON2_MEMORY_KIB: "64", ARGON2_ITERATIONS: "1", TURN_SECRET } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("are accepted by a TURN server's check for an hour, for this user only, and never carry the secret", async () => {
    const alice = await newUser("a");
    const bob = await newUser("b");
    const chat = await api("POST", "/chats", { token: alice.token, body: { type: "direct", memberIds: [bob.id] } });
    expect(chat.status, JSON.stringify(chat.body)).toBe(201);
    const started = await api("POST", "/calls", { token: alice.token, body: { chatId: chat.body.chat.id, kind: "audio" } });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(JSON.stringify(started.body)).not.toContain(TURN_SECRET);

    const turn = started.body.iceServers.find((s: { urls: string[] }) => s.urls.some((u) => u.startsWith("turn:")));
    const now = Math.floor(Date.now() / 1000);
    expect(turn.username).toMatch(new RegExp(`^\\d+:${alice.id}$`));
    expect(turnServerAccepts(turn.username, turn.credential, now)).toBe(true);
    // Valid for an hour (the default lifetime), then refused.
    expect(Number(turn.username.split(":")[0]) - now).toBeGreaterThan(3590);
    expect(turnServerAccepts(turn.username, turn.credential, now + 3601)).toBe(false);
    // The credential is bound to the whole username: another user or expiry does not pass.
    expect(turnServerAccepts(turn.username.replace(alice.id, bob.id), turn.credential, now)).toBe(false);
    expect(turnServerAccepts(`${now + 86_400}:${alice.id}`, turn.credential, now)).toBe(false);
  });
});
