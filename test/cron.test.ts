import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { signUp } from "./helpers";

const DAY = 24 * 60 * 60 * 1000;

describe("scheduled housekeeping", () => {
  it("deletes expired refresh tokens, long-dead sessions and stale lockout counters", async () => {
    const live = await signUp();
    const dead = await signUp();
    const now = Date.now();
    // Make `dead`'s session and token long expired, and leave a stale lockout counter.
    await env.DB.batch([
      env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE id = ?").bind(now - 31 * DAY, dead.sessionId),
      env.DB.prepare("UPDATE refresh_tokens SET expires_at = ? WHERE session_id = ?").bind(now - 31 * DAY, dead.sessionId),
      env.DB.prepare("INSERT INTO auth_failures (key, count, window_start) VALUES ('id:stale', 3, ?), ('id:fresh', 2, ?)").bind(
        now - DAY,
        now,
      ),
    ]);

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "*/5 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);

    const sessions = await env.DB.prepare("SELECT id FROM sessions WHERE id IN (?, ?)").bind(live.sessionId, dead.sessionId).all();
    expect(sessions.results.map((r) => r.id)).toEqual([live.sessionId]);
    const tokens = await env.DB.prepare("SELECT session_id FROM refresh_tokens WHERE session_id IN (?, ?)")
      .bind(live.sessionId, dead.sessionId)
      .all();
    expect(tokens.results.map((r) => r.session_id)).toEqual([live.sessionId]);
    const counters = await env.DB.prepare("SELECT key FROM auth_failures WHERE key IN ('id:stale', 'id:fresh')").all();
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
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "*/5 * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    const codes = await env.DB.prepare("SELECT id FROM otp_codes WHERE id IN ('otp-old', 'otp-live')").all();
    expect(codes.results.map((r) => r.id)).toEqual(["otp-live"]);
    const challenges = await env.DB.prepare("SELECT token_hash FROM mfa_challenges WHERE token_hash IN ('mfa-old', 'mfa-live')").all();
    expect(challenges.results.map((r) => r.token_hash)).toEqual(["mfa-live"]);
  });
});
