import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}

// tus-js-client's browser build (Blob sources, pluggable HTTP stack) has the package's types.
declare module "tus-js-client/lib.esm/browser/index.js" {
  export * from "tus-js-client";
}
