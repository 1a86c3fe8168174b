import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type AdminUserFilters, listUsersQuery } from "../src/admin/service";
import { createDb } from "../src/db/client";
import { queryPlan } from "./chat-helpers";
import { api, DEFAULT_ATTRIBUTES, expectError, expectInvalid, signUp, type TestUser, uniqueName } from "./helpers";

/**
 * Admin-managed attributes (verified, creator, kycStatus, tier, lifecycle): set only through
 * PATCH /admin/users/{id}/attributes (audited with before/after), shown to everyone (verified,
 * creator) or to the user and admins (all five), and filters of the admin user search.
 */

const ADMIN = "/api/v1/admin";
const DEFAULTS = DEFAULT_ATTRIBUTES;

async function admin(role: "admin" | "moderator" = "admin"): Promise<TestUser> {
  const u = await signUp();
  await env.DB.prepare("UPDATE users SET role = ? WHERE id = ?").bind(role, u.id).run();
  return u;
}
const setAttributes = (by: TestUser | undefined, id: string, body: unknown) =>
  api("PATCH", `${ADMIN}/users/${id}/attributes`, { token: by?.accessToken, body });
const columns = (id: string) =>
  env.DB.prepare("SELECT verified, creator, kyc_status, tier, lifecycle, metadata FROM users WHERE id = ?").bind(id).first<any>();
const auditOf = async (id: string) =>
  (
    await env.DB.prepare("SELECT actor_id, action, details FROM admin_audit WHERE target_id = ? ORDER BY id").bind(id).all<any>()
  ).results.map((r) => ({ ...r, details: JSON.parse(r.details) }));
const search = async (by: TestUser, query: string) => {
  const res = await api("GET", `${ADMIN}/users?limit=100&${query}`, { token: by.accessToken });
  expect(res.status, res.text).toBe(200);
  return res.body.items as any[];
};

