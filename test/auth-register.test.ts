import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { assertStrongPassword } from "../src/auth/password-strength";
import { type ApiResponse, api, expectError, STRONG_PASSWORD, uniqueIp, uniqueName } from "./helpers";

const REGISTER = "/api/v1/auth/register";
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID_V7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PHC_RE = /^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

let phoneCounter = 0;
/** A phone number no other test in this file uses (E.164, +1 415 …). */
const uniquePhone = () => `+1415${(1_000_000 + ++phoneCounter * 7919 + Math.floor(Math.random() * 1000)).toString().slice(-7)}`;
const uniqueEmail = () => `${uniqueName("m")}@example.com`;

const register = (body: unknown, ip?: string) => api("POST", REGISTER, { body, ip });

/** The standard error envelope, plus: only the documented keys, and X-Request-Id equals requestId. */
function expectEnvelope(res: ApiResponse, status: number, code: string) {
  const error = expectError(res, status, code);
  expect(Object.keys(res.body)).toEqual(["error"]);
  for (const key of Object.keys(error)) expect(["code", "message", "details", "requestId"]).toContain(key);
  expect(res.headers.get("X-Request-Id")).toBe(error.requestId);
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

/** Expect `400 validation_failed` with an issue at `path`. */
function expectValidation(res: ApiResponse, path: string) {
  const error = expectEnvelope(res, 400, "validation_failed");
  expect(Array.isArray(error.details), res.text).toBe(true);
  const paths = (error.details as { path: string }[]).map((d) => d.path);
  expect(paths, res.text).toContain(path);
  for (const d of error.details as { path: string; code: string; message: string }[]) {
    expect(typeof d.code).toBe("string");
    expect(typeof d.message).toBe("string");
  }
  return error;
}

async function userRow(username: string) {
  return env.DB.prepare("SELECT * FROM users WHERE username = ?").bind(username).first<Record<string, unknown>>();
}

async function countUsers(where: string, ...binds: unknown[]) {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM users WHERE ${where}`)
    .bind(...binds)
    .first<{ n: number }>();
  return row!.n;
}

describe("POST /auth/register: happy path", () => {
  it("creates the account and answers 201 with user, tokens and the current session", async () => {
    const username = uniqueName("reg");
    const ip = uniqueIp();
    const res = await register({ username, password: STRONG_PASSWORD, deviceId: "phone-1.a:b_c", deviceName: "Test phone" }, ip);
    expect(res.status, res.text).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["newDevice", "session", "tokens", "user"]);
    // The first device of a new account is not a "new device" sign-in.
    expect(res.body.newDevice).toBe(false);

    const { user, tokens, session } = res.body;
    expect(user).toEqual({
      id: expect.stringMatching(UUID_V7_RE),
      username,
      displayName: username,
      kind: "regular",
      email: null,
      emailVerified: false,
      phone: null,
      phoneVerified: false,
      twoFactorEnabled: false,
      role: "user",
      createdAt: expect.stringMatching(ISO_RE),
    });
    expect(Math.abs(Date.parse(user.createdAt) - Date.now())).toBeLessThan(60_000);
    // Nothing secret or internal leaks into the user view.
    expect(res.text).not.toContain("argon2");
    expect(res.text).not.toContain(STRONG_PASSWORD);
    expect(user).not.toHaveProperty("passwordHash");
    expect(user).not.toHaveProperty("status");

    expect(tokens).toEqual({
      accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      refreshToken: expect.any(String),
      tokenType: "Bearer",
      expiresIn: expect.any(Number),
    });
    expect(tokens.expiresIn).toBeGreaterThan(0);
    expect(tokens.refreshToken.length).toBeGreaterThanOrEqual(32);
    expect(tokens.refreshToken).not.toBe(tokens.accessToken);

    expect(session).toMatchObject({
      id: expect.stringMatching(UUID_V7_RE),
      deviceId: "phone-1.a:b_c",
      deviceName: "Test phone",
      ip,
      createdAt: expect.stringMatching(ISO_RE),
      lastUsedAt: expect.stringMatching(ISO_RE),
      current: true,
    });

    // The access token works and belongs to this account.
    const me = await api("GET", "/api/v1/auth/me", { token: tokens.accessToken });
    expect(me.status, me.text).toBe(200);
    expect(me.body.user).toEqual(user);

    // The row exists with the same id and the session is stored for the user.
    const row = await userRow(username);
    expect(row?.id).toBe(user.id);
    expect(row?.status).toBe("active");
    expect(row?.role).toBe("user");
    const sessionRow = await env.DB.prepare("SELECT user_id, device_id FROM sessions WHERE id = ?").bind(session.id).first();
    expect(sessionRow).toEqual({ user_id: user.id, device_id: "phone-1.a:b_c" });
  });

  it("generates a device id when none is given and keeps a given display name", async () => {
    const username = uniqueName("dev");
    const res = await register({ username, password: STRONG_PASSWORD, displayName: "  Alice Example  " });
    expect(res.status, res.text).toBe(201);
    expect(res.body.user.displayName).toBe("Alice Example");
    expect(res.body.session.deviceId).toMatch(UUID_V7_RE);
    expect(res.body.session.deviceName).toBeNull();
  });

  it("stores the password as an argon2id PHC string with the configured parameters, never the password", async () => {
    const username = uniqueName("hash");
    const password = "quartz-meadow-91-paddle";
    const res = await register({ username, password });
    expect(res.status, res.text).toBe(201);
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?")
      .bind(res.body.user.id)
      .first<{ password_hash: string }>();
    const hash = row!.password_hash;
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/);
    expect(hash).toMatch(PHC_RE);
    // vitest.config.ts sets ARGON2_MEMORY_KIB=64, ARGON2_ITERATIONS=1.
    expect(hash.startsWith("$argon2id$v=19$m=64,t=1,p=1$")).toBe(true);
    expect(hash).not.toContain(password);
    expect(hash).not.toContain(btoa(password).replace(/=+$/, ""));

    // Two accounts with the same password get different hashes (random salt).
    const other = await register({ username: uniqueName("hash"), password });
    expect(other.status, other.text).toBe(201);
    const otherRow = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?")
      .bind(other.body.user.id)
      .first<{ password_hash: string }>();
    expect(otherRow!.password_hash).toMatch(PHC_RE);
    expect(otherRow!.password_hash).not.toBe(hash);
  });
});

describe("POST /auth/register: identifiers are normalized; usernames are unique, addresses once verified", () => {
  it("lower-cases the username, so uniqueness is case-insensitive", async () => {
    const base = uniqueName("alice").slice(0, 24);
    const mixed = `Alice_X${base.slice(5)}`; // e.g. "Alice_X_lz…"
    const res = await register({ username: mixed, password: STRONG_PASSWORD });
    expect(res.status, res.text).toBe(201);
    expect(res.body.user.username).toBe(mixed.toLowerCase());
    expect(res.body.user.displayName).toBe(mixed.toLowerCase());
    expect(await userRow(mixed.toLowerCase())).not.toBeNull();

    const upper = await register({ username: mixed.toUpperCase(), password: STRONG_PASSWORD });
    const error = expectEnvelope(upper, 409, "username_taken");
    expect(error.message).toMatch(/username/i);
    const exact = await register({ username: mixed.toLowerCase(), password: STRONG_PASSWORD });
    expectEnvelope(exact, 409, "username_taken");
    expect(await countUsers("username = ?", mixed.toLowerCase())).toBe(1);
  });

  it("answers 409 username_taken for the literal Alice_X / ALICE_X pair", async () => {
    const first = await register({ username: "Alice_X", password: STRONG_PASSWORD });
    expect(first.status, first.text).toBe(201);
    expect(first.body.user.username).toBe("alice_x");
    const second = await register({ username: "ALICE_X", password: STRONG_PASSWORD });
    expectEnvelope(second, 409, "username_taken");
    // The loser of the conflict gets no account and no session.
    expect(await countUsers("username = 'alice_x'")).toBe(1);
  });

  it("trims and lower-cases the email; a second account may register with it, unverified, like with a fresh one", async () => {
    const local = uniqueName("Mail").replace("mail", "MaIl");
    const res = await register({ username: uniqueName(), password: STRONG_PASSWORD, email: `  ${local}@Example.COM  ` });
    expect(res.status, res.text).toBe(201);
    const email = `${local.toLowerCase()}@example.com`;
    expect(res.body.user.email).toBe(email);
    expect(res.body.user.emailVerified).toBe(false);

    // An address is unique only once verified: answering 409 here would tell anyone it has an account.
    const dupUsername = uniqueName();
    const dup = await register({ username: dupUsername, password: STRONG_PASSWORD, email: email.toUpperCase() });
    expect(dup.status, dup.text).toBe(201);
    expect(dup.body.user).toMatchObject({ username: dupUsername, email, emailVerified: false });
    expect(await userRow(dupUsername)).toMatchObject({ email, email_verified_at: null });
    expect(await countUsers("email = ?", email)).toBe(2);
  });

  it("normalizes the phone to E.164; a second account may register with it, unverified", async () => {
    const phone = uniquePhone();
    const formatted = `${phone.slice(0, 2)} (${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`;
    const res = await register({ username: uniqueName(), password: STRONG_PASSWORD, phone: formatted });
    expect(res.status, res.text).toBe(201);
    expect(res.body.user.phone).toBe(phone);
    expect(res.body.user.phoneVerified).toBe(false);

    const dupUsername = uniqueName();
    const dup = await register({
      username: dupUsername,
      password: STRONG_PASSWORD,
      phone: `${phone.slice(0, 2)}-${phone.slice(2, 5)}-${phone.slice(5, 8)}.${phone.slice(8)}`,
    });
    expect(dup.status, dup.text).toBe(201);
    expect(dup.body.user).toMatchObject({ username: dupUsername, phone, phoneVerified: false });
    expect(await countUsers("phone = ?", phone)).toBe(2);
  });

  it("stores email and phone together, and an address verified on another account registers like a fresh one", async () => {
    const email = uniqueEmail();
    const phone = uniquePhone();
    const res = await register({ username: uniqueName(), password: STRONG_PASSWORD, email, phone });
    expect(res.status, res.text).toBe(201);
    expect(res.body.user).toMatchObject({ email, phone, emailVerified: false, phoneVerified: false });
    await env.DB.prepare("UPDATE users SET email_verified_at = ?1, phone_verified_at = ?1 WHERE id = ?2")
      .bind(Date.now(), res.body.user.id)
      .run();

    for (const body of [
      { email: uniqueEmail(), phone },
      { email, phone: uniquePhone() },
      { email, phone },
    ]) {
      const again = await register({ username: uniqueName(), password: STRONG_PASSWORD, ...body });
      expect(again.status, again.text).toBe(201);
      expect(again.body.user).toMatchObject({ ...body, emailVerified: false, phoneVerified: false });
    }
    // Only one account has them verified.
    expect(await countUsers("email = ? AND email_verified_at IS NOT NULL", email)).toBe(1);
    expect(await countUsers("phone = ? AND phone_verified_at IS NOT NULL", phone)).toBe(1);
  });

  it("lets many accounts have no email and no phone", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await register({ username: uniqueName(), password: STRONG_PASSWORD });
      expect(res.status, res.text).toBe(201);
      expect(res.body.user.email).toBeNull();
      expect(res.body.user.phone).toBeNull();
    }
  });
});

describe("POST /auth/register: validation", () => {
  it.each([
    ["too short", "ab"],
    ["too long", "a".repeat(33)],
    ["a dash", "bad-name"],
    ["a space", "bad name"],
    ["non-ASCII letters", "jürgen_x"],
    ["an @", "me@example"],
    ["empty", ""],
  ])("rejects a username with %s (400 validation_failed at body.username)", async (_why, username) => {
    const res = await register({ username, password: STRONG_PASSWORD });
    const error = expectValidation(res, "body.username");
    expect(error.message).toMatch(/username/i);
  });

  it("accepts a username of exactly 3 and exactly 32 characters", async () => {
    // Storage is per test file, and no other name in this file is this short.
    const long = `x${uniqueName("").replace(/^_/, "")}`.padEnd(32, "9").slice(0, 32);
    for (const username of ["z9_", long]) {
      const res = await register({ username, password: STRONG_PASSWORD });
      expect(res.status, res.text).toBe(201);
      expect(res.body.user.username).toBe(username);
    }
  });

  it.each([["not-an-email"], ["@example.com"], ["alice@"], ["alice@@example.com"], [`${"a".repeat(250)}@example.com`]])(
    "rejects the email %j (400 validation_failed at body.email)",
    async (email) => {
      const username = uniqueName();
      const res = await register({ username, password: STRONG_PASSWORD, email });
      expectValidation(res, "body.email");
      expect(await userRow(username)).toBeNull();
    },
  );

  it.each([["14155550100"], ["+0123456789"], ["+1 415 555 01a0"], ["+123"], ["+1234567890123456"], ["phone"]])(
    "rejects the phone %j (400 validation_failed at body.phone)",
    async (phone) => {
      const res = await register({ username: uniqueName(), password: STRONG_PASSWORD, phone });
      const error = expectValidation(res, "body.phone");
      expect(error.message).toMatch(/E\.164/);
    },
  );

  it("rejects a password shorter than 8 characters", async () => {
    const res = await register({ username: uniqueName(), password: "x7$Kq!2" });
    const error = expectValidation(res, "body.password");
    expect(error.message).toMatch(/at least 8/);
  });

  it("rejects a password longer than 128 characters, and accepts exactly 128", async () => {
    const long = "violet-harbor-73-lantern-".repeat(6).slice(0, 129);
    const res = await register({ username: uniqueName(), password: long });
    const error = expectValidation(res, "body.password");
    expect(error.message).toMatch(/at most 128/);

    const ok = await register({ username: uniqueName(), password: long.slice(0, 128) });
    expect(ok.status, ok.text).toBe(201);
  });

  it("reports a missing required field at its path", async () => {
    expectValidation(await register({ password: STRONG_PASSWORD }), "body.username");
    expectValidation(await register({ username: uniqueName() }), "body.password");
    // Both missing: both are reported.
    const both = expectValidation(await register({}), "body.username");
    expect((both.details as { path: string }[]).map((d) => d.path)).toContain("body.password");
  });

  it("rejects wrong types", async () => {
    expectValidation(await register({ username: 12345, password: STRONG_PASSWORD }), "body.username");
    expectValidation(await register({ username: uniqueName(), password: 12345678 }), "body.password");
    expectValidation(await register({ username: uniqueName(), password: STRONG_PASSWORD, email: true }), "body.email");
    expectValidation(await register({ username: uniqueName(), password: STRONG_PASSWORD, phone: 14155550100 }), "body.phone");
    expectValidation(await register({ username: uniqueName(), password: STRONG_PASSWORD, displayName: ["x"] }), "body.displayName");
    expectValidation(await register({ username: null, password: STRONG_PASSWORD }), "body.username");
  });

  it("rejects a body that is not an object", async () => {
    for (const body of [[], "a string", 42, null]) {
      const res = await api("POST", REGISTER, { raw: JSON.stringify(body), headers: { "content-type": "application/json" } });
      expectEnvelope(res, 400, "validation_failed");
    }
  });

  it("rejects unknown fields (no mass assignment) and creates no user", async () => {
    const username = uniqueName("mass");
    const res = await register({ username, password: STRONG_PASSWORD, role: "admin" });
    const error = expectEnvelope(res, 400, "validation_failed");
    expect(JSON.stringify(error.details)).toContain("role");
    expect((error.details as { code: string }[]).some((d) => d.code === "unrecognized_keys")).toBe(true);
    expect(await userRow(username)).toBeNull();

    for (const extra of [
      { status: "active" },
      { emailVerified: true },
      { id: "0190aaaa-0000-7000-8000-000000000000" },
      { passwordHash: "x" },
    ]) {
      const r = await register({ username, password: STRONG_PASSWORD, ...extra });
      expectEnvelope(r, 400, "validation_failed");
    }
    expect(await userRow(username)).toBeNull();
    expect(await countUsers("role != 'user'")).toBe(0);
  });

  it("answers malformed JSON with 400 malformed_json", async () => {
    const username = uniqueName();
    for (const raw of [`{"username":"${username}","password":`, "{username: 1}", "", "not json"]) {
      const res = await api("POST", REGISTER, { raw, headers: { "content-type": "application/json" } });
      expectEnvelope(res, 400, "malformed_json");
    }
    expect(await userRow(username)).toBeNull();
  });

  it("answers a non-JSON content type with 415 unsupported_media_type", async () => {
    const username = uniqueName();
    const json = JSON.stringify({ username, password: STRONG_PASSWORD });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const res = await api("POST", REGISTER, { raw: json, headers: { "content-type": type } });
      const error = expectEnvelope(res, 415, "unsupported_media_type");
      expect(error.message).toMatch(/application\/json/);
    }
    const none = await api("POST", REGISTER, { raw: json });
    expectEnvelope(none, 415, "unsupported_media_type");
    expect(await userRow(username)).toBeNull();
  });

  it("accepts application/json with a charset", async () => {
    const username = uniqueName();
    const res = await api("POST", REGISTER, {
      raw: JSON.stringify({ username, password: STRONG_PASSWORD }),
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.user.username).toBe(username);
  });

  it("answers a body over 256 KiB with 413 payload_too_large and creates no user", async () => {
    const username = uniqueName();
    const raw = JSON.stringify({ username, password: STRONG_PASSWORD, displayName: "x".repeat(256 * 1024) });
    const res = await api("POST", REGISTER, { raw, headers: { "content-type": "application/json" } });
    expectEnvelope(res, 413, "payload_too_large");
    expect(await userRow(username)).toBeNull();
  });

  it("echoes a client-supplied X-Request-Id in the error body", async () => {
    const res = await api("POST", REGISTER, { body: { username: "x" }, headers: { "X-Request-Id": "client-req-42" } });
    const error = expectEnvelope(res, 400, "validation_failed");
    expect(error.requestId).toBe("client-req-42");
  });

  it("gives every error its own request id", async () => {
    const a = expectEnvelope(await register({ username: "x" }), 400, "validation_failed");
    const b = expectEnvelope(await register({ username: "x" }), 400, "validation_failed");
    expect(a.requestId).not.toBe(b.requestId);
  });
});

describe("POST /auth/register: weak passwords", () => {
  async function expectWeak(password: string, extra: Record<string, unknown> = {}) {
    const username = (extra.username as string | undefined) ?? uniqueName();
    const res = await register({ username, password, ...extra });
    const error = expectEnvelope(res, 400, "weak_password");
    expect(error.message).toMatch(/^Password is too weak: .+/);
    expect(Array.isArray(error.details.suggestions)).toBe(true);
    for (const s of error.details.suggestions) expect(typeof s).toBe("string");
    expect(error.details.score).toBeLessThan(error.details.minScore);
    expect(await userRow(username.toLowerCase())).toBeNull();
    return error;
  }

  it("rejects a commonly used password and says so", async () => {
    const error = await expectWeak("password123");
    expect(error.message).toMatch(/commonly used/i);
    expect(error.details.warning).toMatch(/commonly used/i);
    expect(error.details.suggestions.length).toBeGreaterThan(0);
  });

  it("rejects a keyboard row and says why", async () => {
    const error = await expectWeak("qwertyuiop");
    expect(error.message).toMatch(/keyboard|(commonly|frequently|heavily) used|easy to guess/i);
  });

  it("rejects the username plus a digit, though the same string is fine for someone else", async () => {
    const username = `harbor${uniqueName("").replace(/[^a-z0-9]/g, "")}`.slice(0, 20);
    const password = `${username}1`;
    // Control: without the username as context the password would pass the policy.
    await expect(assertStrongPassword(password)).resolves.toBeUndefined();
    const error = await expectWeak(password, { username });
    expect(error.message.length).toBeGreaterThan("Password is too weak: ".length);
  });

  it("rejects the display name or email local part reused as the password", async () => {
    const name = `lantern${uniqueName("").replace(/[^a-z0-9]/g, "")}`.slice(0, 20);
    await expect(assertStrongPassword(`${name}!`)).resolves.toBeUndefined();
    await expectWeak(`${name}!`, { displayName: name });
    await expectWeak(`${name}!`, { email: `${name}@example.com` });
  });

  it("accepts a long passphrase", async () => {
    const res = await register({ username: uniqueName(), password: "correct horse battery staple ferry" });
    expect(res.status, res.text).toBe(201);
  });
});

describe("POST /auth/register: rate limit (6 per 30 s per IP)", () => {
  /**
   * Run `fn` inside one fixed rate-limit window: if the window turned over while it ran (the
   * limiter's counters reset at window boundaries), run it again with fresh inputs.
   */
  async function withinOneWindow<T>(windowSeconds: number, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const before = Math.floor(Date.now() / 1000 / windowSeconds);
      const result = await fn();
      if (Math.floor(Date.now() / 1000 / windowSeconds) === before || attempt >= 2) return result;
    }
  }

  it("answers the 7th register from one IP with 429 rate_limited and RateLimit headers", async () => {
    const { ip, responses, blockedName } = await withinOneWindow(30, async () => {
      const ip = uniqueIp();
      const responses: ApiResponse[] = [];
      for (let i = 0; i < 6; i++) responses.push(await register({ username: uniqueName("rl"), password: STRONG_PASSWORD }, ip));
      const blockedName = uniqueName("rl");
      responses.push(await register({ username: blockedName, password: STRONG_PASSWORD }, ip));
      return { ip, responses, blockedName };
    });

    const ok = responses.slice(0, 6);
    ok.forEach((res, i) => {
      expect(res.status, res.text).toBe(201);
      expect(res.headers.get("RateLimit-Limit")).toBe("6");
      expect(res.headers.get("RateLimit-Remaining")).toBe(String(5 - i));
      const reset = Number(res.headers.get("RateLimit-Reset"));
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(30);
    });

    const blocked = responses[6]!;
    const error = expectEnvelope(blocked, 429, "rate_limited");
    const retryAfter = Number(blocked.headers.get("Retry-After"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(blocked.headers.get("RateLimit-Limit")).toBe("6");
    expect(blocked.headers.get("RateLimit-Remaining")).toBe("0");
    expect(Number(blocked.headers.get("RateLimit-Reset"))).toBe(retryAfter);
    expect(error.details).toEqual({ retryAfter });
    expect(error.message).toMatch(/try again/i);
    // A rate-limited request creates nothing.
    expect(await userRow(blockedName)).toBeNull();

    // Still blocked for this IP…
    expectEnvelope(await register({ username: uniqueName("rl"), password: STRONG_PASSWORD }, ip), 429, "rate_limited");
    // …while another IP is unaffected.
    const other = await register({ username: blockedName, password: STRONG_PASSWORD }, uniqueIp());
    expect(other.status, other.text).toBe(201);
    expect(other.headers.get("RateLimit-Remaining")).toBe("5");
  });

  it("counts failed registrations from the IP too", async () => {
    const { responses } = await withinOneWindow(30, async () => {
      const ip = uniqueIp();
      const responses: ApiResponse[] = [];
      for (let i = 0; i < 6; i++) responses.push(await register({ username: "x", password: STRONG_PASSWORD }, ip));
      responses.push(await register({ username: uniqueName(), password: STRONG_PASSWORD }, ip));
      return { responses };
    });
    for (const res of responses.slice(0, 6)) expectEnvelope(res, 400, "validation_failed");
    expectEnvelope(responses[6]!, 429, "rate_limited");
  });
});
