import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import { documentedRouter } from "../src/app/api-document";
import { DEVELOPMENT_JWT_SECRET } from "../src/lib/config";
import { api, BASE, expectError, STRONG_PASSWORD, uniqueIp, uniqueName } from "./helpers";

/** Call the app with a modified environment (e.g. ENVIRONMENT=production) through its real fetch. */
async function fetchWithEnv(overrides: Record<string, unknown>, path: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(BASE + path, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

describe("health", () => {
  it("GET /health answers ok", async () => {
    const res = await api("GET", "/health");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });

  it("GET /health/ready checks D1, KV, R2 and configuration", async () => {
    const res = await api("GET", "/health/ready");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ready", checks: { d1: "ok", kv: "ok", r2: "ok", config: "ok" } });
  });

  it("GET /health/ready answers 503 naming the failing part", async () => {
    const brokenKv = { get: async () => Promise.reject(new Error("KV unreachable")) };
    const res = await fetchWithEnv({ KV: brokenKv }, "/health/ready");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("not_ready");
    expect(res.body.error.message).toBe("Not ready: kv");
    expect(res.body.error.details.checks).toMatchObject({ d1: "ok", kv: "fail: KV unreachable", r2: "ok" });
  });
});

describe("configuration outside development", () => {
  const register = () =>
    fetchWithEnv({ ENVIRONMENT: "production", JWT_SECRET: undefined }, "/api/v1/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": uniqueIp() },
      body: JSON.stringify({ username: uniqueName(), password: STRONG_PASSWORD }),
    });

  it("a missing signing secret fails readiness", async () => {
    const res = await fetchWithEnv({ ENVIRONMENT: "production", JWT_SECRET: undefined }, "/health/ready");
    expect(res.status).toBe(503);
    expect(res.body.error.message).toBe("Not ready: config");
    expect(res.body.error.details.checks.config).toMatch(/JWT_SECRET is not set/);
  });

  it("a missing or reused media URL secret fails readiness", async () => {
    const secret = "a-real-production-secret-of-more-than-32-chars!";
    const missing = await fetchWithEnv({ ENVIRONMENT: "production", JWT_SECRET: secret }, "/health/ready");
    expect(missing.status).toBe(503);
    expect(missing.body.error.details.checks.config).toMatch(/MEDIA_URL_SECRET is not set/);
    const reused = await fetchWithEnv({ ENVIRONMENT: "production", JWT_SECRET: secret, MEDIA_URL_SECRET: secret }, "/health/ready");
    expect(reused.body.error.details.checks.config).toMatch(/MEDIA_URL_SECRET equals JWT_SECRET/);
  });

  it("the development default secret fails readiness", async () => {
    const res = await fetchWithEnv({ ENVIRONMENT: "production", JWT_SECRET: DEVELOPMENT_JWT_SECRET }, "/health/ready");
    expect(res.status).toBe(503);
    expect(res.body.error.details.checks.config).toMatch(/development default/);
  });

  it("token issuing refuses with a clear error and writes nothing", async () => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM sessions").first<{ n: number }>();
    const res = await register();
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("server_misconfigured");
    expect(res.body.error.message).toMatch(/JWT_SECRET/);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM sessions").first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });

  it("a proper secret is accepted and production ignores the cheap argon2 variables", async () => {
    const secret = "a-real-production-secret-of-more-than-32-chars!";
    const mediaSecret = "another-production-secret-for-media-urls-0123";
    const ready = await fetchWithEnv({ ENVIRONMENT: "production", JWT_SECRET: secret, MEDIA_URL_SECRET: mediaSecret }, "/health/ready");
    expect(ready.status).toBe(200);
    const username = uniqueName();
    const res = await fetchWithEnv({ ENVIRONMENT: "production", JWT_SECRET: secret }, "/api/v1/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": uniqueIp() },
      body: JSON.stringify({ username, password: STRONG_PASSWORD }),
    });
    expect(res.status).toBe(201);
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE username = ?")
      .bind(username)
      .first<{ password_hash: string }>();
    expect(row!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});

describe("HTTP conventions", () => {
  it("unknown routes get a JSON 404 with a request id", async () => {
    const res = await api("GET", "/api/v1/nope");
    const error = expectError(res, 404, "not_found");
    expect(res.headers.get("x-request-id")).toBe(error.requestId);
  });

  it("keeps a caller's X-Request-Id", async () => {
    const res = await api("GET", "/api/v1/nope", { headers: { "x-request-id": "trace-abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("trace-abc-123");
    expect(res.body.error.requestId).toBe("trace-abc-123");
  });

  it("sets secure headers", async () => {
    const res = await api("GET", "/health");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(res.headers.get("strict-transport-security")).toContain("max-age=");
  });

  it("answers CORS preflights with the configured origins", async () => {
    const res = await api("OPTIONS", "/api/v1/auth/login", {
      headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");

    const restricted = await fetchWithEnv({ CORS_ORIGINS: "https://app.example.com" }, "/health", {
      headers: { origin: "https://evil.example" },
    });
    expect(restricted.headers.get("access-control-allow-origin")).toBeNull();
    const allowed = await fetchWithEnv({ CORS_ORIGINS: "https://app.example.com, https://web.example.com" }, "/health", {
      headers: { origin: "https://web.example.com" },
    });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://web.example.com");
  });

  it("does not add CORS headers to WebSocket routes", async () => {
    const res = await api("GET", "/api/v1/chats/abc/ws", { headers: { origin: "https://app.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("caps request bodies before parsing", async () => {
    const res = await api("POST", "/api/v1/auth/login", {
      raw: JSON.stringify({ identifier: "x".repeat(300 * 1024), password: "y" }),
      headers: { "content-type": "application/json" },
    });
    expectError(res, 413, "payload_too_large");
  });
});

describe("OpenAPI", () => {
  it("documents every registered route", async () => {
    const res = await api("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    const registered = (await documentedRouter()).routes
      .filter((r) => r.method !== "ALL")
      .map((r) => ({ method: r.method.toLowerCase(), path: r.path.replace(/:(\w+)/g, "{$1}") }));
    expect(registered.length).toBeGreaterThan(10);
    const missing = registered.filter((r) => !paths[r.path]?.[r.method]).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it("describes bodies from the validators' schemas and the bearer scheme", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const register = doc.paths["/api/v1/auth/register"].post;
    expect(register.requestBody.content["application/json"].schema.$ref).toBe("#/components/schemas/RegisterRequest");
    expect(doc.components.schemas.RegisterRequest.required).toEqual(expect.arrayContaining(["username", "password"]));
    expect(doc.components.schemas.RegisterRequest.additionalProperties).toBe(false);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.paths["/api/v1/auth/me"].get.security).toEqual([{ bearerAuth: [] }, { botAuth: [] }]);
    expect(doc.components.securitySchemes.botAuth).toMatchObject({ type: "apiKey", in: "header", name: "Authorization" });
  });

  it("renders the docs page from /openapi.json with Swagger UI from the Worker's own assets", async () => {
    const res = await api("GET", "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.text).toContain("/openapi.json");
    // Same-origin files only (no CDN), and no inline script under a CSP that allows none.
    expect(res.text).toContain('<script src="/docs/swagger-ui-bundle.js"></script>');
    expect(res.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(res.text).not.toMatch(/<script>/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toMatch(/https?:|\*/);
    const bundle = await env.ASSETS.fetch(`${BASE}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toContain("SwaggerUIBundle");
  });
});
