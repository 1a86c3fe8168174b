import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";

/**
 * Two projects in one run (one report): `workers`, the suite inside workerd with real local
 * D1/KV/R2/Durable Objects, and `node` (vitest.node.config.ts), end-to-end tests in plain Node
 * against a `wrangler dev` of the app, for client libraries that cannot run in workerd.
 */
export default defineConfig(async () => {
  // The Worker's static assets (wrangler.toml [assets]: the web app and /docs) must exist before
  // workerd starts; `npm test` builds them first (pretest), a bare `npx vitest` builds them here.
  if (!existsSync("dist/web/index.html")) execFileSync("npm", ["run", "build:web"], { stdio: "inherit" });
  const migrations = await readD1Migrations("./migrations");
  return {
    test: {
      // Request logs of passing tests are noise; failing tests still show theirs.
      silent: "passed-only" as const,
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  ENVIRONMENT: "development",
                  // Cheap argon2id for tests; production parameters are measured in bench/.
                  ARGON2_MEMORY_KIB: "64",
                  ARGON2_ITERATIONS: "1",
                  // Calls: a known TURN secret, so the tests check the credentials with their own HMAC.
                  TURN_SECRET: "test-turn-secret-0123456789abcdef",
                  TEST_MIGRATIONS: migrations,
                  // test/fuzz-operations.test.ts: its seed and cases per operation (a fixed seed unless given).
                  FUZZ_SEED: process.env.FUZZ_SEED ?? "",
                  FUZZ_RUNS: process.env.FUZZ_RUNS ?? "",
                },
              },
            }),
          ],
          test: {
            name: "workers",
            setupFiles: ["./test/apply-migrations.ts"],
            include: ["test/**/*.test.ts"],
            exclude: [...configDefaults.exclude, "test/node/**"],
            // Presence is coalesced to one frame a second: tests that follow several changes wait for several flushes.
            testTimeout: 15_000,
          },
        },
        "./vitest.node.config.ts",
      ],
    },
  };
});
