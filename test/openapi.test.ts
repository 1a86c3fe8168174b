import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { getRefId } from "@asteasolutions/zod-to-openapi";
import { OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { app } from "../src/app";
import { documentedRouter } from "../src/app/api-document";
import { api, BASE, expectError, signUp, uniqueName } from "./helpers";

type AnySchema = z.ZodType;

const isZodSchema = (value: unknown): value is AnySchema =>
  typeof value === "object" && value !== null && "_zod" in value && typeof (value as { parse?: unknown }).parse === "function";

/** Wrappers that add nothing to a component of their own: the schema they wrap is what is named. */
const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "nonoptional", "catch"]);

/** The schema under optional/nullable/default/… wrappers and transforms (what the generator names). */
function unwrapped(schema: AnySchema): AnySchema {
  const def = schema._zod.def as unknown as Record<string, unknown>;
  if (WRAPPERS.has(def.type as string) && isZodSchema(def.innerType)) return unwrapped(def.innerType);
  if (def.type === "pipe" && isZodSchema(def.in)) return unwrapped(def.in);
  return schema;
}

/**
 * Every zod schema reachable from the app's OpenAPI registry (route params, queries, bodies,
 * responses, registered components), down through object shapes, arrays, unions, wrappers and
 * lazy getters, grouped by the component name zod-to-openapi gives it. Per name, the distinct
 * definitions (`.openapi({...})` metadata overrides share their schema's definition, so they count once).
 */
async function namedSchemas(): Promise<Map<string, Map<unknown, AnySchema>>> {
  const byName = new Map<string, Map<unknown, AnySchema>>();
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (typeof value !== "object" || value === null || seen.has(value)) return;
    seen.add(value);
    if (!isZodSchema(value)) {
      for (const child of Object.values(value)) visit(child);
      return;
    }
    const name = getRefId(value);
    if (name) {
      const base = unwrapped(value);
      const defs = byName.get(name) ?? new Map<unknown, AnySchema>();
      if (!defs.has(base._zod.def)) defs.set(base._zod.def, base);
      byName.set(name, defs);
    }
    const def = value._zod.def as unknown as Record<string, unknown>;
    if (def.type === "lazy" && typeof def.getter === "function") visit((def.getter as () => unknown)());
    for (const [key, child] of Object.entries(def)) {
      if (key === "checks") continue; // refinements and length checks hold no schemas
      if (isZodSchema(child)) visit(child);
      else if (Array.isArray(child) || (typeof child === "object" && child !== null)) for (const c of Object.values(child)) visit(c);
    }
  };
  visit((await documentedRouter()).openAPIRegistry.definitions);
  return byName;
}

/** How a schema appears under components.schemas when it is the only thing named `name`. */
function componentJson(name: string, schema: AnySchema): unknown {
  const alone = new OpenAPIHono();
  alone.openAPIRegistry.register(name, schema);
  const doc = alone.getOpenAPI31Document({ openapi: "3.1.0", info: { title: name, version: "0" } });
  return doc.components?.schemas?.[name];
}

describe("OpenAPI components", () => {
  it("reaches every component of the document when walking the registry", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const names = [...(await namedSchemas()).keys()].sort();
    expect(names.length).toBeGreaterThan(50);
    expect(names).toEqual(Object.keys(doc.components.schemas).sort());
  });

  it("gives each component name to one schema only", async () => {
    // Two different schemas under one name: the document keeps whichever comes first, so one route
    // silently documents the other's shape. Identical copies (same JSON) are harmless.
    const clashes: string[] = [];
    for (const [name, defs] of await namedSchemas()) {
      const shapes = new Set([...defs.values()].map((schema) => JSON.stringify(componentJson(name, schema))));
      if (shapes.size > 1) clashes.push(`${name}: ${shapes.size} different schemas`);
    }
    expect(clashes).toEqual([]);
  });

  it("never makes a named schema nullable itself: a nullable use says anyOf [$ref, null] (orNull)", async () => {
    // `schema.nullable()` on a named schema marks the component nullable, and then every request body
    // using it documents null as valid input, which the validators refuse.
    const doc = (await api("GET", "/openapi.json")).body;
    const nullable = Object.entries(doc.components.schemas as Record<string, { type?: unknown; anyOf?: unknown[]; oneOf?: unknown[] }>)
      .filter(([, schema]) => {
        const types = Array.isArray(schema.type) ? schema.type : [schema.type];
        const alternatives = [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])] as { type?: unknown }[];
        return types.includes("null") || alternatives.some((a) => a.type === "null");
      })
      .map(([name]) => name);
    expect(nullable).toEqual([]);
    expect(doc.components.schemas.SendMessageRequest.properties.location).toEqual({ $ref: "#/components/schemas/GeoLocation" });
    expect(doc.components.schemas.Message.properties.location).toEqual({
      anyOf: [{ $ref: "#/components/schemas/GeoLocation" }, { type: "null" }],
    });
  });

  it("documents the chat ban and the admin ban with their own bodies", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const bodyRef = (path: string) => doc.paths[path].post.requestBody.content["application/json"].schema.$ref;
    expect(bodyRef("/api/v1/chats/{chatId}/bans")).toBe("#/components/schemas/ChatBanRequest");
    expect(bodyRef("/api/v1/admin/users/{id}/ban")).toBe("#/components/schemas/AdminBanRequest");
    expect(Object.keys(doc.components.schemas.ChatBanRequest.properties)).toEqual(["userId", "until", "shadow"]);
    expect(Object.keys(doc.components.schemas.AdminBanRequest.properties)).toEqual(["reason"]);
    expect(doc.components.schemas).not.toHaveProperty("BanRequest");
  });
});

