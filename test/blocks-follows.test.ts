import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { newId } from "../src/lib/ids";
import { assertNotBlocked } from "../src/social/blocks";
import { followsPageQuery } from "../src/social/follows";
import { loadRelation, publicProfileView } from "../src/users/visibility";
import { type ApiResponse, api, expectError, signUp, type TestUser } from "./helpers";

const U = "/api/v1/users";
const MISSING = "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a";

const follow = (u: TestUser | undefined, id: string) => api("POST", `${U}/${id}/follow`, { token: u?.accessToken });
const unfollow = (u: TestUser | undefined, id: string) => api("DELETE", `${U}/${id}/follow`, { token: u?.accessToken });
const block = (u: TestUser | undefined, body: unknown) => api("POST", `${U}/me/blocked`, { token: u?.accessToken, body });
const unblock = (u: TestUser | undefined, id: string) => api("DELETE", `${U}/me/blocked/${id}`, { token: u?.accessToken });

async function followOk(u: TestUser, other: TestUser) {
  const res = await follow(u, other.id);
  expect(res.status, res.text).toBe(204);
}

/** followers_count / following_count straight from D1, next to the real number of rows. */
async function counts(u: TestUser) {
  const row = await env.DB.prepare(
    `SELECT followers_count AS followers, following_count AS following,
      (SELECT COUNT(*) FROM follows WHERE followee_id = users.id) AS followerRows,
      (SELECT COUNT(*) FROM follows WHERE follower_id = users.id) AS followingRows
     FROM users WHERE id = ?`,
  )
    .bind(u.id)
    .first<{ followers: number; following: number; followerRows: number; followingRows: number }>();
  expect(row!.followers, "followers_count matches the rows").toBe(row!.followerRows);
  expect(row!.following, "following_count matches the rows").toBe(row!.followingRows);
  return { followers: row!.followers, following: row!.following };
}

