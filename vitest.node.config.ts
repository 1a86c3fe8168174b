import { defineConfig } from "vitest/config";

// End-to-end tests that run in plain Node against a real `wrangler dev` (bench/server.mjs), for
// clients that cannot run inside workerd: the official libsignal client's native module.
export default defineConfig({
  test: {
    name: "node",
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    // Starting wrangler dev (migrations, first build) takes a while on a small machine.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
