import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** Calls: the TURN secret the tests run with (vitest.config.ts). */
      TURN_SECRET: string;
      FUZZ_SEED: string;
      FUZZ_RUNS: string;
    }
  }
}
