import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { newId } from "../src/lib/ids";
import { isCloseFriend } from "../src/social/close-friends";
import { type ApiResponse, api, expectError, signUp, type TestUser } from "./helpers";

const U = "/api/v1/users";
const MISSING = "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a";

const put = (u: TestUser | undefined, body: unknown) => api("PUT", `${U}/me/close-friends`, { token: u?.accessToken, body });

async function putOk(u: TestUser, userIds: string[]) {
  const res = await put(u, { userIds });
  expect(res.status, res.text).toBe(200);
  return res.body.userIds as string[];
}

/** Every close friend of `u` (ids), following nextCursor with `limit`. */
async function list(u: TestUser, limit = 100) {
  const items: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: ApiResponse = await api("GET", `${U}/me/close-friends?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, {
      token: u.accessToken,
    });
    expect(res.status, res.text).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  return { items, pages, ids: items.map((i) => i.id) };
}

describe("PUT/GET /me/close-friends", () => {
  it("replaces the whole list; duplicates are ignored; [] empties it", async () => {
    const a = await signUp();
    const b = await signUp();
    const c = await signUp({ displayName: "Cee" });
    expect(await putOk(a, [c.id, b.id, c.id])).toEqual([b.id, c.id].sort());
    const first = await list(a);
    expect(first.ids).toEqual([b.id, c.id].sort());
    expect(first.items.find((i) => i.id === c.id)).toMatchObject({ username: c.username, displayName: "Cee", isBlocked: false });

    expect(await putOk(a, [c.id])).toEqual([c.id]);
    expect((await list(a)).ids).toEqual([c.id]);
    expect(await putOk(a, [])).toEqual([]);
    expect((await list(a)).ids).toEqual([]);
  });

  it("pages across the list without duplicates or gaps", async () => {
    const a = await signUp();
    const friends = await Promise.all(Array.from({ length: 5 }, () => signUp()));
    await putOk(
      a,
      friends.map((f) => f.id),
    );
    const { ids, pages } = await list(a, 2);
    expect(pages).toBe(3);
    expect(ids).toEqual(friends.map((f) => f.id).sort());
  });

  it("refuses myself, unknown, inactive and blocked-either-way users with the bad ids listed, changing nothing", async () => {
    const a = await signUp();
    const ok = await signUp();
    const deleted = await signUp();
    const suspended = await signUp();
    const blockedMe = await signUp();
    const iBlocked = await signUp();
    await putOk(a, [ok.id]);
    await env.DB.prepare("UPDATE users SET status = 'deleted' WHERE id = ?").bind(deleted.id).run();
    await env.DB.prepare("UPDATE users SET status = 'suspended' WHERE id = ?").bind(suspended.id).run();
    expect((await api("POST", `${U}/me/blocked`, { token: blockedMe.accessToken, body: { userId: a.id } })).status).toBe(201);
    expect((await api("POST", `${U}/me/blocked`, { token: a.accessToken, body: { userId: iBlocked.id } })).status).toBe(201);

    const bad = [a.id, MISSING, deleted.id, suspended.id, blockedMe.id, iBlocked.id];
    const err = expectError(await put(a, { userIds: [ok.id, ...bad] }), 400, "invalid_user_ids");
    expect(err.details.userIds).toEqual(bad);
    expect((await list(a)).ids).toEqual([ok.id]);
  });

  it("rejects bad input: missing, wrong type, non-uuid, more than 500, unknown field, malformed JSON", async () => {
    const a = await signUp();
    const b = await signUp();
    const tooMany = Array.from({ length: 501 }, () => b.id);
    for (const [body, path] of [
      [{}, "body.userIds"],
      [{ userIds: b.id }, "body.userIds"],
      [{ userIds: ["nope"] }, "body.userIds.0"],
      [{ userIds: tooMany }, "body.userIds"],
      [{ userIds: [], extra: 1 }, "body"],
    ] as const) {
      const err = expectError(await put(a, body), 400, "validation_failed");
      expect(err.details.map((d: any) => d.path)).toContain(path);
    }
    expectError(
      await api("PUT", `${U}/me/close-friends`, { token: a.accessToken, raw: "{", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(await api("GET", `${U}/me/close-friends?cursor=%%%`, { token: a.accessToken }), 400, "invalid_cursor");
    expect((await list(a)).ids).toEqual([]);
  });

  it("takes the full 500 (statements chunked under D1's 100 parameters)", async () => {
    const a = await signUp();
    const at = Date.now();
    const ids = Array.from({ length: 500 }, () => newId());
    const insert = env.DB.prepare(
      "INSERT INTO users (id, username, display_name, password_hash, created_at, updated_at) VALUES (?, ?, 'Bulk', 'x', ?, ?)",
    );
    await env.DB.batch(ids.map((id) => insert.bind(id, `cf_${id.replaceAll("-", "").slice(-24)}`, at, at)));
    expect(await putOk(a, ids)).toEqual([...ids].sort());
    const { ids: listed, pages } = await list(a, 100);
    expect(pages).toBe(5);
    expect(listed).toEqual([...ids].sort());
    expect(await putOk(a, ids.slice(0, 3))).toEqual(ids.slice(0, 3).sort());
    expect((await list(a)).ids).toEqual(ids.slice(0, 3).sort());
  });

  it("401 without a token", async () => {
    expectError(await put(undefined, { userIds: [] }), 401, "unauthorized");
    expectError(await api("GET", `${U}/me/close-friends`), 401, "unauthorized");
  });

  it("each user sees and changes only their own list", async () => {
    const a = await signUp();
    const b = await signUp();
    const c = await signUp();
    await putOk(a, [c.id]);
    expect((await list(b)).ids).toEqual([]);
    await putOk(b, [a.id]);
    expect((await list(a)).ids).toEqual([c.id]);
    expect((await list(b)).ids).toEqual([a.id]);
  });

  it("a block removes close-friends entries both ways; isCloseFriend sees it", async () => {
    const a = await signUp();
    const b = await signUp();
    const c = await signUp();
    await putOk(a, [b.id, c.id]);
    await putOk(b, [a.id]);
    const db = createDb(env.DB);
    expect(await isCloseFriend(db, a.id, b.id)).toBe(true);
    expect((await api("POST", `${U}/me/blocked`, { token: b.accessToken, body: { userId: a.id } })).status).toBe(201);
    expect((await list(a)).ids).toEqual([c.id]);
    expect((await list(b)).ids).toEqual([]);
    expect(await isCloseFriend(db, a.id, b.id)).toBe(false);
    expect(await isCloseFriend(db, a.id, c.id)).toBe(true);
  });
});

describe("OpenAPI", () => {
  it("documents every social route with the bearer scheme and its error codes", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const routes: [string, string][] = [
      ["/api/v1/users/me/contacts", "get"],
      ["/api/v1/users/me/contacts", "post"],
      ["/api/v1/users/me/contacts/{userId}", "delete"],
      ["/api/v1/users/me/contacts/sync", "post"],
      ["/api/v1/users/me/blocked", "get"],
      ["/api/v1/users/me/blocked", "post"],
      ["/api/v1/users/me/blocked/{userId}", "delete"],
      ["/api/v1/users/{id}/follow", "post"],
      ["/api/v1/users/{id}/follow", "delete"],
      ["/api/v1/users/{id}/followers", "get"],
      ["/api/v1/users/{id}/following", "get"],
      ["/api/v1/users/me/close-friends", "get"],
      ["/api/v1/users/me/close-friends", "put"],
    ];
    for (const [path, method] of routes) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeTruthy();
      expect(op.security).toEqual([{ bearerAuth: [] }, { botAuth: [] }]);
      expect(op.responses["401"]).toBeTruthy();
    }
    expect(doc.paths["/api/v1/users/me/contacts/sync"].post.responses["413"]).toBeTruthy();
    expect(doc.components.schemas.AddContactRequest.additionalProperties).toBe(false);
  });
});
