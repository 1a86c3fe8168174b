import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { LAST_SEEN_INTERVAL_MS, touchLastSeen } from "../src/auth/last-seen";
import { createDb } from "../src/db/client";
import { api, expectError, expectInvalid, markVerified, signUp, type TestUser, uniqueName } from "./helpers";
import { avatarFor } from "./media-helpers";

const PRIVACY = "/api/v1/users/me/privacy";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** The owner's avatar, uploaded in beforeAll. */
let MEDIA_ID: string;
const DEFAULTS = {
  lastSeen: "everyone",
  profilePhoto: "everyone",
  phone: "contacts",
  email: "nobody",
  groupInvites: "everyone",
  calls: "everyone",
  readReceipts: true,
};

let phoneCounter = 0;
const uniquePhone = () => `+1628${(1_000_000 + ++phoneCounter * 7919 + Math.floor(Math.random() * 1000)).toString().slice(-7)}`;
const uniqueEmail = () => `${uniqueName("p")}@example.com`;

const putPrivacy = (u: TestUser, body: unknown) => api("PUT", PRIVACY, { token: u.accessToken, body });
const profileOf = (viewer: TestUser, id: string) => api("GET", `/api/v1/users/${id}`, { token: viewer.accessToken });

/** Rows the contacts and blocks routes would write (those routes live in another module). */
const addContact = (ownerId: string, contactId: string) =>
  env.DB.prepare("INSERT INTO contacts (owner_id, contact_id, created_at) VALUES (?, ?, ?)").bind(ownerId, contactId, Date.now()).run();
const addBlock = (blockerId: string, blockedId: string) =>
  env.DB.prepare("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)").bind(blockerId, blockedId, Date.now()).run();
const lastSeenAt = async (id: string) =>
  (await env.DB.prepare("SELECT last_seen_at FROM users WHERE id = ?").bind(id).first<{ last_seen_at: number | null }>())!.last_seen_at;
const setLastSeenAt = (id: string, at: number | null) =>
  env.DB.prepare("UPDATE users SET last_seen_at = ? WHERE id = ?").bind(at, id).run();

