import { env } from "cloudflare:workers";
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { DEVELOPMENT_JWT_SECRET } from "../src/lib/config";
import { api, expectError, logIn, signUp, type TestUser } from "./helpers";

const ME = "/api/v1/auth/me";
const REFRESH = "/api/v1/auth/refresh";
const KEY = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);
const REFRESH_TOKEN_RE = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, base64url without padding
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface ForgeOptions {
  alg?: string;
  /** Header `typ`; null leaves it out. */
  typ?: string | null;
  /** Claims to add or override. */
  claims?: Record<string, unknown>;
  /** Claims to leave out. */
  omit?: string[];
  key?: Uint8Array | CryptoKey;
}

/**
 * Sign an access token the way the server does (HS256, typ at+jwt, the dev secret, env issuer and
 * audience), with one thing changed per test. Without options the result is a valid token.
 */
async function forge(user: TestUser, o: ForgeOptions = {}): Promise<string> {
  const nowSec = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    sub: user.id,
    sid: user.sessionId,
    jti: crypto.randomUUID(),
    iat: nowSec,
    exp: nowSec + 900,
    iss: env.JWT_ISSUER,
    aud: env.JWT_AUDIENCE,
    ...o.claims,
  };
  for (const name of o.omit ?? []) delete claims[name];
  const header: { alg: string; typ?: string } = { alg: o.alg ?? "HS256" };
  if (o.typ !== null) header.typ = o.typ ?? "at+jwt";
  return new SignJWT(claims).setProtectedHeader(header).sign(o.key ?? KEY);
}

const encodeJson = (value: unknown) => base64url.encode(JSON.stringify(value));
const decodeJson = (segment: string) => JSON.parse(new TextDecoder().decode(base64url.decode(segment)));

async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const me = (token: string) => api("GET", ME, { token });
const refresh = (refreshToken: unknown) => api("POST", REFRESH, { body: { refreshToken } });

async function expectMeOk(token: string, user: TestUser) {
  const res = await me(token);
  expect(res.status, res.text).toBe(200);
  expect(res.body.user.id).toBe(user.id);
  expect(res.body.user.username).toBe(user.username);
}

describe("access tokens: what is issued", () => {
  it("issues an HS256 at+jwt with sub, sid, jti, iat, exp = iat + 900, iss and aud", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await api("POST", "/api/v1/auth/register", {
      body: { username: `tok_${crypto.randomUUID().slice(0, 8)}`, password: "violet-harbor-73-lantern" },
    });
    const after = Math.ceil(Date.now() / 1000);
    expect(res.status, res.text).toBe(201);
    const { tokens, user, session } = res.body;
    expect(tokens.tokenType).toBe("Bearer");
    expect(tokens.expiresIn).toBe(900);
    expect(tokens.refreshToken).toMatch(REFRESH_TOKEN_RE);

    const header = decodeProtectedHeader(tokens.accessToken);
    expect(header).toEqual({ alg: "HS256", typ: "at+jwt" });

    const claims = decodeJwt(tokens.accessToken);
    expect(claims.sub).toBe(user.id);
    expect(claims.sid).toBe(session.id);
    expect(claims.jti).toMatch(UUID_RE);
    expect(claims.iss).toBe(env.JWT_ISSUER);
    expect(claims.aud).toBe(env.JWT_AUDIENCE);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.iat).toBeLessThanOrEqual(after);
    expect(claims.exp).toBe(claims.iat! + 900);
    // Nothing private rides in the token.
    expect(Object.keys(claims).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "sid", "sub"]);
  });

  it("gives every token its own jti and every login its own session", async () => {
    const u = await signUp();
    const res = await logIn(u.username);
    expect(res.status, res.text).toBe(200);
    expect(res.body.tokens.tokenType).toBe("Bearer");
    expect(res.body.tokens.expiresIn).toBe(900);
    const first = decodeJwt(u.accessToken);
    const second = decodeJwt(res.body.tokens.accessToken);
    expect(second.sub).toBe(u.id);
    expect(second.jti).not.toBe(first.jti);
    expect(second.sid).toBe(res.body.session.id);
    expect(second.sid).not.toBe(first.sid);
    expect(res.body.tokens.refreshToken).not.toBe(u.refreshToken);
  });

  it("accepts a token forged with exactly the server's rules (control for the cases below)", async () => {
    const u = await signUp();
    await expectMeOk(await forge(u), u);
  });
});

