import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { newId } from "../src/lib/ids";
import { contactsPageQuery } from "../src/social/contacts";
import { syncLookupQuery } from "../src/social/sync";
import { type ApiResponse, api, expectError, markVerified, signUp, type TestUser, uniqueName } from "./helpers";

const U = "/api/v1/users";
const MISSING = "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a";

const PHONE_BASE = 2_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
let phoneCounter = 0;
/** A fresh E.164 number (unique within this file's storage). */
const uniquePhone = () => `+1${PHONE_BASE + ++phoneCounter}`;
const uniqueEmail = () => `${uniqueName("m")}@example.com`;

type Audience = "everyone" | "contacts" | "nobody";
/** Mark a user's phone/email verified and set their privacy straight in D1 (the privacy route is another module's). */
async function setUser(
  u: TestUser,
  f: { phoneVerified?: boolean; emailVerified?: boolean; phone?: Audience; email?: Audience; status?: string },
) {
  const sets: string[] = [];
  const args: unknown[] = [];
  if (f.phoneVerified !== undefined) sets.push(`phone_verified_at = ${f.phoneVerified ? Date.now() : "NULL"}`);
  if (f.emailVerified !== undefined) sets.push(`email_verified_at = ${f.emailVerified ? Date.now() : "NULL"}`);
  for (const [column, value] of [
    ["privacy_phone", f.phone],
    ["privacy_email", f.email],
    ["status", f.status],
  ] as const) {
    if (!value) continue;
    sets.push(`${column} = ?`);
    args.push(value);
  }
  await env.DB.prepare(`UPDATE users SET ${sets.join(", ")} WHERE id = ?`)
    .bind(...args, u.id)
    .run();
}

const add = (token: string | undefined, body: unknown) => api("POST", `${U}/me/contacts`, { token, body });
const sync = (token: string | undefined, body: unknown) => api("POST", `${U}/me/contacts/sync`, { token, body });

async function addOk(u: TestUser, other: TestUser, nickname?: string) {
  const res = await add(u.accessToken, nickname === undefined ? { userId: other.id } : { userId: other.id, nickname });
  expect(res.status, res.text).toBe(201);
  return res.body.contact;
}

