import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectError, signUp } from "./helpers";
import { expireStory, postStory, setCloseFriends } from "./story-helpers";

const REPORTS = "/api/v1/reports";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const report = (token: string | undefined, body: unknown) => api("POST", REPORTS, { token, body });
const openReports = async (reporterId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM reports WHERE reporter_id = ? AND status = 'open'")
    .bind(reporterId)
    .first<{ n: number }>())!.n;

describe("POST /reports", () => {
  it("files a report about a user", async () => {
    const reporter = await signUp();
    const target = await signUp();
    const res = await report(reporter.accessToken, {
      targetType: "user",
      targetId: target.id,
      reason: "harassment",
      details: "  keeps messaging me  ",
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toEqual({
      report: {
        id: expect.stringMatching(UUID_RE),
        targetType: "user",
        targetId: target.id,
        chatId: null,
        reason: "harassment",
        details: "keeps messaging me",
        status: "open",
        createdAt: expect.stringMatching(ISO_RE),
      },
    });
    const row = await env.DB.prepare("SELECT * FROM reports WHERE id = ?").bind(res.body.report.id).first<any>();
    expect(row).toMatchObject({ reporter_id: reporter.id, target_type: "user", target_id: target.id, status: "open" });
  });

  it("files reports about messages (with their chat), chats and stories", async () => {
    const reporter = await signUp();
    const [chatId, messageId, storyId] = [crypto.randomUUID(), crypto.randomUUID(), (await postStory(await signUp())).id];
    const message = await report(reporter.accessToken, { targetType: "message", targetId: messageId, chatId, reason: "spam" });
    expect(message.status, message.text).toBe(201);
    expect(message.body.report).toMatchObject({ targetType: "message", targetId: messageId, chatId, details: null });
    const chat = await report(reporter.accessToken, { targetType: "chat", targetId: chatId, reason: "scam" });
    expect(chat.status, chat.text).toBe(201);
    const story = await report(reporter.accessToken, {
      targetType: "story",
      targetId: storyId,
      reason: "self_harm",
      details: "x".repeat(1000),
    });
    expect(story.status, story.text).toBe(201);
    expect(story.body.report.details).toHaveLength(1000);
    expect(await openReports(reporter.id)).toBe(3);
  });

  it("refuses stories the reporter cannot see, expired ones and unknown ids (404)", async () => {
    const [reporter, author, friend] = [await signUp(), await signUp(), await signUp()];
    await setCloseFriends(author, [friend]);
    const hidden = await postStory(author, { audience: { kind: "close_friends" } });
    const gone = await postStory(author);
    await expireStory(gone.id);
    for (const targetId of [hidden.id, gone.id, crypto.randomUUID()])
      expectError(await report(reporter.accessToken, { targetType: "story", targetId, reason: "spam" }), 404, "not_found");
    expect((await report(friend.accessToken, { targetType: "story", targetId: hidden.id, reason: "spam" })).status).toBe(201);
    expect(await openReports(reporter.id)).toBe(0);
  });

  it("requires a token", async () => {
    const target = await signUp();
    expectError(await report(undefined, { targetType: "user", targetId: target.id, reason: "spam" }), 401, "unauthorized");
    expectError(await report("not-a-token", { targetType: "user", targetId: target.id, reason: "spam" }), 401, "unauthorized");
  });

  it("rejects bad input", async () => {
    const reporter = await signUp();
    const target = await signUp();
    const base = { targetType: "user", targetId: target.id, reason: "spam" };
    const cases: [unknown, string][] = [
      [{ ...base, reason: undefined }, "body.reason"],
      [{ ...base, reason: "annoying" }, "body.reason"],
      [{ ...base, targetType: "group" }, "body.targetType"],
      [{ ...base, targetId: "not-a-uuid" }, "body.targetId"],
      [{ ...base, details: "x".repeat(1001) }, "body.details"],
      [{ ...base, details: "   " }, "body.details"],
      [{ ...base, chatId: crypto.randomUUID() }, "body.chatId"],
      [{ targetType: "message", targetId: crypto.randomUUID(), reason: "spam" }, "body.chatId"],
      [{ targetType: "message", targetId: crypto.randomUUID(), chatId: "nope", reason: "spam" }, "body.chatId"],
      [{ ...base, status: "resolved" }, "body"],
    ];
    for (const [body, path] of cases) {
      const error = expectError(await report(reporter.accessToken, body), 400, "validation_failed");
      expect(
        error.details.map((d: { path: string }) => d.path),
        JSON.stringify(body),
      ).toContain(path);
    }
    expectError(
      await api("POST", REPORTS, { token: reporter.accessToken, raw: "{", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expect(await openReports(reporter.id)).toBe(0);
  });

  it("refuses reporting yourself and unknown or deleted users", async () => {
    const reporter = await signUp();
    const gone = await signUp();
    await env.DB.prepare("UPDATE users SET status = 'deleted' WHERE id = ?").bind(gone.id).run();
    expectError(
      await report(reporter.accessToken, { targetType: "user", targetId: reporter.id, reason: "spam" }),
      400,
      "cannot_report_self",
    );
    expectError(
      await report(reporter.accessToken, { targetType: "user", targetId: crypto.randomUUID(), reason: "spam" }),
      404,
      "not_found",
    );
    expectError(await report(reporter.accessToken, { targetType: "user", targetId: gone.id, reason: "spam" }), 404, "not_found");
    expect(await openReports(reporter.id)).toBe(0);
  });

  it("allows one open report per reporter and target; others' reports do not count", async () => {
    const reporter = await signUp();
    const other = await signUp();
    const target = await signUp();
    const body = { targetType: "user", targetId: target.id, reason: "spam" };
    const first = await report(reporter.accessToken, body);
    expect(first.status).toBe(201);
    const dup = expectError(await report(reporter.accessToken, { ...body, reason: "scam", details: "again" }), 409, "report_exists");
    expect(dup.message).toMatch(/open report/);
    // Another user's open report on the same target is theirs, not mine (and mine doesn't block them).
    expect((await report(other.accessToken, body)).status).toBe(201);
    // The same id as another kind of target is another target.
    expect((await report(reporter.accessToken, { targetType: "chat", targetId: target.id, reason: "spam" })).status).toBe(201);
    // Once closed, the reporter may report again.
    await env.DB.prepare("UPDATE reports SET status = 'dismissed' WHERE id = ?").bind(first.body.report.id).run();
    const again = await report(reporter.accessToken, body);
    expect(again.status, again.text).toBe(201);
    expect(again.body.report.id).not.toBe(first.body.report.id);
  });

  it("lets a user report someone who blocked them", async () => {
    const reporter = await signUp();
    const blocker = await signUp();
    await env.DB.prepare("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)")
      .bind(blocker.id, reporter.id, Date.now())
      .run();
    expect((await report(reporter.accessToken, { targetType: "user", targetId: blocker.id, reason: "harassment" })).status).toBe(201);
  });

  it("keeps the open-reports counter exact", async () => {
    const counter = async () =>
      (await env.DB.prepare("SELECT value FROM stat_counters WHERE key = 'reports_open'").first<{ value: number }>())!.value;
    const total = async () => (await env.DB.prepare("SELECT count(*) AS n FROM reports WHERE status = 'open'").first<{ n: number }>())!.n;
    const reporter = await signUp();
    const target = await signUp();
    const before = await counter();
    expect(before).toBe(await total());
    const res = await report(reporter.accessToken, { targetType: "user", targetId: target.id, reason: "spam" });
    expect(await counter()).toBe(before + 1);
    await env.DB.prepare("UPDATE reports SET status = 'resolved' WHERE id = ?").bind(res.body.report.id).run();
    expect(await counter()).toBe(before);
    await env.DB.prepare("UPDATE reports SET status = 'open' WHERE id = ?").bind(res.body.report.id).run();
    expect(await counter()).toBe(before + 1);
    await env.DB.prepare("DELETE FROM reports WHERE id = ?").bind(res.body.report.id).run();
    expect(await counter()).toBe(before);
    expect(await counter()).toBe(await total());
  });

  it("rate limits reports per user (20 an hour)", async () => {
    const reporter = await signUp();
    for (let i = 0; i < 20; i++) {
      const res = await report(reporter.accessToken, { targetType: "chat", targetId: crypto.randomUUID(), reason: "spam" });
      expect(res.status, res.text).toBe(201);
    }
    const limited = await report(reporter.accessToken, { targetType: "chat", targetId: crypto.randomUUID(), reason: "spam" });
    expectError(limited, 429, "rate_limited");
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await openReports(reporter.id)).toBe(20);
  });

  it("is documented in the OpenAPI document", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const op = doc.paths["/api/v1/reports"].post;
    expect(op.security).toEqual([{ bearerAuth: [] }, { botAuth: [] }]);
    expect(
      doc.components.schemas.CreateReportRequest.properties.reason.$ref ??
        doc.components.schemas.CreateReportRequest.properties.reason.enum,
    ).toBeTruthy();
    expect(doc.components.schemas.ReportReason.enum).toContain("child_safety");
  });
});