describe("access tokens: what is refused", () => {
  it("no token → 401 unauthorized", async () => {
    const err = expectError(await api("GET", ME), 401, "unauthorized");
    expect(err.message).toMatch(/authentication required/i);
  });

  it("malformed Authorization headers → 401 unauthorized", async () => {
    const u = await signUp();
    const headers = [
      `Basic ${btoa(`${u.username}:${u.password}`)}`,
      "Bearer",
      "Bearer ",
      `Token ${u.accessToken}`,
      `Bearer ${u.accessToken} extra`,
      u.accessToken,
      "Bearer not-a-jwt",
      "Bearer a.b.c",
    ];
    for (const authorization of headers) {
      const res = await api("GET", ME, { headers: { authorization } });
      const err = expectError(res, 401, "unauthorized");
      expect(res.body.user, authorization).toBeUndefined();
      expect(err.message).not.toContain(u.accessToken);
    }
    // The scheme is case-insensitive (RFC 7235), and the same token still works when well formed.
    const ok = await api("GET", ME, { headers: { authorization: `bearer ${u.accessToken}` } });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.user.id).toBe(u.id);
  });

  it("does not take the token from the query string on REST routes", async () => {
    const u = await signUp();
    expectError(await api("GET", `${ME}?access_token=${encodeURIComponent(u.accessToken)}`), 401, "unauthorized");
  });

  it("expired token (otherwise valid) → 401 token_expired", async () => {
    const u = await signUp();
    const nowSec = Math.floor(Date.now() / 1000);
    const token = await forge(u, { claims: { iat: nowSec - 1000, exp: nowSec - 100 } });
    const err = expectError(await me(token), 401, "token_expired");
    expect(err.message).toMatch(/expired/i);
  });

  it("an expired token with a bad signature is unauthorized, not token_expired", async () => {
    const u = await signUp();
    const nowSec = Math.floor(Date.now() / 1000);
    const token = await forge(u, {
      claims: { iat: nowSec - 1000, exp: nowSec - 100 },
      key: new TextEncoder().encode("another-secret-another-secret-another-secret!"),
    });
    expectError(await me(token), 401, "unauthorized");
  });

  it("tampered payload (another user's sub and sid, original signature) → 401 unauthorized", async () => {
    const a = await signUp();
    const b = await signUp();
    const [header, payload, signature] = a.accessToken.split(".") as [string, string, string];
    const claims = decodeJson(payload);
    const forged = `${header}.${encodeJson({ ...claims, sub: b.id, sid: b.sessionId })}.${signature}`;
    expectError(await me(forged), 401, "unauthorized");
    // Only extending the expiry is also caught.
    const longer = `${header}.${encodeJson({ ...claims, exp: claims.exp + 86_400 })}.${signature}`;
    expectError(await me(longer), 401, "unauthorized");
    // The untouched token still works.
    await expectMeOk(a.accessToken, a);
  });

  it("tampered signature → 401 unauthorized", async () => {
    const u = await signUp();
    const [header, payload, signature] = u.accessToken.split(".") as [string, string, string];
    // Change a character in the middle (the last one may only carry padding bits).
    const i = 10;
    const flipped = signature.slice(0, i) + (signature[i] === "A" ? "B" : "A") + signature.slice(i + 1);
    expectError(await me(`${header}.${payload}.${flipped}`), 401, "unauthorized");
    expectError(await me(`${header}.${payload}.`), 401, "unauthorized");
    expectError(await me(`${header}.${payload}`), 401, "unauthorized");
  });

  it("a token signed with another secret → 401 unauthorized", async () => {
    const u = await signUp();
    const token = await forge(u, { key: new TextEncoder().encode("not-the-server-secret-not-the-server-secret") });
    expectError(await me(token), 401, "unauthorized");
  });

  it("alg: none (unsigned) → 401 unauthorized", async () => {
    const u = await signUp();
    const claims = decodeJwt(u.accessToken);
    for (const alg of ["none", "None", "NONE"]) {
      const token = `${encodeJson({ alg, typ: "at+jwt" })}.${encodeJson(claims)}.`;
      expectError(await me(token), 401, "unauthorized");
    }
  });

  it("a token signed with another algorithm (HS512 / HS384 with the same secret, ES256) → 401 unauthorized", async () => {
    const u = await signUp();
    expectError(await me(await forge(u, { alg: "HS512" })), 401, "unauthorized");
    expectError(await me(await forge(u, { alg: "HS384" })), 401, "unauthorized");
    const { privateKey } = await generateKeyPair("ES256");
    expectError(await me(await forge(u, { alg: "ES256", key: privateKey })), 401, "unauthorized");
  });

  it("wrong issuer → 401 unauthorized", async () => {
    const u = await signUp();
    expectError(await me(await forge(u, { claims: { iss: "someone-else" } })), 401, "unauthorized");
    expectError(await me(await forge(u, { omit: ["iss"] })), 401, "unauthorized");
  });

  it("wrong audience → 401 unauthorized", async () => {
    const u = await signUp();
    expectError(await me(await forge(u, { claims: { aud: "another-api" } })), 401, "unauthorized");
    expectError(await me(await forge(u, { omit: ["aud"] })), 401, "unauthorized");
  });

  it("wrong or missing typ header (e.g. an ID token or plain JWT) → 401 unauthorized", async () => {
    const u = await signUp();
    expectError(await me(await forge(u, { typ: "JWT" })), 401, "unauthorized");
    expectError(await me(await forge(u, { typ: "id+jwt" })), 401, "unauthorized");
    expectError(await me(await forge(u, { typ: null })), 401, "unauthorized");
  });

  it("missing or malformed required claims (sid, sub, jti, exp) → 401 unauthorized", async () => {
    const u = await signUp();
    expectError(await me(await forge(u, { omit: ["sid"] })), 401, "unauthorized");
    expectError(await me(await forge(u, { claims: { sid: 12345 } })), 401, "unauthorized");
    expectError(await me(await forge(u, { omit: ["sub"] })), 401, "unauthorized");
    expectError(await me(await forge(u, { omit: ["jti"] })), 401, "unauthorized");
    expectError(await me(await forge(u, { omit: ["exp"] })), 401, "unauthorized");
  });

  it("a token of a session that was ended (logout) → 401 session_revoked, also for freshly signed ones", async () => {
    const u = await signUp();
    await expectMeOk(u.accessToken, u);
    const out = await api("POST", "/api/v1/auth/logout", { token: u.accessToken });
    expect(out.status, out.text).toBe(204);
    const err = expectError(await me(u.accessToken), 401, "session_revoked");
    expect(err.message).toMatch(/session has ended/i);
    // Any token naming that session is refused, not just the one that logged out.
    expectError(await me(await forge(u)), 401, "session_revoked");
  });
});