describe("PATCH /admin/users/{id}/attributes", () => {
  it("sets what is sent, audited with before and after; the user and admins see all five, others verified and creator", async () => {
    const [boss, target, viewer] = await Promise.all([admin(), signUp(), signUp()]);
    expect((await api("GET", "/api/v1/users/me", { token: target.accessToken })).body.user).toMatchObject(DEFAULTS);

    const res = await setAttributes(boss, target.id, { verified: true, kycStatus: "approved", tier: 2 });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user).toMatchObject({ id: target.id, ...DEFAULTS, verified: true, kycStatus: "approved", tier: 2, metadata: null });
    expect(await columns(target.id)).toEqual({
      verified: 1,
      creator: 0,
      kyc_status: "approved",
      tier: 2,
      lifecycle: "active",
      metadata: null,
    });
    expect(await auditOf(target.id)).toEqual([
      {
        actor_id: boss.id,
        action: "set_attributes",
        details: {
          before: { verified: false, kycStatus: "not_started", tier: 0 },
          after: { verified: true, kycStatus: "approved", tier: 2 },
        },
      },
    ]);

    const own = (await api("GET", "/api/v1/users/me", { token: target.accessToken })).body.user;
    expect(own).toMatchObject({ verified: true, creator: false, kycStatus: "approved", tier: 2, lifecycle: "active" });
    const seen = (await api("GET", `/api/v1/users/${target.id}`, { token: viewer.accessToken })).body.user;
    expect(seen).toMatchObject({ verified: true, creator: false });
    for (const hidden of ["kycStatus", "tier", "lifecycle"]) expect(seen).not.toHaveProperty(hidden);
    const listed = await search(boss, `q=${target.id}`);
    expect(listed[0]).toMatchObject({ verified: true, creator: false, kycStatus: "approved", tier: 2, lifecycle: "active" });
  });

  it("changes nothing and audits nothing when the values are already so; sets and clears metadata", async () => {
    const [boss, target, viewer] = await Promise.all([admin(), signUp(), signUp()]);
    await setAttributes(boss, target.id, { creator: true, lifecycle: "onboarding" });
    const same = await setAttributes(boss, target.id, { creator: true, lifecycle: "onboarding" });
    expect(same.status, same.text).toBe(200);
    expect(same.body.user).toMatchObject({ creator: true, lifecycle: "onboarding" });
    expect(await auditOf(target.id)).toHaveLength(1);

    const metadata = { partner: "acme", scores: [1, 2] };
    expect((await setAttributes(boss, target.id, { metadata, creator: true })).body.user.metadata).toEqual(metadata);
    expect((await api("GET", `/api/v1/users/${target.id}`, { token: viewer.accessToken })).body.user.metadata).toEqual(metadata);
    expect((await setAttributes(boss, target.id, { metadata: null })).body.user.metadata).toBeNull();
    expect((await auditOf(target.id)).map((r) => r.details)).toEqual([
      { before: { creator: false, lifecycle: "active" }, after: { creator: true, lifecycle: "onboarding" } },
      { before: { metadata: null }, after: { metadata } },
      { before: { metadata }, after: { metadata: null } },
    ]);
  });

  it("records an exact history when two admins change the same attribute at once", async () => {
    const [a, b, target] = await Promise.all([admin(), admin(), signUp()]);
    const results = await Promise.all([setAttributes(a, target.id, { tier: 1 }), setAttributes(b, target.id, { tier: 2 })]);
    for (const r of results) expect([200, 409], r.text).toContain(r.status);
    for (const r of results.filter((r) => r.status === 409)) expectError(r, 409, "conflict");
    const audit = await auditOf(target.id);
    expect(audit).toHaveLength(results.filter((r) => r.status === 200).length);
    // Each entry's before is what the one before it left: no change is recorded against a stale value.
    let tier = 0;
    for (const entry of audit) {
      expect(entry.details.before).toEqual({ tier });
      tier = entry.details.after.tier;
    }
    expect((await columns(target.id)).tier).toBe(tier);
  });

  it("refuses bad input with 400 and changes nothing", async () => {
    const [boss, target] = await Promise.all([admin(), signUp()]);
    const cases: [unknown, string][] = [
      [{}, "body"],
      [{ tier: 3 }, "body.tier"],
      [{ tier: -1 }, "body.tier"],
      [{ tier: 1.5 }, "body.tier"],
      [{ verified: "yes" }, "body.verified"],
      [{ creator: 1 }, "body.creator"],
      [{ kycStatus: "done" }, "body.kycStatus"],
      [{ lifecycle: "gone" }, "body.lifecycle"],
      [{ status: "banned" }, "body"],
      [{ metadata: [1] }, "body.metadata"],
      [{ verified: true, metadata: { "": 1 } }, "body.metadata."],
    ];
    for (const [body, path] of cases) expectInvalid(await setAttributes(boss, target.id, body), path);
    expect(await columns(target.id)).toEqual({
      verified: 0,
      creator: 0,
      kyc_status: "not_started",
      tier: 0,
      lifecycle: "active",
      metadata: null,
    });
    expect(await auditOf(target.id)).toEqual([]);
  });

  it("is for admins only, on accounts that exist below their role", async () => {
    const [boss, otherAdmin, mod, plain, target, gone] = await Promise.all([
      admin(),
      admin(),
      admin("moderator"),
      signUp(),
      signUp(),
      signUp(),
    ]);
    await env.DB.prepare("UPDATE users SET status = 'deleted' WHERE id = ?").bind(gone.id).run();
    expectError(await setAttributes(undefined, target.id, { verified: true }), 401, "unauthorized");
    // Anyone without the role gets what an unknown route answers.
    expectError(await setAttributes(plain, target.id, { verified: true }), 404, "not_found");
    expectError(await setAttributes(mod, target.id, { verified: true }), 404, "not_found");
    expectError(await setAttributes(boss, crypto.randomUUID(), { verified: true }), 404, "not_found");
    expectError(await setAttributes(boss, gone.id, { verified: true }), 404, "not_found");
    expectInvalid(await setAttributes(boss, "not-a-uuid", { verified: true }), "params.id");
    expectError(await setAttributes(boss, boss.id, { verified: true }), 400, "cannot_target_self");
    expectError(await setAttributes(boss, otherAdmin.id, { verified: true }), 403, "insufficient_role");
    for (const u of [target, gone, boss, otherAdmin]) {
      expect((await columns(u.id)).verified).toBe(0);
      expect(await auditOf(u.id)).toEqual([]);
    }
  });
});

describe("no user route sets them", () => {
  it("refuses the attributes on profile, privacy, preferences and registration, and stores nothing", async () => {
    const u = await signUp();
    const attempts: [string, string, unknown][] = [
      ["PATCH", "/api/v1/users/me", { verified: true }],
      ["PATCH", "/api/v1/users/me", { displayName: "Me", creator: true }],
      ["PATCH", "/api/v1/users/me", { kycStatus: "approved" }],
      ["PATCH", "/api/v1/users/me", { tier: 2 }],
      ["PATCH", "/api/v1/users/me", { lifecycle: "active" }],
      ["PUT", "/api/v1/users/me/privacy", { lastSeen: "nobody", verified: true }],
      ["PATCH", "/api/v1/users/me/preferences", { version: 0, theme: "dark", tier: 2 }],
    ];
    for (const [method, path, body] of attempts) {
      expectError(await api(method, path, { token: u.accessToken, body }), 400, "validation_failed");
    }
    expect(await columns(u.id)).toMatchObject({ verified: 0, creator: 0, kyc_status: "not_started", tier: 0, lifecycle: "active" });
    const registered = await api("POST", "/api/v1/auth/register", {
      body: { username: uniqueName(), password: "violet-harbor-73-lantern", verified: true },
    });
    expectError(registered, 400, "validation_failed");
  });
});

