import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { createDb } from "../src/db/client";
import { parseSearchQuery, userSearchSql } from "../src/search/service";
import { api, expectError, signUp, type TestUser } from "./helpers";

const SEARCH = "/api/v1/users/search";

/** A word no other test uses: letters only, so it is one FTS token. */
const word = () =>
  `zq${Math.random()
    .toString(36)
    .replace(/[^a-z]/g, "")
    .slice(0, 8)}${"abcdefgh"[Math.floor(Math.random() * 8)]}`;

async function setColumns(userId: string, columns: Record<string, string | number | null>) {
  const names = Object.keys(columns);
  const assignments = names.map((n) => `${n} = ?`).join(", ");
  await env.DB.prepare(`UPDATE users SET ${assignments} WHERE id = ?`)
    .bind(...names.map((n) => columns[n]), userId)
    .run();
}

async function block(blocker: TestUser, blocked: TestUser) {
  await env.DB.prepare("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)")
    .bind(blocker.id, blocked.id, Date.now())
    .run();
}

async function search(token: string, q: string, extra = "") {
  return api("GET", `${SEARCH}?q=${encodeURIComponent(q)}${extra}`, { token });
}

/** The ids a search finds, in order; asserts success. */
async function found(token: string, q: string, extra = ""): Promise<string[]> {
  const res = await search(token, q, extra);
  expect(res.status, res.text).toBe(200);
  return res.body.items.map((i: { id: string }) => i.id);
}

describe("GET /users/search: input and auth", () => {
  it("requires a token", async () => {
    expectError(await api("GET", `${SEARCH}?q=alice`), 401, "unauthorized");
  });

  it("rejects a missing, empty, too long or symbol-only query and bad paging", async () => {
    const u = await signUp();
    expectError(await api("GET", SEARCH, { token: u.accessToken }), 400, "validation_failed");
    expectError(await search(u.accessToken, "   "), 400, "validation_failed");
    const long = expectError(await search(u.accessToken, "a".repeat(101)), 400, "validation_failed");
    expect(long.details[0].path).toBe("query.q");
    const symbols = expectError(await search(u.accessToken, `"*^:()-+`), 400, "validation_failed");
    expect(symbols.details[0].path).toBe("query.q");
    expectError(await search(u.accessToken, "___"), 400, "validation_failed");
    expectError(await search(u.accessToken, "alice", "&limit=0"), 400, "validation_failed");
    expectError(await search(u.accessToken, "alice", "&limit=101"), 400, "validation_failed");
    expectError(await search(u.accessToken, "alice", "&cursor=not-a-cursor"), 400, "invalid_cursor");
  });

  it("treats FTS syntax as plain words instead of failing", async () => {
    const u = await signUp();
    const w = word();
    await setColumns(u.id, { display_name: `${w} Person` });
    expect(await found(u.accessToken, `${w} OR NEAR("x") -bio:`)).toEqual([]);
    expect(await found(u.accessToken, `"${w}" AND`)).toEqual([]);
    expect(await found(u.accessToken, `"${w}"* (person`)).toEqual([u.id]);
  });

  it("rate limits searches per user (60 a minute)", async () => {
    const u = await signUp();
    // The limit counts per clock minute: hold the clock at the start of the next one, so the 61
    // searches cannot straddle a minute boundary (they did now and then on a loaded machine).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.ceil(Date.now() / 60_000) * 60_000 + 1_000);
    try {
      const results = [];
      for (let i = 0; i < 60; i++) results.push((await search(u.accessToken, `zqnothing${i}`)).status);
      expect(results.every((s) => s === 200)).toBe(true);
      const limited = await search(u.accessToken, "zqnothing");
      expectError(limited, 429, "rate_limited");
      expect(limited.headers.get("RateLimit-Limit")).toBe("60");
      // One second into the held minute: the Worker sees the same clock.
      expect(limited.headers.get("Retry-After")).toBe("59");
    } finally {
      vi.useRealTimers();
    }
  });

  it("parses queries into quoted prefix terms", () => {
    expect(parseSearchQuery("  Alice  o'Brien ")).toEqual({ match: `"Alice"* "o"* "Brien"*`, exactUsername: "alice  o'brien" });
    expect(parseSearchQuery("@Bob_99").match).toBe(`"Bob_99"*`);
    expect(parseSearchQuery("@Bob_99").exactUsername).toBe("bob_99");
    expect(parseSearchQuery("a b c d e f g h i j").match.split(" ")).toHaveLength(8);
  });
});