describe("refresh", () => {
  it("returns new access and refresh tokens; the new access token works", async () => {
    const u = await signUp();
    const res = await refresh(u.refreshToken);
    expect(res.status, res.text).toBe(200);
    const { tokens } = res.body;
    expect(Object.keys(res.body)).toEqual(["tokens"]);
    expect(tokens.tokenType).toBe("Bearer");
    expect(tokens.expiresIn).toBe(900);
    expect(tokens.refreshToken).toMatch(REFRESH_TOKEN_RE);
    expect(tokens.refreshToken).not.toBe(u.refreshToken);
    expect(tokens.accessToken).not.toBe(u.accessToken);

    const claims = decodeJwt(tokens.accessToken);
    expect(claims.sub).toBe(u.id);
    expect(claims.sid).toBe(u.sessionId); // same session, rotated tokens
    expect(claims.jti).not.toBe(decodeJwt(u.accessToken).jti);
    expect(claims.exp).toBe(claims.iat! + 900);
    expect(decodeProtectedHeader(tokens.accessToken)).toEqual({ alg: "HS256", typ: "at+jwt" });

    await expectMeOk(tokens.accessToken, u);
    // The new refresh token can be used in turn.
    const again = await refresh(tokens.refreshToken);
    expect(again.status, again.text).toBe(200);
    expect(again.body.tokens.refreshToken).toMatch(REFRESH_TOKEN_RE);
    expect(new Set([u.refreshToken, tokens.refreshToken, again.body.tokens.refreshToken]).size).toBe(3);
  });

  it("a rotated refresh token presented again → refresh_token_reused, and the whole session ends", async () => {
    const u = await signUp();
    const other = await logIn(u.username); // a second session of the same user must survive
    expect(other.status, other.text).toBe(200);

    const r1 = await refresh(u.refreshToken);
    expect(r1.status, r1.text).toBe(200);
    const r2 = await refresh(r1.body.tokens.refreshToken);
    expect(r2.status, r2.text).toBe(200);
    const newest = r2.body.tokens;
    await expectMeOk(newest.accessToken, u);

    // Replay of the first (rotated) token: theft evidence.
    const reuse = await refresh(u.refreshToken);
    const err = expectError(reuse, 401, "refresh_token_reused");
    expect(err.message).toMatch(/session has been ended/i);
    expect(reuse.body.tokens).toBeUndefined();

    // The newest refresh token of that session no longer works either.
    const afterNewest = await refresh(newest.refreshToken);
    expectError(afterNewest, 401, "session_revoked");
    expect(afterNewest.body.tokens).toBeUndefined();

    // Every access token of the session is refused at once.
    expectError(await me(newest.accessToken), 401, "session_revoked");
    expectError(await me(r1.body.tokens.accessToken), 401, "session_revoked");
    expectError(await me(u.accessToken), 401, "session_revoked");

    const row = await env.DB.prepare("SELECT revoked_at, revoked_reason FROM sessions WHERE id = ?")
      .bind(u.sessionId)
      .first<{ revoked_at: number | null; revoked_reason: string | null }>();
    expect(row?.revoked_at).toBeTypeOf("number");
    expect(row?.revoked_reason).toBe("refresh_token_reuse");

    // Only that session: the user's other session is untouched.
    await expectMeOk(other.body.tokens.accessToken, u);
    const otherRefresh = await refresh(other.body.tokens.refreshToken);
    expect(otherRefresh.status, otherRefresh.text).toBe(200);
  });

  it("two concurrent refreshes with one token: exactly one wins", async () => {
    const u = await signUp();
    const results = await Promise.all([refresh(u.refreshToken), refresh(u.refreshToken)]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 401]);
    const loser = results.find((r) => r.status === 401)!;
    expectError(loser, 401, "refresh_token_reused");
    const winner = results.find((r) => r.status === 200)!;
    expect(winner.body.tokens.refreshToken).toMatch(REFRESH_TOKEN_RE);
  });

  it("unknown refresh token → 401 invalid_refresh_token", async () => {
    const u = await signUp();
    const unknown = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
    const err = expectError(await refresh(unknown), 401, "invalid_refresh_token");
    expect(err.message).not.toContain(unknown);
    // Any other string, and the hash of the real token (what the database holds), are unknown too.
    expectError(await refresh("not-a-refresh-token"), 401, "invalid_refresh_token");
    expectError(await refresh(await sha256Hex(u.refreshToken)), 401, "invalid_refresh_token");
    // A refresh token with one character changed is unknown too.
    const changed = (u.refreshToken[0] === "A" ? "B" : "A") + u.refreshToken.slice(1);
    expectError(await refresh(changed), 401, "invalid_refresh_token");
    // None of this harmed the real one.
    const ok = await refresh(u.refreshToken);
    expect(ok.status, ok.text).toBe(200);
  });

  it("expired refresh token → 401 invalid_refresh_token", async () => {
    const u = await signUp();
    const hash = await sha256Hex(u.refreshToken);
    const update = await env.DB.prepare("UPDATE refresh_tokens SET expires_at = ? WHERE token_hash = ?")
      .bind(Date.now() - 1000, hash)
      .run();
    expect(update.meta.changes).toBe(1);
    const res = await refresh(u.refreshToken);
    const err = expectError(res, 401, "invalid_refresh_token");
    expect(err.message).toMatch(/expired/i);
    expect(res.body.tokens).toBeUndefined();
  });

  it("bad input → 400 validation_failed with details", async () => {
    const u = await signUp();
    const missing = expectError(await api("POST", REFRESH, { body: {} }), 400, "validation_failed");
    expect(missing.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "body.refreshToken", code: "invalid_type" })]));

    const wrongType = expectError(await refresh(12345), 400, "validation_failed");
    expect(wrongType.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "body.refreshToken", code: "invalid_type" })]),
    );

    const empty = expectError(await refresh(""), 400, "validation_failed");
    expect(empty.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: "body.refreshToken" })]));

    const tooLong = expectError(await refresh("a".repeat(257)), 400, "validation_failed");
    expect(tooLong.details).toEqual(expect.arrayContaining([expect.objectContaining({ code: "too_big" })]));

    const unknownField = await api("POST", REFRESH, { body: { refreshToken: u.refreshToken, userId: u.id } });
    const err = expectError(unknownField, 400, "validation_failed");
    expect(err.details).toEqual(expect.arrayContaining([expect.objectContaining({ code: "unrecognized_keys" })]));
    expect(JSON.stringify(err.details)).toContain("userId");

    // Rejected input did not consume the token.
    const ok = await refresh(u.refreshToken);
    expect(ok.status, ok.text).toBe(200);
  });
});

