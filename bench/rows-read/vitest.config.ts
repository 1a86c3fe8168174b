// D1 rows read/written by the hot chat queries, measured inside workerd (`meta.rows_read` is only
// visible there). Not part of `npm test`: bench/run.mjs runs it with
// `npx vitest run --config bench/rows-read/vitest.config.ts` and parses the `ROWS {json}` lines.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export default defineConfig(async () => {
  const migrations = await readD1Migrations(resolve(root, "migrations"));
  return {
    root,
    plugins: [
      cloudflareTest({
        wrangler: { configPath: resolve(root, "wrangler.toml") },
        miniflare: {
          bindings: {
            ENVIRONMENT: "development",
            ARGON2_MEMORY_KIB: "64", // hashing is not measured here
            ARGON2_ITERATIONS: "1",
            TEST_MIGRATIONS: migrations,
          },
        },
      }),
    ],
    test: {
      setupFiles: [resolve(root, "test/apply-migrations.ts")],
      include: ["bench/rows-read/**/*.bench-test.ts"],
      testTimeout: 600_000,
      hookTimeout: 600_000,
    },
  };
});