/** Every contact of `u`, following nextCursor to the end with `limit`. */
async function allContacts(u: TestUser, limit = 100) {
  const items: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: ApiResponse = await api("GET", `${U}/me/contacts?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, {
      token: u.accessToken,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  return { items, pages };
}

describe("POST /me/contacts", () => {
  it("adds a contact (201) with profile, nickname and addedAt; a repeat updates the nickname (200)", async () => {
    const a = await signUp();
    const b = await signUp({ displayName: "Bea" });
    const created = await addOk(a, b, "  Bestie  ");
    expect(created).toMatchObject({
      id: b.id,
      username: b.username,
      displayName: "Bea",
      nickname: "Bestie",
      isContact: true,
      isBlocked: false,
    });
    expect(new Date(created.addedAt).toISOString()).toBe(created.addedAt);
    expect(created).not.toHaveProperty("passwordHash");

    const renamed = await add(a.accessToken, { userId: b.id, nickname: "B" });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body.contact).toMatchObject({ id: b.id, nickname: "B", addedAt: created.addedAt });

    const kept = await add(a.accessToken, { userId: b.id });
    expect(kept.status).toBe(200);
    expect(kept.body.contact.nickname).toBe("B");

    const cleared = await add(a.accessToken, { userId: b.id, nickname: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.contact.nickname).toBeNull();
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM contacts WHERE owner_id = ?").bind(a.id).first();
    expect(row).toEqual({ n: 1 });
  });

  it("refuses yourself (400 cannot_add_self), unknown and deleted users (404)", async () => {
    const a = await signUp();
    const gone = await signUp();
    await setUser(gone, { status: "deleted" });
    expectError(await add(a.accessToken, { userId: a.id }), 400, "cannot_add_self");
    expectError(await add(a.accessToken, { userId: MISSING }), 404, "not_found");
    expectError(await add(a.accessToken, { userId: gone.id }), 404, "not_found");
    expect((await allContacts(a)).items).toEqual([]);
  });

  it("rejects bad input: missing, wrong type, unknown field, non-uuid, empty nickname, malformed JSON", async () => {
    const a = await signUp();
    const b = await signUp();
    const cases: [unknown, string][] = [
      [{}, "body.userId"],
      [{ userId: 42 }, "body.userId"],
      [{ userId: "not-a-uuid" }, "body.userId"],
      [{ userId: b.id, nickname: 7 }, "body.nickname"],
      [{ userId: b.id, nickname: "   " }, "body.nickname"],
      [{ userId: b.id, nickname: "x".repeat(65) }, "body.nickname"],
      [{ userId: b.id, isAdmin: true }, "body"],
    ];
    for (const [body, path] of cases) {
      const err = expectError(await add(a.accessToken, body), 400, "validation_failed");
      expect(err.details.map((d: any) => d.path)).toContain(path);
    }
    expectError(
      await api("POST", `${U}/me/contacts`, { token: a.accessToken, raw: "{bad", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expect((await allContacts(a)).items).toEqual([]);
  });

  it("a contact's fields follow that contact's privacy towards me", async () => {
    const a = await signUp();
    const b = await signUp({ phone: uniquePhone() });
    // privacy_phone defaults to "contacts": B's phone shows only once B has A in B's contacts,
    // and only once B verified it (anyone can type someone else's number into a profile).
    expect(await addOk(a, b)).not.toHaveProperty("phone");
    await addOk(b, a);
    expect((await allContacts(a)).items[0]).not.toHaveProperty("phone");
    await markVerified(b);
    const [item] = (await allContacts(a)).items;
    expect(item).toMatchObject({ id: b.id, phone: b.phone });
  });
});

describe("GET /me/contacts", () => {
  it("pages through every contact once, in id order, without gaps; only my own contacts", async () => {
    const a = await signUp();
    const other = await signUp();
    const people = await Promise.all(Array.from({ length: 5 }, () => signUp()));
    for (const p of people) await addOk(a, p, `n-${p.username}`);
    await addOk(other, a);
    await addOk(other, people[0]!);

    const { items, pages } = await allContacts(a, 2);
    expect(pages).toBe(3);
    const ids = items.map((i) => i.id);
    expect(ids).toEqual(people.map((p) => p.id).sort());
    expect(items.every((i) => i.nickname === `n-${i.username}`)).toBe(true);

    const theirs = await allContacts(other);
    expect(theirs.items.map((i) => i.id).sort()).toEqual([a.id, people[0]!.id].sort());
    expect(theirs.items.every((i) => i.nickname === null)).toBe(true);
  });

  it("leaves out deleted accounts", async () => {
    const a = await signUp();
    const b = await signUp();
    const c = await signUp();
    await addOk(a, b);
    await addOk(a, c);
    await setUser(c, { status: "deleted" });
    expect((await allContacts(a)).items.map((i) => i.id)).toEqual([b.id]);
  });

  it("rejects a bad limit or cursor; 401 without a token", async () => {
    const a = await signUp();
    expectError(await api("GET", `${U}/me/contacts?limit=0`, { token: a.accessToken }), 400, "validation_failed");
    expectError(await api("GET", `${U}/me/contacts?limit=101`, { token: a.accessToken }), 400, "validation_failed");
    expectError(await api("GET", `${U}/me/contacts?cursor=nonsense`, { token: a.accessToken }), 400, "invalid_cursor");
    expectError(await api("GET", `${U}/me/contacts`), 401, "unauthorized");
  });
});

describe("DELETE /me/contacts/:userId", () => {
  it("removes a contact (204); again 404; another user cannot remove mine", async () => {
    const a = await signUp();
    const b = await signUp();
    const mallory = await signUp();
    await addOk(a, b);

    expectError(await api("DELETE", `${U}/me/contacts/${b.id}`, { token: mallory.accessToken }), 404, "not_found");
    expect((await allContacts(a)).items.map((i) => i.id)).toEqual([b.id]);

    const res = await api("DELETE", `${U}/me/contacts/${b.id}`, { token: a.accessToken });
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");
    expect((await allContacts(a)).items).toEqual([]);
    expectError(await api("DELETE", `${U}/me/contacts/${b.id}`, { token: a.accessToken }), 404, "not_found");
  });

  it("400 for a non-uuid id, 401 without a token", async () => {
    const a = await signUp();
    const err = expectError(await api("DELETE", `${U}/me/contacts/nope`, { token: a.accessToken }), 400, "validation_failed");
    expect(err.details[0].path).toBe("params.userId");
    expectError(await api("DELETE", `${U}/me/contacts/${MISSING}`), 401, "unauthorized");
    expectError(await add(undefined, { userId: MISSING }), 401, "unauthorized");
  });
});

describe("POST /me/contacts/sync", () => {
  it("finds verified phones of people whose privacy allows me; normalizes '+1 (415) 555-0100'", async () => {
    const me = await signUp();
    const open = await signUp({ phone: "+14155550100" });
    await setUser(open, { phoneVerified: true, phone: "everyone" });
    const res = await sync(me.accessToken, { phones: ["+1 (415) 555-0100", "+1.415.555.0100"] });
    expect(res.status, res.text).toBe(200);
    expect(res.body.invalid).toEqual([]);
    expect(res.body.items).toEqual([
      {
        userId: open.id,
        matched: "phone",
        value: "+14155550100",
        input: "+1 (415) 555-0100",
        profile: expect.objectContaining({ id: open.id, username: open.username, phone: "+14155550100", isContact: false }),
      },
    ]);
  });

  it("matches only verified phones and emails of active accounts", async () => {
    const me = await signUp();
    const verified = await signUp({ phone: uniquePhone(), email: uniqueEmail() });
    const unverified = await signUp({ phone: uniquePhone(), email: uniqueEmail() });
    const suspended = await signUp({ phone: uniquePhone() });
    await setUser(verified, { phoneVerified: true, emailVerified: true, phone: "everyone", email: "everyone" });
    await setUser(unverified, { phone: "everyone", email: "everyone" });
    await setUser(suspended, { phoneVerified: true, phone: "everyone", status: "suspended" });
    const res = await sync(me.accessToken, {
      phones: [verified.phone, unverified.phone, suspended.phone],
      emails: [` ${verified.email!.toUpperCase()} `, unverified.email],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i: any) => [i.userId, i.matched, i.value])).toEqual([
      [verified.id, "phone", verified.phone],
      [verified.id, "email", verified.email],
    ]);
  });

  it("honours privacy: everyone, contacts (only when they have me), nobody (never)", async () => {
    const me = await signUp();
    const stranger = await signUp();
    const users = {
      everyone: await signUp({ phone: uniquePhone(), email: uniqueEmail() }),
      contactsHasMe: await signUp({ phone: uniquePhone(), email: uniqueEmail() }),
      contactsNoMe: await signUp({ phone: uniquePhone(), email: uniqueEmail() }),
      nobody: await signUp({ phone: uniquePhone(), email: uniqueEmail() }),
    };
    const audience: Record<keyof typeof users, Audience> = {
      everyone: "everyone",
      contactsHasMe: "contacts",
      contactsNoMe: "contacts",
      nobody: "nobody",
    };
    for (const [k, u] of Object.entries(users)) {
      const a = audience[k as keyof typeof users];
      await setUser(u, { phoneVerified: true, emailVerified: true, phone: a, email: a });
    }
    await addOk(users.contactsHasMe, me);
    await addOk(users.contactsNoMe, stranger);
    // Having them in MY contacts grants nothing: it is their list that counts.
    await addOk(me, users.contactsNoMe);
    await addOk(me, users.nobody);
    await addOk(users.nobody, me);

    const all = Object.values(users);
    const res = await sync(me.accessToken, { phones: all.map((u) => u.phone), emails: all.map((u) => u.email) });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i: any) => `${i.matched}:${i.userId}`)).toEqual([
      `phone:${users.everyone.id}`,
      `phone:${users.contactsHasMe.id}`,
      `email:${users.everyone.id}`,
      `email:${users.contactsHasMe.id}`,
    ]);
    // The stranger is in contactsNoMe's contacts, so they find them.
    const theirs = await sync(stranger.accessToken, { phones: [users.contactsNoMe.phone] });
    expect(theirs.body.items.map((i: any) => i.userId)).toEqual([users.contactsNoMe.id]);
  });

  it("excludes people blocked either way, and myself", async () => {
    const me = await signUp({ phone: uniquePhone() });
    const blockedMe = await signUp({ phone: uniquePhone() });
    const iBlocked = await signUp({ phone: uniquePhone() });
    const fine = await signUp({ phone: uniquePhone() });
    for (const u of [me, blockedMe, iBlocked, fine]) await setUser(u, { phoneVerified: true, phone: "everyone" });
    expect((await api("POST", `${U}/me/blocked`, { token: blockedMe.accessToken, body: { userId: me.id } })).status).toBe(201);
    expect((await api("POST", `${U}/me/blocked`, { token: me.accessToken, body: { userId: iBlocked.id } })).status).toBe(201);
    const res = await sync(me.accessToken, { phones: [me.phone, blockedMe.phone, iBlocked.phone, fine.phone] });
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i: any) => i.userId)).toEqual([fine.id]);
  });

  it("reports invalid entries by field and index and still answers the valid ones", async () => {
    const me = await signUp();
    const x = await signUp({ email: uniqueEmail() });
    await setUser(x, { emailVerified: true, email: "everyone" });
    const res = await sync(me.accessToken, { phones: ["12345", "+1 (415) 55", ""], emails: ["not-an-email", x.email] });
    expect(res.status, res.text).toBe(200);
    expect(res.body.invalid).toEqual([
      { field: "phones", index: 0, value: "12345" },
      { field: "phones", index: 1, value: "+1 (415) 55" },
      { field: "phones", index: 2, value: "" },
      { field: "emails", index: 0, value: "not-an-email" },
    ]);
    expect(res.body.items.map((i: any) => i.userId)).toEqual([x.id]);
    const empty = await sync(me.accessToken, {});
    expect(empty.body).toEqual({ items: [], invalid: [] });
  });

  it("1,001 entries in total → 413 too_many_entries; 1,000 are fine", async () => {
    const me = await signUp();
    const phones = Array.from({ length: 600 }, (_, i) => `+1415${String(1_000_000 + i)}`);
    const emails = Array.from({ length: 401 }, (_, i) => `p${i}@example.com`);
    const err = expectError(await sync(me.accessToken, { phones, emails }), 413, "too_many_entries");
    expect(err.details).toEqual({ max: 1000, got: 1001 });
    const ok = await sync(me.accessToken, { phones, emails: emails.slice(1) });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toEqual({ items: [], invalid: [] });
  });

  it("rejects bad input and calls without a token", async () => {
    const me = await signUp();
    for (const [body, path] of [
      [{ phones: "+14155550100" }, "body.phones"],
      [{ phones: [14155550100] }, "body.phones.0"],
      [{ emails: [null] }, "body.emails.0"],
      [{ phones: [], contacts: [] }, "body"],
    ] as const) {
      const err = expectError(await sync(me.accessToken, body), 400, "validation_failed");
      expect(err.details.map((d: any) => d.path)).toContain(path);
    }
    expectError(
      await api("POST", `${U}/me/contacts/sync`, { token: me.accessToken, raw: "[", headers: { "content-type": "application/json" } }),
      400,
      "malformed_json",
    );
    expectError(await sync(undefined, { phones: [] }), 401, "unauthorized");
  });

  it("is limited to 20 calls an hour per user (429 rate_limited)", async () => {
    const me = await signUp();
    const other = await signUp();
    for (let i = 0; i < 20; i++) expect((await sync(me.accessToken, { phones: [] })).status).toBe(200);
    const err = expectError(await sync(me.accessToken, { phones: [] }), 429, "rate_limited");
    expect(err.details.retryAfter).toBeGreaterThan(0);
    expect((await sync(other.accessToken, { phones: [] })).status).toBe(200);
  });
});

/** `n` users with verified, findable phones, written straight to D1 (registering 200 would be slow). */
async function findableUsers(n: number) {
  const at = Date.now();
  const rows = Array.from({ length: n }, () => ({ id: newId(), phone: uniquePhone(), username: uniqueName("bulk") }));
  const insert = env.DB.prepare(
    `INSERT INTO users (id, username, display_name, password_hash, phone, phone_verified_at, privacy_phone, created_at, updated_at)
     VALUES (?, ?, ?, 'x', ?, ?, 'everyone', ?, ?)`,
  );
  await env.DB.batch(rows.map((r) => insert.bind(r.id, r.username, r.username, r.phone, at, at, at)));
  return rows;
}

describe("sync at scale and query plans", () => {
  it("matches more than 90 entries (chunked under D1's 100 parameters) and still drops a blocker deep in the list", async () => {
    const me = await signUp();
    const people = await findableUsers(200);
    const blocker = people[150]!;
    await env.DB.prepare("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)")
      .bind(blocker.id, me.id, Date.now())
      .run();
    const res = await sync(me.accessToken, { phones: people.map((p) => p.phone) });
    expect(res.status, res.text).toBe(200);
    const expected = people.filter((p) => p !== blocker);
    expect(res.body.items.map((i: any) => i.userId)).toEqual(expected.map((p) => p.id));
    expect(res.body.items.map((i: any) => i.value)).toEqual(expected.map((p) => p.phone));
  });

  it("looks users up by index and pages contacts by primary key (no full SCAN)", async () => {
    const db = createDb(env.DB);
    const plan = async (q: { toSQL(): { sql: string; params: unknown[] } }) => {
      const { sql, params } = q.toSQL();
      const res = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      return res.results.map((r) => r.detail);
    };
    const phones = await plan(syncLookupQuery(db, "phone", ["+14155550100", "+14155550101"], MISSING));
    expect(phones.join("\n")).toMatch(/SEARCH users USING INDEX users_verified_phone_uq/);
    const emails = await plan(syncLookupQuery(db, "email", ["a@example.com"], MISSING));
    expect(emails.join("\n")).toMatch(/SEARCH users USING INDEX users_verified_email_uq/);
    for (const after of [undefined, MISSING]) {
      const contacts = await plan(contactsPageQuery(db, MISSING, 20, after));
      expect(contacts.join("\n")).toMatch(/SEARCH contacts USING (COVERING )?INDEX sqlite_autoindex_contacts_1/);
      expect(contacts.filter((d) => /^SCAN/.test(d))).toEqual([]);
    }
  });
});
