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
});
