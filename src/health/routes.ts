import { createRoute, z } from "@hono/zod-openapi";
import type { Bindings } from "../env";
import { jwtSecretProblem, mediaUrlSecretProblem } from "../lib/config";
import { AppError } from "../lib/errors";
import { errorResponses, json, newRouter, publicSecurity } from "../lib/openapi";

const tags = ["Service"];
const app = newRouter();

app.openapi(
  createRoute({
    method: "get",
    path: "/health",
    operationId: "getHealth",
    tags,
    summary: "Liveness: the Worker answers",
    security: publicSecurity,
    responses: { 200: json(z.object({ status: z.literal("ok") })) },
  }),
  (c) => c.json({ status: "ok" as const }, 200),
);

type Check = () => Promise<void>;

/** Each dependency's smallest real round trip, plus the configuration a deploy needs. */
function readinessChecks(env: Bindings): Record<string, Check> {
  return {
    d1: async () => {
      await env.DB.prepare("SELECT 1").first();
    },
    kv: async () => {
      await env.KV.get("health:probe");
    },
    r2: async () => {
      await env.MEDIA.head("health/probe");
    },
    config: async () => {
      const problems = [jwtSecretProblem(env), mediaUrlSecretProblem(env)].filter(Boolean);
      if (problems.length) throw new Error(problems.join("; "));
    },
  };
}

const CheckResults = z.record(z.string(), z.string()).openapi({ example: { d1: "ok", kv: "ok", r2: "ok", config: "ok" } });

app.openapi(
  createRoute({
    method: "get",
    path: "/health/ready",
    operationId: "getReadiness",
    tags,
    summary: "Readiness: D1, KV, R2 and configuration",
    description: "503 `not_ready` names the failing parts in the message and in `details.checks`.",
    security: publicSecurity,
    responses: { 200: json(z.object({ status: z.literal("ready"), checks: CheckResults })), ...errorResponses(503) },
  }),
  async (c) => {
    const checks = readinessChecks(c.env);
    const results: Record<string, string> = {};
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await check();
          results[name] = "ok";
        } catch (err) {
          results[name] = `fail: ${err instanceof Error ? err.message : String(err)}`;
        }
      }),
    );
    const failing = Object.keys(results)
      .filter((k) => results[k] !== "ok")
      .sort();
    if (failing.length) {
      throw new AppError(503, "not_ready", `Not ready: ${failing.join(", ")}`, { checks: results });
    }
    return c.json({ status: "ready" as const, checks: results }, 200);
  },
);

export default app;
