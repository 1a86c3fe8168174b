import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { ensureReferralCode, newReferralCode, withFreshReferralCode } from "../src/auth/referral-codes";
import { createDb } from "../src/db/client";
import { users } from "../src/db/schema";
import { api, DEFAULT_ATTRIBUTES, expectError, expectInvalid, STRONG_PASSWORD, signUp, type TestUser, uniqueName } from "./helpers";
import { avatarFor } from "./media-helpers";

const ME = "/api/v1/users/me";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CODE_RE = /^[0-9A-HJKMNP-TV-Z]{8}$/;

let phoneCounter = 0;
const uniquePhone = () => `+1415${(1_000_000 + ++phoneCounter * 7919 + Math.floor(Math.random() * 1000)).toString().slice(-7)}`;
const uniqueEmail = () => `${uniqueName("m")}@example.com`;

const getMe = (u: TestUser) => api("GET", ME, { token: u.accessToken });
const patchMe = (u: TestUser, body: unknown) => api("PATCH", ME, { token: u.accessToken, body });
const setUsername = (u: TestUser, username: unknown) => api("PUT", `${ME}/username`, { token: u.accessToken, body: { username } });
const setStatus = (u: TestUser, body: unknown) => api("PUT", `${ME}/status`, { token: u.accessToken, body });
const profileOf = (viewer: TestUser, id: string) => api("GET", `/api/v1/users/${id}`, { token: viewer.accessToken });
const profileByName = (viewer: TestUser, name: string) => api("GET", `/api/v1/users/by-username/${name}`, { token: viewer.accessToken });

async function userRow(id: string) {
  return (await env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<Record<string, any>>())!;
}

/** The row minus last_seen_at, which any authenticated request may move (see privacy.test.ts). */
async function profileRow(id: string) {
  const { last_seen_at: _ignored, ...rest } = await userRow(id);
  return rest;
}

describe("GET /users/me", () => {
  it("answers the full own profile with defaults for a new account", async () => {
    const email = uniqueEmail();
    const u = await signUp({ email, displayName: "Alice" });
    const res = await getMe(u);
    expect(res.status, res.text).toBe(200);
    expect(res.body.user).toEqual({
      id: u.id,
      username: u.username,
      displayName: "Alice",
      kind: "regular",
      email,
      emailVerified: false,
      phone: null,
      phoneVerified: false,
      twoFactorEnabled: false,
      role: "user",
      createdAt: expect.stringMatching(ISO_RE),
      bio: null,
      avatarMediaId: null,
      links: [],
      birthday: null,
      status: null,
      referralCode: expect.stringMatching(CODE_RE),
      referredBy: null,
      followersCount: 0,
      followingCount: 0,
      privacy: {
        lastSeen: "everyone",
        profilePhoto: "everyone",
        phone: "contacts",
        email: "nobody",
        groupInvites: "everyone",
        calls: "everyone",
        readReceipts: true,
      },
      ...DEFAULT_ATTRIBUTES,
      metadata: null,
      // display name other than the username (15) + email (20)
      profileCompletion: 35,
    });
    expect(res.text).not.toContain("argon2");
    expect((await userRow(u.id)).referral_code).toBe(res.body.user.referralCode);
  });

  it("gives an account made before referral codes one on first read, and keeps it", async () => {
    const u = await signUp();
    await env.DB.prepare("UPDATE users SET referral_code = NULL WHERE id = ?").bind(u.id).run();
    const first = await getMe(u);
    expect(first.body.user.referralCode).toMatch(CODE_RE);
    expect((await userRow(u.id)).referral_code).toBe(first.body.user.referralCode);
    expect((await getMe(u)).body.user.referralCode).toBe(first.body.user.referralCode);
  });

  it("refuses without a token", async () => {
    expectError(await api("GET", ME), 401, "unauthorized");
    expectError(await api("GET", ME, { headers: { authorization: "Bearer nope" } }), 401, "unauthorized");
  });
});

