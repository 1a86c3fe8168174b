import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app, routerFor } from "../src/app";
import { documentedRouter } from "../src/app/api-document";
import { ROUTE_GROUPS, type RouteGroup, routeGroupOf } from "../src/app/route-groups";
import { api, expectError } from "./helpers";

type Owner = RouteGroup | "service";
const OWNERS: Owner[] = [...(Object.keys(ROUTE_GROUPS) as RouteGroup[]), "service"];
/** Who serves a route's path at run time. */
const ownerOf = (path: string): Owner => routeGroupOf(new Request(`https://api.test${path}`)) ?? "service";
/** The routes a router answers, as "METHOD /path" (middleware, registered for ALL, left out). */
const routesOf = async (owner: Owner) =>
  (await routerFor(owner)).routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`);

/** A request straight to the handler of src/app.ts (the module the spies below reach). */
async function call(method: string, path: string, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`https://api.test${path}`, { method, headers }), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

// First in the file: these need groups no earlier test built (each test file has its own isolate).
describe("building a group", () => {
  afterEach(() => vi.restoreAllMocks());

  it("is left to the first request that needs it: a CORS preflight builds none", async () => {
    const stories = vi.spyOn(ROUTE_GROUPS, "stories");
    const preflight = await call("OPTIONS", "/api/v1/stories/me", {
      origin: "https://app.test",
      "access-control-request-method": "GET",
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("GET");
    expect(stories).not.toHaveBeenCalled();
    const feed = await call("GET", "/api/v1/stories/me");
    expect(feed.status).toBe(401);
    expect(stories).toHaveBeenCalledTimes(1);
  });

  it("that fails answers 500 in the usual shape, with CORS and a request id, and is tried again", async () => {
    vi.spyOn(ROUTE_GROUPS, "keys").mockRejectedValueOnce(new Error("module failed to load"));
    const failed = await call("GET", "/api/v1/keys/count", { origin: "https://app.test", "x-request-id": "req-1" });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: { code: "internal", message: "Internal server error", requestId: "req-1" } });
    expect(failed.headers.get("access-control-allow-origin")).toBeTruthy();
    const next = await call("GET", "/api/v1/keys/count");
    expect(next.status).toBe(401);
  });
});

describe("route groups", () => {
  it("serve every documented route from the group its path names, and nothing of another group", async () => {
    const documented = (await documentedRouter()).routes.filter((r) => r.method !== "ALL");
    expect(documented.length).toBeGreaterThan(150);
    const served = new Map<Owner, Set<string>>();
    for (const owner of OWNERS) served.set(owner, new Set(await routesOf(owner)));
    const unserved = documented.filter((r) => !served.get(ownerOf(r.path))?.has(`${r.method} ${r.path}`));
    expect(unserved.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    const misplaced = OWNERS.flatMap((owner) =>
      [...served.get(owner)!].filter((route) => ownerOf(route.split(" ")[1]!) !== owner).map((route) => `${owner}: ${route}`),
    );
    expect(misplaced).toEqual([]);
  });

  it("keep one router per group for the isolate", async () => {
    expect(await routerFor("chats")).toBe(await routerFor("chats"));
    expect(await routerFor("chats")).not.toBe(await routerFor("users"));
  });

  it("answer a path no group owns, and an unknown path inside a group, with the same 404", async () => {
    for (const path of ["/api/v1/nothing-here", "/api/v1/chats/x/nothing-here", "/api/v1", "/nowhere"]) {
      const res = await api("GET", path);
      expectError(res, 404, "not_found");
      expect(res.headers.get("x-request-id")).toBeTruthy();
    }
  });
});