describe("GET and PUT /users/me/privacy", () => {
  it("starts with the defaults", async () => {
    const u = await signUp();
    const res = await api("GET", PRIVACY, { token: u.accessToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ privacy: DEFAULTS });
  });

  it("changes only the settings sent and answers all of them", async () => {
    const u = await signUp();
    const one = await putPrivacy(u, { lastSeen: "nobody" });
    expect(one.status, one.text).toBe(200);
    expect(one.body).toEqual({ privacy: { ...DEFAULTS, lastSeen: "nobody" } });
    const all = {
      lastSeen: "contacts",
      profilePhoto: "nobody",
      phone: "everyone",
      email: "contacts",
      groupInvites: "nobody",
      calls: "contacts",
      readReceipts: false,
    };
    expect((await putPrivacy(u, all)).body).toEqual({ privacy: all });
    expect((await api("GET", PRIVACY, { token: u.accessToken })).body).toEqual({ privacy: all });
    expect((await api("GET", "/api/v1/users/me", { token: u.accessToken })).body.user.privacy).toEqual(all);
    const row = await env.DB.prepare("SELECT privacy_group_invites, read_receipts FROM users WHERE id = ?").bind(u.id).first();
    expect(row).toEqual({ privacy_group_invites: "nobody", read_receipts: 0 });
  });

  it.each([
    ["an unknown audience", { lastSeen: "friends" }, "body.lastSeen"],
    ["an audience of the wrong type", { phone: 1 }, "body.phone"],
    ["readReceipts as a string", { readReceipts: "yes" }, "body.readReceipts"],
    ["readReceipts as an audience", { readReceipts: "nobody" }, "body.readReceipts"],
    ["an unknown setting", { stories: "nobody" }, "body"],
    ["no setting at all", {}, "body"],
  ])("rejects %s and changes nothing", async (_name, body, path) => {
    const u = await signUp();
    expectInvalid(await putPrivacy(u, body), path);
    expect((await api("GET", PRIVACY, { token: u.accessToken })).body).toEqual({ privacy: DEFAULTS });
  });

  it("rejects malformed JSON and requests without a token", async () => {
    const u = await signUp();
    expectError(
      await api("PUT", PRIVACY, { token: u.accessToken, raw: "{lastSeen}", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(await api("PUT", PRIVACY, { body: { lastSeen: "nobody" } }), 401, "unauthorized");
    expectError(await api("GET", PRIVACY), 401, "unauthorized");
  });

  it("only ever changes the caller's own settings and never shows them to others", async () => {
    const a = await signUp();
    const b = await signUp();
    expectInvalid(await putPrivacy(a, { userId: b.id, lastSeen: "nobody" }), "body");
    await putPrivacy(a, { email: "everyone" });
    expect((await api("GET", PRIVACY, { token: b.accessToken })).body).toEqual({ privacy: DEFAULTS });
    const seen = await profileOf(b, a.id);
    expect(seen.body.user).not.toHaveProperty("privacy");
    expect(seen.text).not.toContain("readReceipts");
    expect(seen.text).not.toContain("groupInvites");
  });
});

describe("privacy matrix: setting × audience × viewer", () => {
  type Viewer = "contact" | "nonContact" | "blocked" | "blockedContact";
  type Setting = "lastSeen" | "profilePhoto" | "phone" | "email";
  let owner: TestUser;
  const viewers = {} as Record<Viewer, TestUser>;

  beforeAll(async () => {
    owner = await signUp({ email: uniqueEmail(), phone: uniquePhone() });
    // Others see only verified addresses (an unverified one may be someone else's).
    await markVerified(owner);
    MEDIA_ID = await avatarFor(owner);
    const patched = await api("PATCH", "/api/v1/users/me", { token: owner.accessToken, body: { avatarMediaId: MEDIA_ID } });
    expect(patched.status, patched.text).toBe(200);
    await setLastSeenAt(owner.id, Date.now() - 5 * 60_000);
    for (const v of ["contact", "nonContact", "blocked", "blockedContact"] as Viewer[]) viewers[v] = await signUp();
    // "contacts" = people the owner added to their contacts.
    await addContact(owner.id, viewers.contact.id);
    await addContact(owner.id, viewers.blockedContact.id);
    await addBlock(owner.id, viewers.blocked.id);
    await addBlock(owner.id, viewers.blockedContact.id);
    // The viewers adding the owner back changes nothing: only the owner's contacts count.
    await addContact(viewers.nonContact.id, owner.id);
  });

  /** The response fields each setting controls. */
  const FIELDS: Record<Setting, string[]> = {
    lastSeen: ["lastSeenAt", "online"],
    profilePhoto: ["avatarMediaId"],
    phone: ["phone"],
    email: ["email"],
  };
  /** Presence and photo are hidden from anyone the owner blocked, whatever the setting; phone and email follow their audience. */
  const VISIBLE: Record<Setting, Record<"everyone" | "contacts" | "nobody", Viewer[]>> = {
    lastSeen: { everyone: ["contact", "nonContact"], contacts: ["contact"], nobody: [] },
    profilePhoto: { everyone: ["contact", "nonContact"], contacts: ["contact"], nobody: [] },
    phone: { everyone: ["contact", "nonContact", "blocked", "blockedContact"], contacts: ["contact", "blockedContact"], nobody: [] },
    email: { everyone: ["contact", "nonContact", "blocked", "blockedContact"], contacts: ["contact", "blockedContact"], nobody: [] },
  };
  const expected = (setting: Setting, field: string) =>
    ({ lastSeenAt: expect.stringMatching(ISO_RE), online: false, avatarMediaId: MEDIA_ID, phone: owner.phone, email: owner.email })[
      field
    ] ??
    (() => {
      throw new Error(`no expectation for ${setting}.${field}`);
    })();

  const cases = (["lastSeen", "profilePhoto", "phone", "email"] as Setting[]).flatMap((setting) =>
    (["everyone", "contacts", "nobody"] as const).map((audience) => [setting, audience] as const),
  );

  it.each(cases)("%s = %s", async (setting, audience) => {
    // Everything else wide open, so only the setting under test can hide its fields.
    const open = { lastSeen: "everyone", profilePhoto: "everyone", phone: "everyone", email: "everyone" };
    expect((await putPrivacy(owner, { ...open, [setting]: audience })).status).toBe(200);
    for (const viewer of ["contact", "nonContact", "blocked", "blockedContact"] as Viewer[]) {
      const res = await profileOf(viewers[viewer], owner.id);
      expect(res.status, res.text).toBe(200);
      const byName = await api("GET", `/api/v1/users/by-username/${owner.username}`, { token: viewers[viewer].accessToken });
      expect(byName.body).toEqual(res.body);
      for (const field of FIELDS[setting]) {
        const shouldSee = VISIBLE[setting][audience].includes(viewer);
        if (shouldSee) expect(res.body.user[field], `${viewer} sees ${field}`).toEqual(expected(setting, field));
        else expect(res.body.user, `${viewer} must not get ${field}`).not.toHaveProperty(field);
      }
    }
    // The owner always sees everything of their own.
    const self = await profileOf(owner, owner.id);
    for (const field of FIELDS[setting]) expect(self.body.user).toHaveProperty(field);
  });

  it("shows the birthday to the owner's contacts only", async () => {
    await api("PATCH", "/api/v1/users/me", { token: owner.accessToken, body: { birthday: "1985-06-07" } });
    expect((await profileOf(viewers.contact, owner.id)).body.user.birthday).toBe("1985-06-07");
    expect((await profileOf(viewers.blockedContact, owner.id)).body.user.birthday).toBe("1985-06-07");
    expect((await profileOf(viewers.nonContact, owner.id)).body.user).not.toHaveProperty("birthday");
    expect((await profileOf(viewers.blocked, owner.id)).body.user).not.toHaveProperty("birthday");
  });

  it("tells the viewer about their own relation to the owner", async () => {
    const seen = (await profileOf(viewers.nonContact, owner.id)).body.user;
    expect(seen).toMatchObject({ isContact: true, isBlocked: false, isFollowing: false });
    const back = (await profileOf(owner, viewers.blocked.id)).body.user;
    expect(back).toMatchObject({ isContact: false, isBlocked: true });
  });

  it("omits a field that is not set instead of faking it", async () => {
    const bare = await signUp();
    await putPrivacy(bare, { phone: "everyone", email: "everyone" });
    const res = await profileOf(viewers.contact, bare.id);
    expect(res.body.user).not.toHaveProperty("phone");
    expect(res.body.user).not.toHaveProperty("email");
    // Never seen yet, but allowed: last seen is present as null, not invented.
    await setLastSeenAt(bare.id, null);
    expect((await profileOf(viewers.contact, bare.id)).body.user.lastSeenAt).toBeNull();
  });
});

describe("last seen", () => {
  it("is written by an authenticated request", async () => {
    const u = await signUp();
    expect(await lastSeenAt(u.id)).toBeNull();
    const before = Date.now();
    expect((await api("GET", "/api/v1/users/me", { token: u.accessToken })).status).toBe(200);
    const seen = await lastSeenAt(u.id);
    expect(seen).toBeGreaterThanOrEqual(before);
    expect(seen).toBeLessThanOrEqual(Date.now());
  });

  it("is not written again within the minute", async () => {
    const u = await signUp();
    await api("GET", "/api/v1/users/me", { token: u.accessToken });
    expect(await lastSeenAt(u.id)).not.toBeNull();
    const marker = Date.now() - 30_000;
    await setLastSeenAt(u.id, marker);
    await api("GET", "/api/v1/users/me", { token: u.accessToken });
    await api("GET", "/api/v1/users/me/privacy", { token: u.accessToken });
    expect(await lastSeenAt(u.id)).toBe(marker);
  });

  it("writes once a minute per user: the memo skips, the conditional UPDATE guards other isolates", async () => {
    const db = createDb(env.DB);
    const u = await signUp();
    const t0 = Date.now();
    expect(await touchLastSeen(db, u.id, t0)).toBe(true);
    expect(await lastSeenAt(u.id)).toBe(t0);
    // Within the minute this isolate does not even ask D1.
    expect(await touchLastSeen(db, u.id, t0 + LAST_SEEN_INTERVAL_MS - 1)).toBe(false);
    // Another isolate wrote recently: past this isolate's minute, the UPDATE changes nothing.
    await setLastSeenAt(u.id, t0 + 30_000);
    expect(await touchLastSeen(db, u.id, t0 + LAST_SEEN_INTERVAL_MS + 1)).toBe(false);
    expect(await lastSeenAt(u.id)).toBe(t0 + 30_000);
    // A minute after this isolate last tried, and over a minute after the last write, it is written again.
    const t2 = t0 + 2 * LAST_SEEN_INTERVAL_MS + 10;
    expect(await touchLastSeen(db, u.id, t2)).toBe(true);
    expect(await lastSeenAt(u.id)).toBe(t2);
  });

  it("is not written without a valid token, nor for a deleted account", async () => {
    const db = createDb(env.DB);
    const u = await signUp();
    await api("GET", "/api/v1/users/me", { headers: { authorization: "Bearer bogus" } });
    expect(await lastSeenAt(u.id)).toBeNull();
    await env.DB.prepare("UPDATE users SET status = 'deleted' WHERE id = ?").bind(u.id).run();
    expect(await touchLastSeen(db, u.id, Date.now())).toBe(false);
    expect(await lastSeenAt(u.id)).toBeNull();
  });

  it("shows up in the public profile when the owner allows it", async () => {
    const owner = await signUp();
    const viewer = await signUp();
    const at = Date.now() - 90_000;
    await setLastSeenAt(owner.id, at);
    const res = await profileOf(viewer, owner.id);
    // The viewer's own request touched only the viewer.
    expect(res.body.user.lastSeenAt).toBe(new Date(at).toISOString());
    expect(res.body.user.online).toBe(false);
  });
});