type Operation = {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
};

/** Every operation of the served document as `METHOD /path` → its operation object. */
async function operations(): Promise<Map<string, Operation>> {
  const doc = (await api("GET", "/openapi.json")).body;
  const out = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
    for (const [method, op] of Object.entries(item)) out.set(`${method.toUpperCase()} ${path}`, op);
  }
  return out;
}

describe("OpenAPI operations", () => {
  it("each have a unique camelCase operationId (client generators name methods after them)", async () => {
    const ops = await operations();
    expect(ops.size).toBeGreaterThan(90);
    const missing = [...ops].filter(([, op]) => !op.operationId).map(([name]) => name);
    expect(missing).toEqual([]);
    const notCamel = [...ops.values()].map((op) => op.operationId!).filter((id) => !/^[a-z][a-zA-Z0-9]*$/.test(id));
    expect(notCamel).toEqual([]);
    const ids = [...ops.values()].map((op) => op.operationId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it("names operations stably (generated clients call these names)", async () => {
    const ops = await operations();
    const idOf = (name: string) => ops.get(name)?.operationId;
    expect(idOf("POST /api/v1/auth/register")).toBe("register");
    expect(idOf("POST /api/v1/auth/login")).toBe("login");
    expect(idOf("POST /api/v1/chats/{chatId}/messages")).toBe("sendMessage");
    expect(idOf("POST /api/v1/chats/{chatId}/messages/{messageId}/votes")).toBe("votePoll");
    expect(idOf("DELETE /api/v1/chats/{chatId}/messages/{messageId}/votes")).toBe("retractPollVote");
    expect(idOf("POST /api/v1/chats/{chatId}/messages/{messageId}/close-poll")).toBe("closePoll");
    expect(idOf("GET /api/v1/chats/{chatId}/members")).toBe("listChatMembers");
    expect(idOf("POST /api/v1/chats/{chatId}/bans")).toBe("banChatMember");
    expect(idOf("POST /api/v1/admin/users/{id}/ban")).toBe("adminBanUser");
    expect(idOf("POST /api/v1/auth/devices/{id}/unblock")).toBe("unblockDevice");
    expect(idOf("POST /api/v1/chats/{chatId}/unfreeze")).toBe("unfreezeChat");
    expect(idOf("GET /openapi.json")).toBe("getOpenApiDocument");
  });

  it("declare their security, and routes without a token answer as declared", async () => {
    const ops = await operations();
    const undeclared = [...ops].filter(([, op]) => !Array.isArray(op.security)).map(([name]) => name);
    expect(undeclared).toEqual([]);
    // A bearer operation refuses a call without a token (401); a public one never does.
    const wrong: string[] = [];
    for (const [name, op] of ops) {
      const schemes = op.security!.map((requirement) => Object.keys(requirement).join("+"));
      if (schemes.includes("")) continue; // optional bearer ([{}, {bearerAuth: []}]): both answers are right
      const [method, path] = name.split(" ") as [string, string];
      const res = await api(method, path.replace(/\{\w+\}/g, "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a"));
      const needsToken = schemes.length > 0;
      if (needsToken !== (res.status === 401)) wrong.push(`${name} declares ${needsToken ? "bearer" : "public"}, answered ${res.status}`);
    }
    expect(wrong).toEqual([]);
    expect(ops.get("POST /api/v1/auth/login")!.security).toEqual([]);
    expect(ops.get("GET /api/v1/auth/me")!.security).toEqual([{ bearerAuth: [] }, { botAuth: [] }]);
    expect(ops.get("GET /api/v1/auth/sessions")!.security).toEqual([{ bearerAuth: [] }]); // people only: bots get 403
  });

  it("are served from wherever the document is (a relative server URL)", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
  });
});

/** The statuses an operation documents, as numbers. */
const documented = (op: Operation) => Object.keys(op.responses).map(Number);

describe("OpenAPI responses", () => {
  it("list the statuses every route of a kind can answer", async () => {
    const missing: string[] = [];
    for (const [name, op] of await operations()) {
      const expected = new Set<number>();
      // Bearer routes: no, bad or ended token (401); outside development without a proper JWT_SECRET
      // tokens cannot be checked (503 server_misconfigured).
      if (op.security?.some((r) => "bearerAuth" in r)) for (const s of [401, 503]) expected.add(s);
      if (op.parameters?.length) expected.add(400);
      // JSON bodies: bad JSON or fields (400), over the body cap (413), another content type (415).
      if (op.requestBody) for (const s of [400, 413, 415]) expected.add(s);
      const absent = [...expected].filter((status) => !documented(op).includes(status));
      if (absent.length) missing.push(`${name}: ${absent.join(", ")}`);
    }
    expect(missing).toEqual([]);
  });

  it("list the refusals known routes answer with", async () => {
    const ops = await operations();
    const cases: [string, number[]][] = [
      ["PUT /api/v1/users/me/username", [409, 429]],
      ["POST /api/v1/auth/register", [409, 429, 503]],
      ["POST /api/v1/auth/login", [401, 403, 429, 503]],
      ["POST /api/v1/auth/2fa/setup", [409, 429]],
      ["DELETE /api/v1/users/me", [403, 429]],
      ["GET /api/v1/users/search", [429]],
      ["POST /api/v1/users/me/contacts/sync", [413, 429]],
      ["POST /api/v1/reports", [404, 409, 429]],
      ["POST /api/v1/chats", [403, 404, 409, 429]],
      ["POST /api/v1/chats/{chatId}/messages", [403, 404, 429]],
      ["GET /api/v1/chats/{chatId}/messages", [403, 404]],
      ["POST /api/v1/chats/{chatId}/leave", [409]],
      ["GET /api/v1/chats/{chatId}/ws", [101, 403, 404, 426]],
      ["GET /api/v1/admin/stats", [404]],
      ["POST /api/v1/admin/users/{id}/restore", [403, 404, 409]],
      ["GET /health/ready", [503]],
      ["POST /api/v1/media/uploads", [412, 413, 415, 429]],
      ["PATCH /api/v1/media/uploads/{id}", [409, 410, 412, 413, 415, 503]],
    ];
    const missing = cases.flatMap(([name, statuses]) => {
      const absent = statuses.filter((status) => !documented(ops.get(name)!).includes(status));
      return absent.length ? [`${name}: ${absent.join(", ")}`] : [];
    });
    expect(missing).toEqual([]);
  });

  it("documents the username change limit that answers 429", async () => {
    const user = await signUp();
    const rename = () => api("PUT", "/api/v1/users/me/username", { token: user.accessToken, body: { username: uniqueName("r") } });
    for (let i = 0; i < 5; i++) expect((await rename()).status).toBe(200);
    expectError(await rename(), 429, "rate_limited");
    expect(documented((await operations()).get("PUT /api/v1/users/me/username")!)).toContain(429);
  });

  it("documents the 503 a bearer route answers when tokens cannot be checked", async () => {
    const user = await signUp();
    const ctx = createExecutionContext();
    const req = new Request(`${BASE}/api/v1/users/me/privacy`, { headers: { authorization: `Bearer ${user.accessToken}` } });
    const res = await app.fetch(req, { ...env, ENVIRONMENT: "production", JWT_SECRET: undefined }, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("server_misconfigured");
    expect(documented((await operations()).get("GET /api/v1/users/me/privacy")!)).toContain(503);
  });
});