describe("GET /users/search: ranking", () => {
  it("puts the exact username first, then username over display name over bio", async () => {
    const w = word();
    const viewer = await signUp();
    const bioMention = await signUp();
    await setColumns(bioMention.id, { bio: `big fan of ${w} and friends` });
    const displayHit = await signUp({ displayName: `${w} Fan` });
    const usernamePrefix = await signUp({ username: `${w}_b` });
    const exact = await signUp({ username: w });

    expect(await found(viewer.accessToken, w)).toEqual([exact.id, usernamePrefix.id, displayHit.id, bioMention.id]);
    // Upper case and a leading @ still count as the exact username.
    expect((await found(viewer.accessToken, `@${w.toUpperCase()}`))[0]).toBe(exact.id);
  });

  it("matches word prefixes and needs every word", async () => {
    const w = word();
    const viewer = await signUp();
    const ada = await signUp({ displayName: `Adaline ${w}` });
    const other = await signUp({ displayName: `Bertram ${w}` });
    const prefix = w.slice(0, 5);
    expect(new Set(await found(viewer.accessToken, `${w.slice(0, 6)}`))).toEqual(new Set([ada.id, other.id]));
    expect(await found(viewer.accessToken, `ada ${w}`)).toEqual([ada.id]);
    expect(await found(viewer.accessToken, `${prefix} bert`)).toEqual([other.id]);
    expect(await found(viewer.accessToken, `${w} nobodyhasthisword`)).toEqual([]);
  });

  it("ignores accents and case both ways", async () => {
    const w = word();
    const viewer = await signUp();
    const renee = await signUp({ displayName: `Renée ${w}` });
    const noel = await signUp({ displayName: `Noel ${w}` });
    expect(await found(viewer.accessToken, `renee ${w}`)).toEqual([renee.id]);
    expect(await found(viewer.accessToken, `RENÉE ${w}`)).toEqual([renee.id]);
    expect(await found(viewer.accessToken, `Noël ${w}`)).toEqual([noel.id]);
  });

  it("returns public profiles filtered by the owners' privacy", async () => {
    const w = word();
    const viewer = await signUp();
    const open = await signUp({ displayName: `Open ${w}`, email: `${w}@example.com` });
    await setColumns(open.id, { privacy_email: "everyone", bio: "hello", last_seen_at: Date.now(), email_verified_at: Date.now() });
    const closed = await signUp({ displayName: `Closed ${w}`, email: `${w}x@example.com` });
    await setColumns(closed.id, { privacy_last_seen: "nobody", last_seen_at: Date.now() });
    const res = await search(viewer.accessToken, `open ${w}`);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({
      id: open.id,
      username: open.username,
      displayName: `Open ${w}`,
      bio: "hello",
      email: `${w}@example.com`,
    });
    expect(res.body.items[0].lastSeenAt).toMatch(/Z$/);
    expect(res.body.items[0].passwordHash).toBeUndefined();
    const hidden = (await search(viewer.accessToken, `closed ${w}`)).body.items[0];
    expect(hidden.id).toBe(closed.id);
    expect(hidden).not.toHaveProperty("lastSeenAt");
    expect(hidden).not.toHaveProperty("email");
  });
});

describe("GET /users/search: who never appears", () => {
  it("hides blocked users both ways, and suspended, banned and deleted accounts", async () => {
    const w = word();
    const viewer = await signUp();
    const bystander = await signUp();
    const people = await Promise.all(
      ["blocked", "blocker", "suspended", "banned", "deleted", "visible"].map((n) => signUp({ displayName: `${n} ${w}` })),
    );
    const [blocked, blocker, suspended, banned, deleted, visible] = people as [TestUser, TestUser, TestUser, TestUser, TestUser, TestUser];
    await block(viewer, blocked);
    await block(blocker, viewer);
    await setColumns(suspended.id, { status: "suspended" });
    await setColumns(banned.id, { status: "banned" });
    await setColumns(deleted.id, { status: "deleted" });

    expect(await found(viewer.accessToken, w)).toEqual([visible.id]);
    expect(new Set(await found(bystander.accessToken, w))).toEqual(new Set([blocked.id, blocker.id, visible.id]));
    // Blocking works by id, not only by name: the exact username of a blocker does not show either.
    expect(await found(viewer.accessToken, blocker.username)).toEqual([]);

    // Restored accounts come back into the index.
    await setColumns(suspended.id, { status: "active" });
    expect(new Set(await found(bystander.accessToken, w))).toEqual(new Set([blocked.id, blocker.id, suspended.id, visible.id]));
  });
});

