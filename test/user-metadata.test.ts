import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectError, expectInvalid, STRONG_PASSWORD, signUp, type TestUser } from "./helpers";

/**
 * Custom metadata on users: the app's own JSON object, set through PATCH /users/me, checked
 * (an object, ≤ 4 KiB, keys 1–64 characters, nested at most 4 levels), stored as sent and shown
 * as stored on the own profile and on public profiles.
 */

const ME = "/api/v1/users/me";
const patchMe = (u: TestUser, body: unknown) => api("PATCH", ME, { token: u.accessToken, body });
const getMe = (u: TestUser) => api("GET", ME, { token: u.accessToken });
const profileOf = (viewer: TestUser, id: string) => api("GET", `/api/v1/users/${id}`, { token: viewer.accessToken });
const storedMetadata = async (id: string) =>
  (await env.DB.prepare("SELECT metadata FROM users WHERE id = ?").bind(id).first<{ metadata: string | null }>())!.metadata;

/** An object whose JSON text is exactly `bytes` bytes of UTF-8 (`{"k":"…"}` with two-byte letters and one ASCII pad). */
function objectOfBytes(bytes: number) {
  const overhead = JSON.stringify({ k: "" }).length;
  const room = bytes - overhead;
  const value = "é".repeat(Math.floor(room / 2)) + "x".repeat(room % 2);
  const object = { k: value };
  expect(new TextEncoder().encode(JSON.stringify(object)).byteLength).toBe(bytes);
  return object;
}

describe("PATCH /users/me metadata", () => {
  it("stores the object as sent and shows it exactly so, to the owner and on public profiles", async () => {
    const [owner, viewer] = await Promise.all([signUp(), signUp()]);
    // Key order, unicode, numbers, nulls, arrays and empty containers survive as they are.
    const metadata = { zeta: 1, alpha: "ünïcødé 🎉", plan: { tier: "gold", seats: 12.5, tags: ["a", null, true] }, empty: {}, list: [] };
    const res = await patchMe(owner, { metadata });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.metadata).toEqual(metadata);
    expect(JSON.stringify(res.body.user.metadata)).toBe(JSON.stringify(metadata));
    expect(await storedMetadata(owner.id)).toBe(JSON.stringify(metadata));

    expect(JSON.stringify((await getMe(owner)).body.user.metadata)).toBe(JSON.stringify(metadata));
    const seen = await profileOf(viewer, owner.id);
    expect(seen.status, seen.text).toBe(200);
    expect(JSON.stringify(seen.body.user.metadata)).toBe(JSON.stringify(metadata));
    const byName = await api("GET", `/api/v1/users/by-username/${owner.username}`, { token: viewer.accessToken });
    expect(byName.body.user.metadata).toEqual(metadata);
  });

  it("shows it wherever profiles appear, e.g. in a contact list", async () => {
    const [owner, viewer] = await Promise.all([signUp(), signUp()]);
    expect((await patchMe(owner, { metadata: { badge: "beta" } })).status).toBe(200);
    const added = await api("POST", "/api/v1/users/me/contacts", { token: viewer.accessToken, body: { userId: owner.id } });
    expect(added.status, added.text).toBe(201);
    const list = await api("GET", "/api/v1/users/me/contacts", { token: viewer.accessToken });
    expect(list.body.items.find((c: any) => c.id === owner.id).metadata).toEqual({ badge: "beta" });
  });

  it("replaces it as a whole, leaves it alone when not sent, and clears it with null", async () => {
    const u = await signUp();
    await patchMe(u, { metadata: { a: 1, b: 2 } });
    expect((await patchMe(u, { metadata: { c: 3 } })).body.user.metadata).toEqual({ c: 3 });
    expect((await patchMe(u, { bio: "still here" })).body.user.metadata).toEqual({ c: 3 });
    expect(await storedMetadata(u.id)).toBe('{"c":3}');
    const cleared = await patchMe(u, { metadata: null });
    expect(cleared.body.user.metadata).toBeNull();
    expect(await storedMetadata(u.id)).toBeNull();
    // An empty object is an object: stored and shown as such.
    expect((await patchMe(u, { metadata: {} })).body.user.metadata).toEqual({});
    expect(await storedMetadata(u.id)).toBe("{}");
  });

  it("takes exactly 4 KiB, keys of 64 characters and 4 levels", async () => {
    const u = await signUp();
    const max = objectOfBytes(4096);
    expect((await patchMe(u, { metadata: max })).body.user.metadata).toEqual(max);
    const longKey = { ["k".repeat(64)]: { l2: { l3: [1] } } };
    const res = await patchMe(u, { metadata: longKey });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.metadata).toEqual(longKey);
  });

  it("refuses what is not a small, shallow JSON object with 400 naming the place, and stores nothing", async () => {
    const u = await signUp();
    await patchMe(u, { bio: "before", metadata: { keep: true } });
    const cases: [unknown, string][] = [
      [[1, 2], "body.metadata"],
      ["text", "body.metadata"],
      [42, "body.metadata"],
      [true, "body.metadata"],
      [objectOfBytes(4097), "body.metadata"],
      [{ "": 1 }, "body.metadata."],
      [{ ["k".repeat(65)]: 1 }, `body.metadata.${"k".repeat(65)}`],
      [{ ok: { ["n".repeat(65)]: 1 } }, `body.metadata.ok.${"n".repeat(65)}`],
      [{ a: { b: { c: { d: { e: 1 } } } } }, "body.metadata.a.b.c.d"],
      [{ a: [[[[1]]]] }, "body.metadata.a.0.0.0"],
    ];
    for (const [metadata, path] of cases) {
      // A valid field beside it changes nothing either: the request is refused whole.
      expectInvalid(await patchMe(u, { bio: "after", metadata }), path);
    }
    expect(await storedMetadata(u.id)).toBe('{"keep":true}');
    expect((await getMe(u)).body.user).toMatchObject({ bio: "before", metadata: { keep: true } });
  });

  it("needs a token; unknown profiles are 404", async () => {
    expectError(await api("PATCH", ME, { body: { metadata: { a: 1 } } }), 401, "unauthorized");
    const u = await signUp();
    expectError(await profileOf(u, crypto.randomUUID()), 404, "not_found");
  });

  it("goes with the account when it is deleted", async () => {
    const u = await signUp();
    await patchMe(u, { metadata: { mine: "yes" } });
    const deleted = await api("DELETE", ME, { token: u.accessToken, body: { password: STRONG_PASSWORD } });
    expect(deleted.status, deleted.text).toBe(204);
    expect(await storedMetadata(u.id)).toBeNull();
  });
});
