import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { api, expectError, logIn, signUp, uniqueName } from "./helpers";

const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;

/** Run the real scheduled handler as if the cron fired at `scheduledTime`. */
async function runCron(scheduledTime: number) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function counter(key: string) {
  return env.DB.prepare("SELECT count, window_start, expires_at FROM window_counters WHERE key = ?")
    .bind(key)
    .first<{ count: number; window_start: number; expires_at: number }>();
}

const sync = (token: string) => api("POST", "/api/v1/users/me/contacts/sync", { token, body: { phones: [] } });

describe("scheduled housekeeping", () => {
  it("deletes expired refresh tokens, long-dead sessions and counters whose window has ended", async () => {
    const live = await signUp();
    const dead = await signUp();
    const now = Date.now();
    // Make `dead`'s session and token long expired, and leave a stale lockout counter.
    await env.DB.batch([
      env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE id = ?").bind(now - 31 * DAY, dead.sessionId),
      env.DB.prepare("UPDATE refresh_tokens SET expires_at = ? WHERE session_id = ?").bind(now - 31 * DAY, dead.sessionId),
      env.DB.prepare(
        "INSERT INTO window_counters (key, count, window_start, expires_at) VALUES ('id:stale', 3, ?1, ?2), ('id:fresh', 2, ?3, ?4)",
      ).bind(now - DAY, now - DAY + 15 * MINUTE, now, now + 15 * MINUTE),
    ]);

    await runCron(now);

    const sessions = await env.DB.prepare("SELECT id FROM sessions WHERE id IN (?, ?)").bind(live.sessionId, dead.sessionId).all();
    expect(sessions.results.map((r) => r.id)).toEqual([live.sessionId]);
    const tokens = await env.DB.prepare("SELECT session_id FROM refresh_tokens WHERE session_id IN (?, ?)")
      .bind(live.sessionId, dead.sessionId)
      .all();
    expect(tokens.results.map((r) => r.session_id)).toEqual([live.sessionId]);
    const counters = await env.DB.prepare("SELECT key FROM window_counters WHERE key IN ('id:stale', 'id:fresh')").all();
    expect(counters.results.map((r) => r.key)).toEqual(["id:fresh"]);
  });

  it("deletes expired one-time codes and MFA challenges, keeping live ones", async () => {
    const user = await signUp();
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO otp_codes (id, purpose, channel, target, user_id, code_hash, created_at, expires_at) VALUES ('otp-old', 'login', 'email', 'a@x.test', ?, 'h', ?, ?), ('otp-live', 'login', 'email', 'a@x.test', ?, 'h', ?, ?)",
      ).bind(user.id, now - DAY, now - DAY + 300_000, user.id, now, now + 300_000),
      env.DB.prepare(
        "INSERT INTO mfa_challenges (token_hash, user_id, created_at, expires_at) VALUES ('mfa-old', ?, ?, ?), ('mfa-live', ?, ?, ?)",
      ).bind(user.id, now - DAY, now - DAY + 300_000, user.id, now, now + 300_000),
    ]);
    await runCron(now);
    const codes = await env.DB.prepare("SELECT id FROM otp_codes WHERE id IN ('otp-old', 'otp-live')").all();
    expect(codes.results.map((r) => r.id)).toEqual(["otp-live"]);
    const challenges = await env.DB.prepare("SELECT token_hash FROM mfa_challenges WHERE token_hash IN ('mfa-old', 'mfa-live')").all();
    expect(challenges.results.map((r) => r.token_hash)).toEqual(["mfa-live"]);
  });

  it("keeps an hourly counter (contact sync) through a run 20 minutes in, so it still refuses; purges it after its hour", async () => {
    const me = await signUp();
    const key = `contacts-sync:${me.id}`;
    for (let i = 0; i < 20; i++) expect((await sync(me.accessToken)).status).toBe(200);
    expectError(await sync(me.accessToken), 429, "rate_limited");
    const opened = (await counter(key))!;
    expect(opened.expires_at - opened.window_start).toBe(60 * MINUTE);

    // 20 minutes in: past the 15-minute lockout window, well inside this counter's hour.
    await runCron(opened.window_start + 20 * MINUTE);
    expect((await counter(key))?.count).toBe(21);
    expectError(await sync(me.accessToken), 429, "rate_limited");

    // Past its own hour the counter goes, and the next sync starts a new window.
    await runCron(opened.window_start + 60 * MINUTE + 1);
    expect(await counter(key)).toBeNull();
    expect((await sync(me.accessToken)).status).toBe(200);
    expect((await counter(key))?.count).toBe(1);
  });

  it("purges a lockout counter once its 15 minutes have passed, not before", async () => {
    const user = await signUp();
    const ghost = uniqueName("ghost");
    for (const identifier of [user.username, ghost])
      expectError(await logIn(identifier, "not-the-right-password-42"), 401, "invalid_credentials");
    const keys = [`user:${user.id}`, `id:${ghost}`];
    const opened = (await counter(keys[0]!))!;
    expect(opened.expires_at - opened.window_start).toBe(15 * MINUTE);

    await runCron(opened.window_start + 14 * MINUTE);
    for (const key of keys) expect((await counter(key))?.count, key).toBe(1);
    await runCron(opened.window_start + 16 * MINUTE);
    for (const key of keys) expect(await counter(key), key).toBeNull();
  });
});
