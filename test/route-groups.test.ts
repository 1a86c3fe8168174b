import { describe, expect, it } from "vitest";
import { routerFor } from "../src/app";
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