/** Every item of a paginated list, following nextCursor. */
async function all(path: string, u: TestUser, limit = 100) {
  const items: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: ApiResponse = await api("GET", `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, { token: u.accessToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  return { items, pages };
}
const ids = async (path: string, u: TestUser) => (await all(path, u)).items.map((i) => i.id);
const setStatus = (u: TestUser, status: string) => env.DB.prepare("UPDATE users SET status = ? WHERE id = ?").bind(status, u.id).run();

describe("POST/DELETE /:id/follow", () => {
  it("follows and unfollows with exact counts; repeats are idempotent", async () => {
    const a = await signUp();
    const b = await signUp();
    await followOk(a, b);
    expect(await counts(a)).toEqual({ followers: 0, following: 1 });
    expect(await counts(b)).toEqual({ followers: 1, following: 0 });
    await followOk(a, b);
    expect(await counts(b)).toEqual({ followers: 1, following: 0 });

    const res = await unfollow(a, b.id);
    expect(res.status, res.text).toBe(204);
    expect(await counts(a)).toEqual({ followers: 0, following: 0 });
    expect(await counts(b)).toEqual({ followers: 0, following: 0 });
    expect((await unfollow(a, b.id)).status).toBe(204);
    expect(await counts(b)).toEqual({ followers: 0, following: 0 });
    expect((await unfollow(a, MISSING)).status).toBe(204);
  });

  it("concurrent identical follows and unfollows count once", async () => {
    const a = await signUp();
    const b = await signUp();
    const c = await signUp();
    const results = await Promise.all([follow(a, b.id), follow(a, b.id), follow(c, b.id), follow(a, b.id)]);
    expect(results.map((r) => r.status)).toEqual([204, 204, 204, 204]);
    expect(await counts(b)).toEqual({ followers: 2, following: 0 });
    expect(await counts(a)).toEqual({ followers: 0, following: 1 });

    const gone = await Promise.all([unfollow(a, b.id), unfollow(a, b.id)]);
    expect(gone.map((r) => r.status)).toEqual([204, 204]);
    expect(await counts(b)).toEqual({ followers: 1, following: 0 });
    expect(await counts(a)).toEqual({ followers: 0, following: 0 });
  });

  it("refuses yourself, unknown, deleted and banned users; suspended users can be followed", async () => {
    const a = await signUp();
    const deleted = await signUp();
    const banned = await signUp();
    const suspended = await signUp();
    await setStatus(deleted, "deleted");
    await setStatus(banned, "banned");
    await setStatus(suspended, "suspended");
    expectError(await follow(a, a.id), 400, "cannot_follow_self");
    expectError(await unfollow(a, a.id), 400, "cannot_follow_self");
    for (const id of [MISSING, deleted.id, banned.id]) expectError(await follow(a, id), 404, "not_found");
    await followOk(a, suspended);
    expect(await counts(a)).toEqual({ followers: 0, following: 1 });
  });

  it("400 for a non-uuid id, 401 without a token", async () => {
    const a = await signUp();
    const b = await signUp();
    for (const method of ["POST", "DELETE"]) {
      const err = expectError(await api(method, `${U}/not-a-uuid/follow`, { token: a.accessToken }), 400, "validation_failed");
      expect(err.details[0].path).toBe("params.id");
    }
    expectError(await follow(undefined, b.id), 401, "unauthorized");
    expectError(await unfollow(undefined, b.id), 401, "unauthorized");
    expect(await counts(b)).toEqual({ followers: 0, following: 0 });
  });

  it("unfollowing only ever touches my own follow", async () => {
    const a = await signUp();
    const b = await signUp();
    const mallory = await signUp();
    await followOk(a, b);
    expect((await unfollow(mallory, b.id)).status).toBe(204);
    expect(await ids(`${U}/${b.id}/followers`, mallory)).toEqual([a.id]);
    expect(await counts(b)).toEqual({ followers: 1, following: 0 });
  });
});

describe("GET /:id/followers and /:id/following", () => {
  it("pages newest first with no duplicates or gaps, even when times tie", async () => {
    const star = await signUp();
    const viewer = await signUp();
    const fans = await Promise.all(Array.from({ length: 7 }, () => signUp()));
    for (const f of fans) await followOk(f, star);
    // Force ties on created_at so the id breaks them.
    await env.DB.prepare("UPDATE follows SET created_at = 1700000000000 WHERE followee_id = ? AND follower_id IN (?, ?, ?)")
      .bind(star.id, fans[1]!.id, fans[2]!.id, fans[3]!.id)
      .run();
    const rows = await env.DB.prepare(
      "SELECT follower_id AS id FROM follows WHERE followee_id = ? ORDER BY created_at DESC, follower_id DESC",
    )
      .bind(star.id)
      .all<{ id: string }>();

    const { items, pages } = await all(`${U}/${star.id}/followers`, viewer, 2);
    expect(pages).toBe(4);
    expect(items.map((i) => i.id)).toEqual(rows.results.map((r) => r.id));
    expect(new Set(items.map((i) => i.id)).size).toBe(7);
    expect(items[0]).toMatchObject({ isFollowing: false, isBlocked: false, followingCount: 1 });
    expect(items.every((i) => typeof i.followedAt === "string" && i.username)).toBe(true);

    const following = await all(`${U}/${fans[0]!.id}/following`, viewer);
    expect(following.items.map((i) => i.id)).toEqual([star.id]);
    expect(following.items[0]).toMatchObject({ followersCount: 7 });
  });

  it("serves full 100-item pages (profiles of a page are related in chunks under D1's 100 parameters)", async () => {
    const star = await signUp();
    const viewer = await signUp();
    const at = Date.now();
    const fans = Array.from({ length: 120 }, () => newId());
    const insertUser = env.DB.prepare(
      "INSERT INTO users (id, username, display_name, password_hash, created_at, updated_at) VALUES (?, ?, 'Fan', 'x', ?, ?)",
    );
    const insertFollow = env.DB.prepare("INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)");
    await env.DB.batch(fans.map((id) => insertUser.bind(id, `fan_${id.replaceAll("-", "").slice(-24)}`, at, at)));
    await env.DB.batch(fans.map((id, i) => insertFollow.bind(id, star.id, at + i)));
    // The viewer follows one fan and blocked another: relations must be right across chunks.
    await followOk(viewer, { id: fans[30]! } as TestUser);
    expect((await block(viewer, { userId: fans[100]! })).status).toBe(201);

    const first = await api("GET", `${U}/${star.id}/followers?limit=100`, { token: viewer.accessToken });
    expect(first.status, first.text).toBe(200);
    expect(first.body.items).toHaveLength(100);
    const rest = await api("GET", `${U}/${star.id}/followers?limit=100&cursor=${first.body.nextCursor}`, { token: viewer.accessToken });
    expect(rest.body.items).toHaveLength(20);
    expect(rest.body.nextCursor).toBeNull();
    const items = [...first.body.items, ...rest.body.items];
    expect(items.map((i: any) => i.id)).toEqual([...fans].reverse());
    expect(items.filter((i: any) => i.isFollowing).map((i: any) => i.id)).toEqual([fans[30]]);
    expect(items.filter((i: any) => i.isBlocked).map((i: any) => i.id)).toEqual([fans[100]]);
  });

  it("shows the viewer's own relation to each person and accepts `me`", async () => {
    const a = await signUp();
    const b = await signUp();
    const c = await signUp();
    await followOk(a, b);
    await followOk(c, b);
    await followOk(a, c);
    const mine = await all(`${U}/me/following`, a);
    expect(mine.items.map((i) => i.id).sort()).toEqual([b.id, c.id].sort());
    expect(mine.items.every((i) => i.isFollowing)).toBe(true);
    // C looks at B's followers: A is not someone C follows; C itself is listed.
    const seenByC = (await all(`${U}/${b.id}/followers`, c)).items;
    expect(Object.fromEntries(seenByC.map((i) => [i.id, i.isFollowing]))).toEqual({ [a.id]: false, [c.id]: false });
    expect(await ids(`${U}/me/followers`, b)).toEqual(await ids(`${U}/${b.id}/followers`, b));
  });

  it("404 for unknown, deleted or banned users and for someone who blocked me; blockers are left out of lists", async () => {
    const me = await signUp();
    const b = await signUp();
    const deleted = await signUp();
    const banned = await signUp();
    const hater = await signUp();
    await followOk(hater, b);
    await followOk(me, b);
    await setStatus(deleted, "deleted");
    await setStatus(banned, "banned");
    expect((await block(hater, { userId: me.id })).status).toBe(201);
    for (const id of [MISSING, deleted.id, banned.id, hater.id]) {
      expectError(await api("GET", `${U}/${id}/followers`, { token: me.accessToken }), 404, "not_found");
      expectError(await api("GET", `${U}/${id}/following`, { token: me.accessToken }), 404, "not_found");
    }
    expect(await ids(`${U}/${b.id}/followers`, me)).toEqual([me.id]);
    expect((await ids(`${U}/${b.id}/followers`, b)).sort()).toEqual([me.id, hater.id].sort());
  });

  it("rejects bad ids, limits and cursors; 401 without a token", async () => {
    const a = await signUp();
    const err = expectError(await api("GET", `${U}/nope/followers`, { token: a.accessToken }), 400, "validation_failed");
    expect(err.details[0].path).toBe("params.id");
    expectError(await api("GET", `${U}/${a.id}/following?limit=abc`, { token: a.accessToken }), 400, "validation_failed");
    expectError(await api("GET", `${U}/${a.id}/followers?cursor=e30`, { token: a.accessToken }), 400, "invalid_cursor");
    expectError(await api("GET", `${U}/${a.id}/followers`), 401, "unauthorized");
    expectError(await api("GET", `${U}/me/following`), 401, "unauthorized");
  });
});

describe("POST /me/blocked", () => {
  it("blocks (201), repeats idempotently (200), and removes follows both ways with exact counts", async () => {
    const a = await signUp();
    const b = await signUp();
    const c = await signUp();
    await followOk(a, b);
    await followOk(b, a);
    await followOk(c, a);
    await followOk(a, c);
    expect(await counts(a)).toEqual({ followers: 2, following: 2 });

    const res = await block(a, { userId: b.id });
    expect(res.status, res.text).toBe(201);
    expect(res.body.blocked).toEqual({ id: b.id, username: b.username, displayName: b.username, blockedAt: expect.any(String) });
    expect(await counts(a)).toEqual({ followers: 1, following: 1 });
    expect(await counts(b)).toEqual({ followers: 0, following: 0 });
    expect(await counts(c)).toEqual({ followers: 1, following: 1 });
    expect(await ids(`${U}/${a.id}/followers`, a)).toEqual([c.id]);

    const again = await block(a, { userId: b.id });
    expect(again.status).toBe(200);
    expect(again.body.blocked).toEqual(res.body.blocked);
    expect(await counts(a)).toEqual({ followers: 1, following: 1 });
  });

  it("the blocked user cannot follow the blocker (404, as if unknown); the blocker gets 403 blocked", async () => {
    const a = await signUp();
    const b = await signUp();
    expect((await block(a, { userId: b.id })).status).toBe(201);
    const hidden = expectError(await follow(b, a.id), 404, "not_found");
    expect(hidden.message).toBe(expectError(await follow(b, MISSING), 404, "not_found").message);
    expectError(await follow(a, b.id), 403, "blocked");
    expect(await counts(a)).toEqual({ followers: 0, following: 0 });

    expect((await unblock(a, b.id)).status).toBe(204);
    await followOk(b, a);
    expect(await counts(a)).toEqual({ followers: 1, following: 0 });
  });

  it("a follow racing a block never survives it and counts stay exact", async () => {
    const a = await signUp();
    const b = await signUp();
    await Promise.all([follow(b, a.id), block(a, { userId: b.id }), follow(b, a.id)]);
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM follows WHERE follower_id = ? AND followee_id = ?")
      .bind(b.id, a.id)
      .first();
    expect(row).toEqual({ n: 0 });
    expect(await counts(a)).toEqual({ followers: 0, following: 0 });
    expect(await counts(b)).toEqual({ followers: 0, following: 0 });
  });

  it("refuses yourself, unknown and deleted users; bad input; no token", async () => {
    const a = await signUp();
    const gone = await signUp();
    await setStatus(gone, "deleted");
    expectError(await block(a, { userId: a.id }), 400, "cannot_block_self");
    expectError(await block(a, { userId: MISSING }), 404, "not_found");
    expectError(await block(a, { userId: gone.id }), 404, "not_found");
    for (const [body, path] of [
      [{}, "body.userId"],
      [{ userId: 5 }, "body.userId"],
      [{ userId: "x" }, "body.userId"],
      [{ userId: gone.id, reason: "spam" }, "body"],
    ] as const) {
      const err = expectError(await block(a, body), 400, "validation_failed");
      expect(err.details.map((d: any) => d.path)).toContain(path);
    }
    expectError(
      await api("POST", `${U}/me/blocked`, { token: a.accessToken, raw: "{", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(await block(undefined, { userId: gone.id }), 401, "unauthorized");
    expect((await all(`${U}/me/blocked`, a)).items).toEqual([]);
  });
});

describe("GET /me/blocked and DELETE /me/blocked/:userId", () => {
  it("lists only my blocks, across pages, without duplicates", async () => {
    const a = await signUp();
    const other = await signUp();
    const targets = await Promise.all(Array.from({ length: 5 }, () => signUp()));
    for (const t of targets) expect((await block(a, { userId: t.id })).status).toBe(201);
    expect((await block(other, { userId: targets[0]!.id })).status).toBe(201);

    const { items, pages } = await all(`${U}/me/blocked`, a, 2);
    expect(pages).toBe(3);
    expect(items.map((i) => i.id)).toEqual(targets.map((t) => t.id).sort());
    expect(items[0]).toEqual({
      id: expect.any(String),
      username: expect.any(String),
      displayName: expect.any(String),
      blockedAt: expect.any(String),
    });
    expect(await ids(`${U}/me/blocked`, other)).toEqual([targets[0]!.id]);
    expectError(await api("GET", `${U}/me/blocked?limit=-1`, { token: a.accessToken }), 400, "validation_failed");
    expectError(await api("GET", `${U}/me/blocked`), 401, "unauthorized");
  });

  it("unblocks (204); not blocked → 404; another user cannot lift my block", async () => {
    const a = await signUp();
    const b = await signUp();
    const mallory = await signUp();
    expect((await block(a, { userId: b.id })).status).toBe(201);
    expectError(await unblock(mallory, b.id), 404, "not_found");
    expect(await ids(`${U}/me/blocked`, a)).toEqual([b.id]);
    const res = await unblock(a, b.id);
    expect(res.status, res.text).toBe(204);
    expect(await ids(`${U}/me/blocked`, a)).toEqual([]);
    expectError(await unblock(a, b.id), 404, "not_found");
    expectError(await unblock(a, "nope"), 400, "validation_failed");
    expectError(await unblock(undefined, b.id), 401, "unauthorized");
  });
});

describe("what a block hides", () => {
  it("the blocked user sees the blocker without photo or presence (GET /users/:id and publicProfileView)", async () => {
    const blocker = await signUp();
    const blocked = await signUp();
    const bystander = await signUp();
    await env.DB.prepare("UPDATE users SET avatar_media_id = 'avatar-1', last_seen_at = ? WHERE id = ?").bind(Date.now(), blocker.id).run();
    expect((await block(blocker, { userId: blocked.id })).status).toBe(201);

    const db = createDb(env.DB);
    const row = (await db.query.users.findFirst({ where: (u, { eq }) => eq(u.id, blocker.id) }))!;
    const hidden = publicProfileView(row, await loadRelation(db, blocked.id, blocker.id));
    expect(hidden).not.toHaveProperty("avatarMediaId");
    expect(hidden).not.toHaveProperty("lastSeenAt");
    expect(hidden).not.toHaveProperty("online");
    const shown = publicProfileView(row, await loadRelation(db, bystander.id, blocker.id));
    expect(shown).toMatchObject({ avatarMediaId: "avatar-1", lastSeenAt: expect.any(String) });

    const seenByBlocked = await api("GET", `${U}/${blocker.id}`, { token: blocked.accessToken });
    expect(seenByBlocked.status, seenByBlocked.text).toBe(200);
    expect(seenByBlocked.body.user).not.toHaveProperty("avatarMediaId");
    expect(seenByBlocked.body.user).not.toHaveProperty("lastSeenAt");
    const seenByOther = await api("GET", `${U}/${blocker.id}`, { token: bystander.accessToken });
    expect(seenByOther.body.user).toMatchObject({ avatarMediaId: "avatar-1" });
  });

  it("assertNotBlocked: 404 towards someone who blocked me, 403 towards someone I blocked, else fine", async () => {
    const a = await signUp();
    const b = await signUp();
    const c = await signUp();
    expect((await block(a, { userId: b.id })).status).toBe(201);
    const db = createDb(env.DB);
    await expect(assertNotBlocked(db, b.id, a.id)).rejects.toMatchObject({ status: 404, code: "not_found" });
    await expect(assertNotBlocked(db, a.id, b.id)).rejects.toMatchObject({ status: 403, code: "blocked" });
    await expect(assertNotBlocked(db, a.id, c.id)).resolves.toBeUndefined();
    await expect(assertNotBlocked(db, c.id, b.id)).resolves.toBeUndefined();
  });
});

describe("follow list query plan", () => {
  it("reads follows through their (user, created_at, other) indexes, never a SCAN", async () => {
    const db = createDb(env.DB);
    for (const direction of ["followers", "following"] as const) {
      for (const after of [null, { at: 1, id: MISSING }]) {
        const { sql, params } = followsPageQuery(db, MISSING, MISSING, direction, 20, after).toSQL();
        const res = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .bind(...params)
          .all<{ detail: string }>();
        const details = res.results.map((r) => r.detail);
        const index = direction === "followers" ? "follows_followee_idx" : "follows_follower_idx";
        expect(details.join("\n")).toContain(`SEARCH follows USING COVERING INDEX ${index}`);
        expect(details.filter((d) => /^SCAN|TEMP B-TREE/.test(d))).toEqual([]);
      }
    }
  });
});