describe("GET /admin/users filters", () => {
  it("filters by verified, creator, kycStatus, tier and lifecycle, alone and together, also with a username prefix", async () => {
    const boss = await admin();
    const prefix = `fz${Math.random()
      .toString(36)
      .slice(2, 8)
      .replace(/[^a-z]/g, "q")}`;
    // One after the other: the listing is newest first.
    const plain = await signUp({ username: `${prefix}_plain` });
    const star = await signUp({ username: `${prefix}_star` });
    const vip = await signUp({ username: `${prefix}_vip` });
    await setAttributes(boss, star.id, { verified: true, creator: true, kycStatus: "pending", lifecycle: "onboarding" });
    await setAttributes(boss, vip.id, { verified: true, kycStatus: "approved", tier: 2, lifecycle: "dormant" });
    const mine = new Set([plain.id, star.id, vip.id]);
    const ids = async (query: string) => (await search(boss, query)).map((u) => u.id).filter((id) => mine.has(id));

    expect(await ids("verified=true")).toEqual([vip.id, star.id]);
    expect(await ids("verified=false")).toEqual([plain.id]);
    expect(await ids("creator=true")).toEqual([star.id]);
    expect(await ids("kycStatus=approved")).toEqual([vip.id]);
    expect(await ids("kycStatus=not_started")).toEqual([plain.id]);
    expect(await ids("tier=2")).toEqual([vip.id]);
    expect(await ids("tier=0")).toEqual([star.id, plain.id]);
    expect(await ids("lifecycle=dormant")).toEqual([vip.id]);
    expect(await ids("verified=true&creator=false&tier=2")).toEqual([vip.id]);
    expect(await ids("verified=true&lifecycle=churned")).toEqual([]);
    // Every item answered matches, not only ours.
    for (const u of await search(boss, "verified=true&kycStatus=approved"))
      expect(u).toMatchObject({ verified: true, kycStatus: "approved" });
    // With a lookup: the username range leads, the filters narrow it.
    expect((await search(boss, `q=${prefix}&verified=true`)).map((u) => u.id)).toEqual([star.id, vip.id]);
    expect((await search(boss, `q=${vip.id}&creator=true`)).map((u) => u.id)).toEqual([]);
    // Pages keep the filter.
    const first = await api("GET", `${ADMIN}/users?verified=true&limit=1`, { token: boss.accessToken });
    const second = await api("GET", `${ADMIN}/users?verified=true&limit=1&cursor=${first.body.nextCursor}`, { token: boss.accessToken });
    expect([...first.body.items, ...second.body.items].map((u: any) => u.id)).toEqual([vip.id, star.id]);
  });

  it("refuses bad filter values", async () => {
    const boss = await admin();
    for (const [query, path] of [
      ["verified=yes", "query.verified"],
      ["creator=1", "query.creator"],
      ["kycStatus=done", "query.kycStatus"],
      ["tier=3", "query.tier"],
      ["tier=one", "query.tier"],
      ["lifecycle=gone", "query.lifecycle"],
    ]) {
      expectInvalid(await api("GET", `${ADMIN}/users?${query}`, { token: boss.accessToken }), path!);
    }
  });

  it("walks each filter's index in rowid order: no table scan, no sort", async () => {
    const db = createDb(env.DB);
    const filters: [AdminUserFilters, string][] = [
      [{ verified: true }, "users_verified_idx"],
      [{ creator: false }, "users_creator_idx"],
      [{ kycStatus: "pending" }, "users_kyc_status_idx"],
      [{ tier: 1 }, "users_tier_idx"],
      [{ lifecycle: "churned" }, "users_lifecycle_idx"],
    ];
    for (const [filter, index] of filters) {
      for (const before of [null, 1_000_000]) {
        const plan = (await queryPlan(listUsersQuery(db, filter, before, 21))).join("\n");
        expect(plan, JSON.stringify(filter)).toContain(`USING INDEX ${index}`);
        expect(plan).not.toMatch(/SCAN users|TEMP B-TREE/);
      }
    }
  });
});
