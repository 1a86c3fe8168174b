import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, signUp } from "./helpers";

/**
 * The OpenAPI document and API keys agree: an operation declares `X-On-Behalf-Of` exactly when a
 * key calling it acts as a user (and so is refused without the header), and names the scope it needs.
 */

type Operation = { security?: Record<string, string[]>[]; parameters?: { $ref?: string }[] };
const SAMPLE_ID = "01930f3e-8d4a-7c1e-9d2b-5a7f3c2e1b0a";

async function keyWithEveryScope(): Promise<string> {
  const boss = await signUp();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(boss.id).run();
  const scopes = ["users:write", "tokens:mint", "messages:write", "chats:write", "webhooks:manage"];
  const res = await api("POST", "/api/v1/admin/api-keys", { token: boss.accessToken, body: { name: "doc", scopes } });
  expect(res.status, res.text).toBe(201);
  return res.body.key;
}

describe("X-On-Behalf-Of in the document", () => {
  it("is declared on exactly the operations that refuse a key without it", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    expect(doc.components.parameters.OnBehalfOf).toMatchObject({ name: "X-On-Behalf-Of", in: "header" });
    const key = await keyWithEveryScope();
    const mismatched: string[] = [];
    let declared = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, op] of Object.entries(item)) {
        const declares = (op.parameters ?? []).some((p) => p.$ref === "#/components/parameters/OnBehalfOf");
        if (declares) declared++;
        const scoped = (op.security ?? []).find((s) => "apiKeyAuth" in s);
        if (declares && scoped?.apiKeyAuth?.length !== 1) mismatched.push(`${method} ${path}: no scope named`);
        const res = await api(method.toUpperCase(), path.replace(/\{\w+\}/g, SAMPLE_ID), {
          body: method === "get" || method === "head" ? undefined : {},
          headers: { authorization: `ApiKey ${key}` },
        });
        const refused = res.body?.error?.code === "on_behalf_of_required";
        if (declares !== refused)
          mismatched.push(`${method} ${path}: declared ${declares}, answered ${res.status} ${res.body?.error?.code}`);
      }
    }
    expect(mismatched).toEqual([]);
    expect(declared).toBeGreaterThan(40);
  });
});