describe("PATCH /users/me", () => {
  it("changes every field, answers the updated profile and completes it to 100 %", async () => {
    const u = await signUp({ email: uniqueEmail() });
    const MEDIA_ID = await avatarFor(u);
    const links = [{ title: "Blog", url: "https://alice.example.com/blog" }, { url: "http://example.org" }];
    const res = await patchMe(u, {
      displayName: "  Alice L.  ",
      bio: "Down the\nrabbit hole",
      avatarMediaId: MEDIA_ID,
      links,
      birthday: "1990-04-23",
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user).toMatchObject({
      displayName: "Alice L.",
      bio: "Down the\nrabbit hole",
      avatarMediaId: MEDIA_ID,
      links,
      birthday: "1990-04-23",
    });
    expect(res.body.user.profileCompletion).toBe(100);
    expect((await getMe(u)).body.user).toEqual(res.body.user);
    const row = await userRow(u.id);
    expect(JSON.parse(row.links)).toEqual(links);
  });

  it("changes only the fields sent, and null clears optional ones", async () => {
    const u = await signUp();
    const MEDIA_ID = await avatarFor(u);
    await patchMe(u, { bio: "hello", birthday: "2000-01-01", links: [{ url: "https://a.example" }], avatarMediaId: MEDIA_ID });
    const partial = await patchMe(u, { displayName: "Only name" });
    expect(partial.body.user).toMatchObject({ displayName: "Only name", bio: "hello", birthday: "2000-01-01", avatarMediaId: MEDIA_ID });
    const cleared = await patchMe(u, { bio: null, birthday: null, links: null, avatarMediaId: null });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body.user).toMatchObject({ displayName: "Only name", bio: null, birthday: null, links: [], avatarMediaId: null });
    expect(cleared.body.user.profileCompletion).toBe(15);
    // An empty (or blank) bio is no bio.
    await patchMe(u, { bio: "x" });
    expect((await patchMe(u, { bio: "   " })).body.user.bio).toBeNull();
  });

  it("accepts the limits exactly", async () => {
    const u = await signUp();
    const links = Array.from({ length: 5 }, (_, i) => ({ title: "t".repeat(64), url: `https://example.com/${"p".repeat(2000)}${i}` }));
    const res = await patchMe(u, { displayName: "d".repeat(64), bio: "b".repeat(500), links, birthday: "1900-01-01" });
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.links).toHaveLength(5);
    expect(res.body.user.bio).toHaveLength(500);
  });

  it.each([
    ["displayName empty", { displayName: "  " }, "body.displayName"],
    ["displayName too long", { displayName: "d".repeat(65) }, "body.displayName"],
    ["displayName null", { displayName: null }, "body.displayName"],
    ["displayName not a string", { displayName: 42 }, "body.displayName"],
    ["displayName with a control character", { displayName: "a\u0007b" }, "body.displayName"],
    ["bio too long", { bio: "b".repeat(501) }, "body.bio"],
    ["bio not a string", { bio: ["x"] }, "body.bio"],
    ["avatarMediaId not a uuid", { avatarMediaId: "avatar.png" }, "body.avatarMediaId"],
    ["links not an array", { links: "https://example.com" }, "body.links"],
    ["six links", { links: Array.from({ length: 6 }, () => ({ url: "https://example.com" })) }, "body.links"],
    ["link without url", { links: [{ title: "x" }] }, "body.links.0.url"],
    ["javascript: link", { links: [{ url: "javascript:alert(1)" }] }, "body.links.0.url"],
    ["ftp link", { links: [{ url: "ftp://example.com/file" }] }, "body.links.0.url"],
    ["link url too long", { links: [{ url: `https://example.com/${"p".repeat(2040)}` }] }, "body.links.0.url"],
    ["link title too long", { links: [{ title: "t".repeat(65), url: "https://example.com" }] }, "body.links.0.title"],
    ["unknown link field", { links: [{ url: "https://example.com", icon: "x" }] }, "body.links.0"],
    ["birthday not a date", { birthday: "23/04/1990" }, "body.birthday"],
    ["birthday not a real date", { birthday: "2023-02-30" }, "body.birthday"],
    ["birthday before 1900", { birthday: "1899-12-31" }, "body.birthday"],
    ["birthday in the future", { birthday: `${new Date().getUTCFullYear() + 1}-01-01` }, "body.birthday"],
    ["unknown field (mass assignment)", { role: "admin" }, "body"],
    ["username through PATCH", { username: "someone_else" }, "body"],
    ["counts through PATCH", { followersCount: 1000 }, "body"],
  ])("rejects %s", async (_name, body, path) => {
    const u = await signUp();
    const before = await profileRow(u.id);
    expectInvalid(await patchMe(u, body), path);
    const after = await profileRow(u.id);
    expect(after).toEqual(before);
  });

  it("rejects an empty change, malformed JSON, another content type and a missing token", async () => {
    const u = await signUp();
    expectError(await patchMe(u, {}), 400, "validation_failed");
    expectError(
      await api("PATCH", ME, { token: u.accessToken, raw: "{bio:", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(
      await api("PATCH", ME, { token: u.accessToken, raw: "bio=x", headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
    expectError(await api("PATCH", ME, { body: { bio: "x" } }), 401, "unauthorized");
  });

  it("only ever changes the caller's own profile", async () => {
    const a = await signUp();
    const b = await signUp();
    const bBefore = await profileRow(b.id);
    // There is no id to aim at: an id in the body is an unknown field, and the token decides whose row changes.
    expectInvalid(await patchMe(a, { id: b.id, bio: "pwned" }), "body");
    expect((await patchMe(a, { bio: "mine" })).body.user.id).toBe(a.id);
    expect(await profileRow(b.id)).toEqual(bBefore);
    expect((await profileOf(a, b.id)).body.user.bio).toBeNull();
  });
});

describe("PUT /users/me/username", () => {
  it("changes the username (lower-cased), frees the old one at once, and moves sign-in and lookup", async () => {
    const u = await signUp();
    const old = u.username;
    const next = uniqueName("new");
    const res = await setUsername(u, `  ${next.toUpperCase()} `);
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.username).toBe(next);
    expect(res.body.user.id).toBe(u.id);

    expectError(
      await api("POST", "/api/v1/auth/login", { body: { identifier: old, password: STRONG_PASSWORD } }),
      401,
      "invalid_credentials",
    );
    expect((await api("POST", "/api/v1/auth/login", { body: { identifier: next, password: STRONG_PASSWORD } })).status).toBe(200);

    const viewer = await signUp();
    expectError(await profileByName(viewer, old), 404, "not_found");
    expect((await profileByName(viewer, next)).body.user.id).toBe(u.id);

    // Someone else can take the old name right away.
    const taker = await signUp({ username: old });
    expect(taker.username).toBe(old);
  });

  it("answers 409 username_taken for a name in use, whatever its case", async () => {
    const a = await signUp();
    const b = await signUp();
    expectError(await setUsername(b, a.username.toUpperCase()), 409, "username_taken");
    expect((await userRow(b.id)).username).toBe(b.username);
  });

  it("keeps the current name as a no-op", async () => {
    const u = await signUp();
    const res = await setUsername(u, u.username);
    expect(res.status, res.text).toBe(200);
    expect(res.body.user.username).toBe(u.username);
  });

  it.each([
    ["too short", "ab"],
    ["too long", "a".repeat(33)],
    ["invalid characters", "no-dashes"],
    ["a colon", "deleted:x"],
    ["not a string", 123],
    ["null", null],
  ])("rejects a username that is %s", async (_name, username) => {
    const u = await signUp();
    expectInvalid(await setUsername(u, username), "body.username");
    expect((await userRow(u.id)).username).toBe(u.username);
  });

  it("rejects a missing or extra field, malformed JSON and a missing token", async () => {
    const u = await signUp();
    expectInvalid(await api("PUT", `${ME}/username`, { token: u.accessToken, body: {} }), "body.username");
    expectInvalid(await api("PUT", `${ME}/username`, { token: u.accessToken, body: { username: uniqueName(), userId: u.id } }), "body");
    expectError(
      await api("PUT", `${ME}/username`, { token: u.accessToken, raw: "{", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(await api("PUT", `${ME}/username`, { body: { username: uniqueName() } }), 401, "unauthorized");
  });
});

describe("PUT and DELETE /users/me/status", () => {
  it("sets a status with emoji and expiry, shows it to others, and clears it", async () => {
    const u = await signUp();
    const viewer = await signUp();
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const res = await setStatus(u, { text: " On holiday ", emoji: "🌴", expiresAt });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ status: { text: "On holiday", emoji: "🌴", expiresAt } });
    expect((await getMe(u)).body.user.status).toEqual({ text: "On holiday", emoji: "🌴", expiresAt });
    expect((await profileOf(viewer, u.id)).body.user.status).toEqual({ text: "On holiday", emoji: "🌴", expiresAt });

    // Replacing: a status without emoji or expiry stays until changed.
    const plain = await setStatus(u, { text: "Back" });
    expect(plain.body).toEqual({ status: { text: "Back", emoji: null, expiresAt: null } });

    const cleared = await api("DELETE", `${ME}/status`, { token: u.accessToken });
    expect(cleared.status, cleared.text).toBe(204);
    expect((await getMe(u)).body.user.status).toBeNull();
    expect((await profileOf(viewer, u.id)).body.user.status).toBeNull();
    // Clearing again is fine.
    expect((await api("DELETE", `${ME}/status`, { token: u.accessToken })).status).toBe(204);
  });

  it("accepts single emoji made of several code points", async () => {
    const u = await signUp();
    for (const emoji of ["👩‍👩‍👧‍👦", "🇯🇵", "1️⃣", "👍🏽", "❤️"]) {
      const res = await setStatus(u, { text: "x", emoji });
      expect(res.status, `${emoji}: ${res.text}`).toBe(200);
      expect(res.body.status.emoji).toBe(emoji);
    }
  });

  it("hides an expired status in the own and the public view", async () => {
    const u = await signUp();
    const viewer = await signUp();
    await setStatus(u, { text: "Short-lived", expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await env.DB.prepare("UPDATE users SET status_expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1000, u.id)
      .run();
    expect((await getMe(u)).body.user.status).toBeNull();
    expect((await profileOf(viewer, u.id)).body.user.status).toBeNull();
    expect((await profileByName(viewer, u.username)).body.user.status).toBeNull();
  });

  it.each([
    ["missing text", { emoji: "🌴" }, "body.text"],
    ["blank text", { text: "   " }, "body.text"],
    ["text too long", { text: "t".repeat(141) }, "body.text"],
    ["text not a string", { text: 5 }, "body.text"],
    ["two emoji", { text: "x", emoji: "🌴🌴" }, "body.emoji"],
    ["letters as emoji", { text: "x", emoji: "a" }, "body.emoji"],
    ["emoji too long", { text: "x", emoji: "👍".repeat(9) }, "body.emoji"],
    ["expiry in the past", { text: "x", expiresAt: new Date(Date.now() - 60_000).toISOString() }, "body.expiresAt"],
    ["expiry not ISO", { text: "x", expiresAt: "tomorrow" }, "body.expiresAt"],
    ["expiry as a number", { text: "x", expiresAt: Date.now() + 60_000 }, "body.expiresAt"],
    ["unknown field", { text: "x", userId: "someone" }, "body"],
  ])("rejects %s", async (_name, body, path) => {
    const u = await signUp();
    expectInvalid(await setStatus(u, body), path);
    expect((await userRow(u.id)).status_text).toBeNull();
  });

  it("refuses without a token and never touches another user's status", async () => {
    const a = await signUp();
    const b = await signUp();
    await setStatus(b, { text: "B's status" });
    expectError(await api("PUT", `${ME}/status`, { body: { text: "x" } }), 401, "unauthorized");
    expectError(await api("DELETE", `${ME}/status`), 401, "unauthorized");
    expectError(
      await api("PUT", `${ME}/status`, { token: a.accessToken, raw: "[", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expect((await api("DELETE", `${ME}/status`, { token: a.accessToken })).status).toBe(204);
    expect((await profileOf(a, b.id)).body.user.status).toEqual({ text: "B's status", emoji: null, expiresAt: null });
  });
});

describe("referral codes", () => {
  it("records the referrer of a code given at registration (case-insensitive, forgiving O/0 and I/L/1)", async () => {
    const referrer = await signUp();
    const code: string = (await getMe(referrer)).body.user.referralCode;
    const typed = code.toLowerCase().replace(/0/g, "o").replace(/1/g, "l");
    const referred = await signUp({ referredBy: ` ${typed} ` });
    const me = (await getMe(referred)).body.user;
    expect(me.referredBy).toBe(referrer.id);
    expect(me.referralCode).toMatch(CODE_RE);
    expect(me.referralCode).not.toBe(code);
    expect((await userRow(referred.id)).referred_by).toBe(referrer.id);
  });

  it.each([
    ["unknown", "ZZZZZZZZ"],
    ["too short", "ABC"],
    ["with invalid symbols", "ABCD$FGH"],
  ])("refuses an %s code with 400 invalid_referral_code and creates no account", async (_name, code) => {
    const username = uniqueName();
    const res = await api("POST", "/api/v1/auth/register", { body: { username, password: STRONG_PASSWORD, referredBy: code } });
    expectError(res, 400, "invalid_referral_code");
    expect(await env.DB.prepare("SELECT id FROM users WHERE username = ?").bind(username).first()).toBeNull();
  });

  it("validates the type and length of referredBy", async () => {
    for (const referredBy of [12345678, "", "x".repeat(33)]) {
      const res = await api("POST", "/api/v1/auth/register", { body: { username: uniqueName(), password: STRONG_PASSWORD, referredBy } });
      expectInvalid(res, "body.referredBy");
    }
  });

  it("gives every account a distinct code", async () => {
    const accounts = await Promise.all([signUp(), signUp(), signUp()]);
    const codes = await Promise.all(accounts.map(async (u) => (await getMe(u)).body.user.referralCode));
    expect(new Set(codes).size).toBe(3);
  });

  it("retries with a fresh code when a generated one is taken", async () => {
    const db = createDb(env.DB);
    const holder = await signUp();
    const taken: string = (await getMe(holder)).body.user.referralCode;
    const late = await signUp();
    await env.DB.prepare("UPDATE users SET referral_code = NULL WHERE id = ?").bind(late.id).run();
    const [row] = await db.select().from(users).where(eq(users.id, late.id));
    const fresh = newReferralCode();
    const queue = [taken, fresh];
    const generated: string[] = [];
    const updated = await ensureReferralCode(db, row!, () => {
      generated.push(queue[0]!);
      return queue.shift()!;
    });
    expect(generated).toEqual([taken, fresh]);
    expect(updated.referralCode).toBe(fresh);
    expect((await userRow(late.id)).referral_code).toBe(fresh);
    expect((await userRow(holder.id)).referral_code).toBe(taken);
  });

  it("gives up after a few collisions and passes other errors through", async () => {
    let calls = 0;
    const conflict = () => Promise.reject(new Error("D1_ERROR: UNIQUE constraint failed: users.referral_code: SQLITE_CONSTRAINT"));
    const counted =
      <T>(attempt: () => Promise<T>) =>
      () => {
        calls++;
        return attempt();
      };
    await expect(withFreshReferralCode(counted(conflict))).rejects.toThrow(/referral_code/);
    expect(calls).toBe(5);
    calls = 0;
    await expect(
      withFreshReferralCode(counted(() => Promise.reject(new Error("UNIQUE constraint failed: users.username")))),
    ).rejects.toThrow(/username/);
    expect(calls).toBe(1);
  });
});

describe("GET /users/{id} and /users/by-username/{username}", () => {
  it("shows another user's public profile, without private fields, the same by id and by username", async () => {
    const owner = await signUp({ email: uniqueEmail(), phone: uniquePhone(), displayName: "Owner" });
    const MEDIA_ID = await avatarFor(owner);
    await patchMe(owner, { bio: "Hi", avatarMediaId: MEDIA_ID, birthday: "1991-02-03", links: [{ url: "https://owner.example" }] });
    const viewer = await signUp();
    const byId = await profileOf(viewer, owner.id);
    expect(byId.status, byId.text).toBe(200);
    expect(byId.body.user).toEqual({
      id: owner.id,
      username: owner.username,
      displayName: "Owner",
      kind: "regular",
      bio: "Hi",
      links: [{ url: "https://owner.example" }],
      status: null,
      followersCount: 0,
      followingCount: 0,
      isContact: false,
      isFollowing: false,
      isBlocked: false,
      verified: false,
      creator: false,
      metadata: null,
      createdAt: expect.stringMatching(ISO_RE),
      avatarMediaId: MEDIA_ID,
      lastSeenAt: expect.stringMatching(ISO_RE),
      online: false,
    });
    // Default privacy: phone for contacts, email for nobody, birthday for contacts; never settings or codes.
    for (const secret of [owner.email!, owner.phone!, "1991-02-03", "referralCode", "privacy", "argon2"]) {
      expect(byId.text).not.toContain(secret);
    }
    const byName = await profileByName(viewer, owner.username.toUpperCase());
    expect(byName.status, byName.text).toBe(200);
    expect(byName.body).toEqual(byId.body);
  });

  it("shows the owner everything about themselves", async () => {
    const u = await signUp({ email: uniqueEmail(), phone: uniquePhone() });
    await api("PUT", `${ME}/privacy`, {
      token: u.accessToken,
      body: { phone: "nobody", email: "nobody", lastSeen: "nobody", profilePhoto: "nobody" },
    });
    const res = await profileOf(u, u.id);
    expect(res.body.user).toMatchObject({ email: u.email, phone: u.phone, avatarMediaId: null, online: false });
    expect(res.body.user).toHaveProperty("lastSeenAt");
  });

  it("answers 404 for unknown, deleted and banned accounts, and keeps suspended ones visible", async () => {
    const viewer = await signUp();
    expectError(await profileOf(viewer, "01890a5d-ac96-774b-bcce-b302099a8057"), 404, "not_found");
    expectError(await profileByName(viewer, uniqueName("ghost")), 404, "not_found");
    const banned = await signUp();
    const suspended = await signUp();
    await env.DB.prepare("UPDATE users SET status = 'banned' WHERE id = ?").bind(banned.id).run();
    await env.DB.prepare("UPDATE users SET status = 'suspended' WHERE id = ?").bind(suspended.id).run();
    expectError(await profileOf(viewer, banned.id), 404, "not_found");
    expectError(await profileByName(viewer, banned.username), 404, "not_found");
    expect((await profileOf(viewer, suspended.id)).status).toBe(200);
    expect((await profileByName(viewer, suspended.username)).status).toBe(200);
  });

  it("validates the id and username and requires a token", async () => {
    const u = await signUp();
    expectInvalid(await profileOf(u, "not-a-uuid"), "params.id");
    expectInvalid(await profileByName(u, "x"), "params.username");
    expectInvalid(await profileByName(u, "has-dash"), "params.username");
    expectError(await api("GET", `/api/v1/users/${u.id}`), 401, "unauthorized");
    expectError(await api("GET", `/api/v1/users/by-username/${u.username}`), 401, "unauthorized");
  });

  it("is documented in /openapi.json with the bearer scheme", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const routes: [string, string][] = [
      ["/api/v1/users/me", "get"],
      ["/api/v1/users/me", "patch"],
      ["/api/v1/users/me", "delete"],
      ["/api/v1/users/me/username", "put"],
      ["/api/v1/users/me/privacy", "get"],
      ["/api/v1/users/me/privacy", "put"],
      ["/api/v1/users/me/status", "put"],
      ["/api/v1/users/me/status", "delete"],
      ["/api/v1/users/{id}", "get"],
      ["/api/v1/users/by-username/{username}", "get"],
    ];
    for (const [path, method] of routes) {
      // Bot tokens work here too, except on account deletion (a bot has no password; its owner deletes it).
      const security = path === "/api/v1/users/me" && method === "delete" ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, { botAuth: [] }];
      expect(doc.paths[path]?.[method]?.security, `${method} ${path}`).toEqual(security);
    }
    expect(doc.components.schemas.UpdateProfileRequest.additionalProperties).toBe(false);
    expect(doc.components.schemas.RegisterRequest.properties).toHaveProperty("referredBy");
  });
});

describe("PUT /users/me/username: rate limit", () => {
  it("allows 5 changes an hour per user, then 429 with Retry-After", async () => {
    const u = await signUp();
    const other = await signUp();
    // The window is one hour: counts from this test cannot straddle it in practice.
    for (let i = 0; i < 5; i++) expect((await setUsername(u, uniqueName("rn"))).status).toBe(200);
    const refused = await setUsername(u, uniqueName("rn"));
    expectError(refused, 429, "rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await setUsername(other, uniqueName("rn"))).status).toBe(200);
  });
});