describe("refresh token storage", () => {
  it("stores only the sha256 of a refresh token, never the token", async () => {
    const u = await signUp();
    const rotated = await refresh(u.refreshToken);
    expect(rotated.status, rotated.text).toBe(200);
    const latest: string = rotated.body.tokens.refreshToken;

    const { results } = await env.DB.prepare("SELECT token_hash FROM refresh_tokens").all<{ token_hash: string }>();
    const hashes = results.map((r) => r.token_hash);
    for (const raw of [u.refreshToken, latest]) {
      expect(hashes).not.toContain(raw);
      expect(hashes).toContain(await sha256Hex(raw));
    }
    for (const h of hashes) expect(h).toMatch(/^[0-9a-f]{64}$/);

    // Nowhere else in the session's rows either.
    const everything = JSON.stringify([
      (await env.DB.prepare("SELECT * FROM refresh_tokens").all()).results,
      (await env.DB.prepare("SELECT * FROM sessions").all()).results,
    ]);
    expect(everything).not.toContain(u.refreshToken);
    expect(everything).not.toContain(latest);

    const rows = await env.DB.prepare("SELECT token_hash, rotated_at FROM refresh_tokens WHERE session_id = ? ORDER BY created_at")
      .bind(u.sessionId)
      .all<{ token_hash: string; rotated_at: number | null }>();
    expect(rows.results).toHaveLength(2);
    const byHash = new Map(rows.results.map((r) => [r.token_hash, r.rotated_at]));
    expect(byHash.get(await sha256Hex(u.refreshToken))).toBeTypeOf("number");
    expect(byHash.get(await sha256Hex(latest))).toBeNull();
  });
});