describe("GET /users/search: the index follows the users table", () => {
  it("follows display name, username and bio changes", async () => {
    const [w1, w2, w3, w4] = [word(), word(), word(), word()];
    const viewer = await signUp();
    const u = await signUp({ displayName: `Old ${w1}` });
    expect(await found(viewer.accessToken, w1)).toEqual([u.id]);

    await setColumns(u.id, { display_name: `New ${w2}` });
    expect(await found(viewer.accessToken, w1)).toEqual([]);
    expect(await found(viewer.accessToken, w2)).toEqual([u.id]);

    await setColumns(u.id, { username: w3 });
    expect(await found(viewer.accessToken, u.username)).toEqual([]);
    const res = await search(viewer.accessToken, w3);
    expect(res.body.items.map((i: any) => [i.id, i.username])).toEqual([[u.id, w3]]);

    await setColumns(u.id, { bio: `now into ${w4}` });
    expect(await found(viewer.accessToken, w4)).toEqual([u.id]);
    await setColumns(u.id, { bio: null });
    expect(await found(viewer.accessToken, w4)).toEqual([]);
    // Presence updates do not disturb the index.
    await setColumns(u.id, { last_seen_at: Date.now() });
    expect(await found(viewer.accessToken, w2)).toEqual([u.id]);
  });

  it("drops erased and removed accounts", async () => {
    const w = word();
    const viewer = await signUp();
    const erased = await signUp({ displayName: `Erased ${w}` });
    const removed = await signUp({ displayName: `Removed ${w}` });
    const kept = await signUp({ displayName: `Kept ${w}` });
    // What account deletion does: status deleted and the profile scrubbed in one UPDATE.
    await setColumns(erased.id, { status: "deleted", username: `deleted:${erased.id}`, display_name: "Deleted account", bio: null });
    await env.DB.prepare("DELETE FROM users WHERE id = ?").bind(removed.id).run();
    expect(await found(viewer.accessToken, w)).toEqual([kept.id]);
    expect(await found(viewer.accessToken, erased.username)).toEqual([]);
  });

  it("leaves the FTS index in step with the active accounts after all those changes", async () => {
    // rank 1: also compare the index with its content (the view of active accounts). A trigger that
    // indexed a non-active row, missed a change, or deleted other values than it indexed fails this.
    const res = await env.DB.prepare("INSERT INTO users_fts(users_fts, rank) VALUES ('integrity-check', 1)").run();
    expect(res.success).toBe(true);
  });
});

describe("GET /users/search: pagination and plan", () => {
  it("pages through every hit once, in rank order, with an opaque cursor", async () => {
    const w = word();
    const viewer = await signUp();
    const people: TestUser[] = [];
    for (let i = 0; i < 5; i++) people.push(await signUp({ displayName: `${"x".repeat(i + 1)} ${w}` }));
    const all = await found(viewer.accessToken, w, "&limit=10");
    expect(new Set(all)).toEqual(new Set(people.map((p) => p.id)));

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await search(viewer.accessToken, w, `&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((i: any) => i.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
  });

  it("is driven by the FTS index: no full scan of users", async () => {
    const db = createDb(env.DB);
    const parsed = parseSearchQuery("alice bob");
    for (const after of [null, { e: 0 as const, r: -1.5, i: "0190" }]) {
      const plan = await db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${userSearchSql("viewer-id", parsed, 20, after)}`);
      const details = plan.map((p) => p.detail);
      expect(
        details.some((d) => /VIRTUAL TABLE INDEX/.test(d)),
        details.join("\n"),
      ).toBe(true);
      expect(
        details.some((d) => /SEARCH u USING INTEGER PRIMARY KEY \(rowid=\?\)/.test(d)),
        details.join("\n"),
      ).toBe(true);
      expect(
        details.filter((d) => /^SCAN (u|users|b|blocks)\b/.test(d)),
        details.join("\n"),
      ).toEqual([]);
    }
  });
});
