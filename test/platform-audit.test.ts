import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { webhooksChanged } from "../src/lib/events";
import { ok } from "./chat-helpers";
import { api, expectError, signUp, type TestUser } from "./helpers";
import { admin } from "./webhook-helpers";

/**
 * The app's backend in the admin audit: attributes set with an API key and webhook endpoint
 * changes are recorded with who acted (a staff account or a key); records of key uses are kept 90
 * days, then the hourly cron removes them (the table still refuses to lose younger ones).
 */

const DAY = 86_400_000;

beforeEach(() => webhooksChanged());

async function key(boss: TestUser, scopes: string[]) {
  const res = await ok(await api("POST", "/api/v1/admin/api-keys", { token: boss.accessToken, body: { name: "backend", scopes } }), 201);
  return { id: res.apiKey.id as string, headers: { authorization: `ApiKey ${res.key}` } };
}

const auditOf = (targetId: string) =>
  env.DB.prepare("SELECT actor_type, actor_id, action, details FROM admin_audit WHERE target_id = ? ORDER BY id")
    .bind(targetId)
    .all<{ actor_type: string; actor_id: string; action: string; details: string | null }>()
    .then((r) => r.results);

describe("attributes set by the app's backend", () => {
  it("an API key with users:write sets them on ordinary accounts, audited as the key", async () => {
    const boss = await admin();
    const backend = await key(boss, ["users:write"]);
    const user = await signUp();
    const path = `/api/v1/admin/users/${user.id}/attributes`;
    const res = await ok(await api("PATCH", path, { headers: backend.headers, body: { verified: true, kycStatus: "approved", tier: 2 } }));
    expect(res.user).toMatchObject({ verified: true, kycStatus: "approved", tier: 2 });
    const [entry] = await auditOf(user.id);
    expect(entry).toMatchObject({ actor_type: "api_key", actor_id: backend.id, action: "set_attributes" });
    expect(JSON.parse(entry!.details!)).toEqual({
      before: { verified: false, kycStatus: "not_started", tier: 0 },
      after: { verified: true, kycStatus: "approved", tier: 2 },
    });
    const listed = await ok(await api("GET", `/api/v1/admin/audit-log?targetId=${user.id}`, { token: boss.accessToken }));
    expect(listed.items[0]).toMatchObject({ actorType: "api_key", actorId: backend.id, action: "set_attributes" });

    expectError(
      await api("PATCH", `/api/v1/admin/users/${boss.id}/attributes`, { headers: backend.headers, body: { tier: 1 } }),
      403,
      "staff_account",
    );
    const webhooksOnly = await key(boss, ["webhooks:manage"]);
    expectError(await api("PATCH", path, { headers: webhooksOnly.headers, body: { tier: 1 } }), 403, "scope_required");
    expectError(await api("PATCH", path, { token: user.accessToken, body: { tier: 1 } }), 404, "not_found");
    const row = await env.DB.prepare("SELECT tier FROM users WHERE id = ?").bind(user.id).first<{ tier: number }>();
    expect(row!.tier).toBe(2);
  });
});

describe("webhook endpoints in the audit", () => {
  it("creating, changing and removing one is recorded with its actor, never its secret", async () => {
    const boss = await admin();
    const backend = await key(boss, ["webhooks:manage"]);
    const created = await ok(
      await api("POST", "/api/v1/webhooks", { token: boss.accessToken, body: { url: "https://hooks.example.test/a", events: ["user.*"] } }),
      201,
    );
    const id = created.endpoint.id;
    const rotated = await ok(
      await api("PATCH", `/api/v1/webhooks/${id}`, { headers: backend.headers, body: { rotateSecret: true, enabled: false } }),
    );
    expect((await api("DELETE", `/api/v1/webhooks/${id}`, { headers: backend.headers })).status).toBe(204);
    expectError(await api("DELETE", `/api/v1/webhooks/${id}`, { headers: backend.headers }), 404, "not_found");

    const entries = await auditOf(id);
    expect(entries.map((e) => [e.actor_type, e.actor_id, e.action])).toEqual([
      ["user", boss.id, "create_webhook"],
      ["api_key", backend.id, "update_webhook"],
      ["api_key", backend.id, "delete_webhook"],
    ]);
    expect(JSON.parse(entries[0]!.details!)).toEqual({ url: "https://hooks.example.test/a", events: ["user.*"] });
    expect(JSON.parse(entries[1]!.details!)).toEqual({ enabled: false, secretRotated: true });
    const text = JSON.stringify(entries);
    expect(text).not.toContain(created.secret);
    expect(text).not.toContain(rotated.secret);
  });
});

describe("records of API key uses", () => {
  it("are kept 90 days: the hourly cron removes older ones, and younger ones cannot be deleted", async () => {
    const boss = await admin();
    const backend = await key(boss, ["users:write"]);
    const now = Date.now();
    const insert = env.DB.prepare(
      "INSERT INTO api_key_uses (id, key_id, acting_user_id, method, path, status, ip, created_at) VALUES (?, ?, NULL, 'GET', '/x', 200, NULL, ?)",
    );
    const [oldId, recentId] = [crypto.randomUUID(), crypto.randomUUID()];
    await env.DB.batch([insert.bind(oldId, backend.id, now - 91 * DAY), insert.bind(recentId, backend.id, now - 89 * DAY)]);
    await expect(env.DB.prepare("DELETE FROM api_key_uses WHERE id = ?").bind(recentId).run()).rejects.toThrow(/append-only/);

    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController({ cron: "0 * * * *", scheduledTime: now }), env, ctx);
    await waitOnExecutionContext(ctx);
    const left = await env.DB.prepare("SELECT id FROM api_key_uses WHERE key_id = ? ORDER BY created_at")
      .bind(backend.id)
      .all<{ id: string }>();
    expect(left.results.map((r) => r.id)).toEqual([recentId]);
  });
});
