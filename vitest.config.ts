import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ENVIRONMENT: "development",
            // Cheap argon2id for tests; production parameters are measured in bench/.
            ARGON2_MEMORY_KIB: "64",
            ARGON2_ITERATIONS: "1",
            TEST_MIGRATIONS: migrations,
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/apply-migrations.ts"],
      include: ["test/**/*.test.ts"],
      // test/node/ runs in Node against `wrangler dev` (vitest.node.config.ts): native client libraries.
      exclude: [...configDefaults.exclude, "test/node/**"],
      // Request logs of passing tests are noise; failing tests still show theirs.
      silent: "passed-only" as const,
      // Presence is coalesced to one frame a second: tests that follow several changes wait for several flushes.
      testTimeout: 15_000,
    },
  };
});
