import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ApiResponse, api, expectError, logIn, signUp, type TestUser } from "./helpers";
import { postStory } from "./story-helpers";

// The moderation half of the admin area: the reports queue with its resolutions, and the audit
// log. Access rules, bootstrap, stats and account actions are in admin.test.ts.
const ADMIN = "/api/v1/admin";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HOUR = 60 * 60 * 1000;

const userRow = (id: string) => env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<any>();
const auditRows = async (targetId: string) =>
  (await env.DB.prepare("SELECT * FROM admin_audit WHERE target_id = ? ORDER BY id").bind(targetId).all<any>()).results;

async function staffUser(role: "admin" | "moderator"): Promise<TestUser> {
  const u = await signUp();
  await env.DB.prepare("UPDATE users SET role = ? WHERE id = ?").bind(role, u.id).run();
  return u;
}

const get = (path: string, token?: string) => api("GET", `${ADMIN}${path}`, { token });
const post = (path: string, token: string | undefined, body?: unknown) => api("POST", `${ADMIN}${path}`, { token, body });

function expectOk(res: ApiResponse) {
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** File a report as `reporter`; returns its id. */
async function fileReport(reporter: TestUser, body: Record<string, unknown>): Promise<string> {
  const res = await api("POST", "/api/v1/reports", { token: reporter.accessToken, body: { reason: "spam", ...body } });
  expect(res.status, res.text).toBe(201);
  return res.body.report.id;
}

describe("reports queue", () => {
  it("lists open reports oldest first and closed ones newest first, paginated", async () => {
    const mod = await staffUser("moderator");
    const reporter = await signUp();
    const target = await signUp();
    const ids = [
      await fileReport(reporter, { targetType: "user", targetId: target.id, details: "first" }),
      await fileReport(reporter, { targetType: "chat", targetId: crypto.randomUUID() }),
      await fileReport(reporter, { targetType: "story", targetId: (await postStory(target)).id }),
    ];
    const open: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: ApiResponse = await get(`/reports?limit=2${cursor ? `&cursor=${cursor}` : ""}`, mod.accessToken);
      const body = expectOk(res);
      open.push(...body.items);
      cursor = body.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    const mine = open.filter((r) => ids.includes(r.id));
    expect(mine.map((r) => r.id)).toEqual(ids);
    expect(open.map((r) => r.id)).toEqual([...open.map((r) => r.id)].sort());
    expect(mine[0]).toEqual({
      id: ids[0],
      reporterId: reporter.id,
      targetType: "user",
      targetId: target.id,
      chatId: null,
      reason: "spam",
      details: "first",
      status: "open",
      resolutionAction: null,
      resolutionNote: null,
      resolvedBy: null,
      resolvedAt: null,
      createdAt: expect.stringMatching(ISO_RE),
    });

    for (const id of ids.slice(0, 2)) expectOk(await post(`/reports/${id}/resolve`, mod.accessToken, { action: "dismiss" }));
    const dismissed = expectOk(await get("/reports?status=dismissed&limit=2", mod.accessToken));
    expect(dismissed.items.map((r: any) => r.id)).toEqual([ids[1], ids[0]]);
    expectError(await get("/reports?status=pending", mod.accessToken), 400, "validation_failed");
    expectError(await get("/reports?cursor=%%%", mod.accessToken), 400, "invalid_cursor");
  });

  it("resolves with dismiss once: a closed report is 409 report_closed", async () => {
    const mod = await staffUser("moderator");
    const reporter = await signUp();
    const id = await fileReport(reporter, { targetType: "chat", targetId: crypto.randomUUID() });
    const res = expectOk(await post(`/reports/${id}/resolve`, mod.accessToken, { action: "dismiss", note: "Not a violation" }));
    expect(res.report).toMatchObject({
      id,
      status: "dismissed",
      resolutionAction: "dismiss",
      resolutionNote: "Not a violation",
      resolvedBy: mod.id,
      resolvedAt: expect.stringMatching(ISO_RE),
    });
    expectError(await post(`/reports/${id}/resolve`, mod.accessToken, { action: "warn" }), 409, "report_closed");
    const audit = await auditRows(id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_id: mod.id, action: "resolve_report", target_type: "report" });
    expect(JSON.parse(audit[0].details)).toEqual({ action: "dismiss", note: "Not a violation", status: "dismissed" });
  });

  it("suspends or bans a reported user through the report, ending their sessions", async () => {
    const mod = await staffUser("moderator");
    const admin = await staffUser("admin");
    const reporter = await signUp();
    const target = await signUp();
    const id = await fileReport(reporter, { targetType: "user", targetId: target.id, reason: "harassment" });
    const until = new Date(Date.now() + HOUR).toISOString();

    expectError(await post(`/reports/${id}/resolve`, mod.accessToken, { action: "ban_user" }), 403, "insufficient_role");
    const res = expectOk(
      await post(`/reports/${id}/resolve`, mod.accessToken, { action: "suspend_user", until, note: "Harassing people" }),
    );
    expect(res.report).toMatchObject({ status: "resolved", resolutionAction: "suspend_user" });
    expect(await userRow(target.id)).toMatchObject({
      status: "suspended",
      moderation_reason: "Harassing people",
      suspended_until: Date.parse(until),
    });
    expectError(await api("GET", "/api/v1/auth/me", { token: target.accessToken }), 401, "session_revoked");
    expect(expectError(await logIn(target.username), 403, "account_suspended").details).toEqual({ until, reason: "Harassing people" });
    const audit = await auditRows(target.id);
    expect(audit.map((r: any) => [r.action, r.actor_id])).toEqual([["suspend_user", mod.id]]);
    expect(JSON.parse(audit[0].details)).toMatchObject({ reportId: id, until });

    const second = await fileReport(reporter, { targetType: "user", targetId: target.id, reason: "scam" });
    expectOk(await post(`/reports/${second}/resolve`, admin.accessToken, { action: "ban_user" }));
    expect(await userRow(target.id)).toMatchObject({ status: "banned", moderation_reason: `Report ${second}: scam` });
  });

  it("lets only one of two concurrent resolutions through", async () => {
    const admin = await staffUser("admin");
    const reporter = await signUp();
    const target = await signUp();
    const id = await fileReport(reporter, { targetType: "user", targetId: target.id });
    const results = await Promise.all([
      post(`/reports/${id}/resolve`, admin.accessToken, { action: "ban_user", note: "first" }),
      post(`/reports/${id}/resolve`, admin.accessToken, { action: "suspend_user", note: "second" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expectError(results.find((r) => r.status === 409)!, 409, "report_closed");
    const winner = results.find((r) => r.status === 200)!.body.report.resolutionAction;
    expect(await auditRows(id)).toHaveLength(1);
    const userAudit = await auditRows(target.id);
    expect(userAudit.map((r: any) => r.action)).toEqual([winner]);
    expect((await userRow(target.id)).status).toBe(winner === "ban_user" ? "banned" : "suspended");
  });

  it("removes a reported user's profile content", async () => {
    const mod = await staffUser("moderator");
    const reporter = await signUp();
    const target = await signUp({ displayName: "Offensive Name" });
    await env.DB.prepare(
      "UPDATE users SET bio = 'offensive bio', status_text = 'offensive', metadata = '{\"motto\":\"offensive\"}' WHERE id = ?",
    )
      .bind(target.id)
      .run();
    const id = await fileReport(reporter, { targetType: "user", targetId: target.id, reason: "hate" });
    expectOk(await post(`/reports/${id}/resolve`, mod.accessToken, { action: "remove_content" }));
    expect(await userRow(target.id)).toMatchObject({
      display_name: target.username,
      bio: null,
      status_text: null,
      metadata: null,
      status: "active",
    });
    expect((await auditRows(target.id)).map((r: any) => r.action)).toEqual(["remove_profile_content"]);
  });

  it("refuses actions that do not fit and changes nothing", async () => {
    const mod = await staffUser("moderator");
    const reporter = await signUp();
    const otherMod = await staffUser("moderator");
    const chatReport = await fileReport(reporter, { targetType: "chat", targetId: crypto.randomUUID() });
    const staffReport = await fileReport(reporter, { targetType: "user", targetId: otherMod.id });
    expectError(await post(`/reports/${chatReport}/resolve`, mod.accessToken, { action: "suspend_user" }), 400, "action_not_applicable");
    expectError(await post(`/reports/${staffReport}/resolve`, mod.accessToken, { action: "suspend_user" }), 403, "insufficient_role");
    const bad = expectError(
      await post(`/reports/${chatReport}/resolve`, mod.accessToken, { action: "warn", until: new Date(Date.now() + HOUR).toISOString() }),
      400,
      "validation_failed",
    );
    expect(bad.details.map((d: any) => d.path)).toContain("body.until");
    expectError(await post(`/reports/${chatReport}/resolve`, mod.accessToken, { action: "delete" }), 400, "validation_failed");
    expectError(
      await post(`/reports/${chatReport}/resolve`, mod.accessToken, { action: "warn", note: "x".repeat(1001) }),
      400,
      "validation_failed",
    );
    expectError(await post("/reports/not-a-uuid/resolve", mod.accessToken, { action: "warn" }), 400, "validation_failed");
    expectError(await post(`/reports/${crypto.randomUUID()}/resolve`, mod.accessToken, { action: "warn" }), 404, "not_found");
    for (const id of [chatReport, staffReport]) {
      expect((await env.DB.prepare("SELECT status FROM reports WHERE id = ?").bind(id).first<any>()).status).toBe("open");
      expect(await auditRows(id)).toEqual([]);
    }
    expect((await userRow(otherMod.id)).status).toBe("active");
  });
});

describe("GET /admin/audit-log", () => {
  it("lists every action newest first, by target, paginated", async () => {
    const admin = await staffUser("admin");
    const target = await signUp();
    expectOk(await post(`/users/${target.id}/suspend`, admin.accessToken, { reason: "one" }));
    expectOk(await post(`/users/${target.id}/restore`, admin.accessToken));
    expectOk(await post(`/users/${target.id}/ban`, admin.accessToken, { reason: "two" }));

    const latest = expectOk(await get("/audit-log?limit=3", admin.accessToken));
    expect(latest.items.map((e: any) => e.action)).toEqual(["ban_user", "restore_user", "suspend_user"]);
    expect(latest.items[0]).toEqual({
      id: expect.any(String),
      actorType: "user",
      actorId: admin.id,
      action: "ban_user",
      targetType: "user",
      targetId: target.id,
      details: { previousStatus: "active", reason: "two" },
      createdAt: expect.stringMatching(ISO_RE),
    });
    const p1 = expectOk(await get(`/audit-log?targetType=user&targetId=${target.id}&limit=2`, admin.accessToken));
    expect(p1.items.map((e: any) => e.action)).toEqual(["ban_user", "restore_user"]);
    const p2 = expectOk(await get(`/audit-log?targetType=user&targetId=${target.id}&limit=2&cursor=${p1.nextCursor}`, admin.accessToken));
    expect(p2).toEqual({ items: [expect.objectContaining({ action: "suspend_user" })], nextCursor: null });
    expectError(await get("/audit-log?targetType=chat", admin.accessToken), 400, "validation_failed");
    expectError(await get("/audit-log?cursor=nope", admin.accessToken), 400, "invalid_cursor");
  });

  it("is append-only: the database refuses UPDATE and DELETE", async () => {
    const admin = await staffUser("admin");
    const target = await signUp();
    expectOk(await post(`/users/${target.id}/ban`, admin.accessToken, { reason: "evidence" }));
    const [row] = await auditRows(target.id);
    await expect(env.DB.prepare("UPDATE admin_audit SET details = NULL WHERE id = ?").bind(row.id).run()).rejects.toThrow(
      /admin_audit is append-only/,
    );
    await expect(env.DB.prepare("DELETE FROM admin_audit WHERE id = ?").bind(row.id).run()).rejects.toThrow(/admin_audit is append-only/);
    expect(await auditRows(target.id)).toEqual([row]);
  });
});
