import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
const swaggerDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

/**
 * The API reference at /docs is Swagger UI served from the Worker's own assets: its bundle and
 * stylesheet are copied from swagger-ui-dist into the build (docs/), next to web/public/docs.html
 * and docs/swagger-init.js, so the page needs no CDN and runs under a CSP without inline scripts.
 */
function swaggerUiAssets(): Plugin {
  return {
    name: "swagger-ui-assets",
    apply: "build",
    generateBundle() {
      for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
        this.emitFile({ type: "asset", fileName: `docs/${file}`, source: readFileSync(join(swaggerDir, file)) });
      }
    },
  };
}

// `npm run build:web` (run by `npm start` and `npm test`) writes dist/web, the Worker's static
// assets (wrangler.toml [assets]). `npm run web:dev` serves the app with hot reload and proxies the
// API to a `wrangler dev` on 127.0.0.1:8787.
export default defineConfig({
  root: here,
  publicDir: join(here, "public"),
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: join(here, "../dist/web"),
    emptyOutDir: true,
    target: "es2022",
    // One small app: no sourcemaps in the deployed assets.
    sourcemap: false,
  },
  plugins: [swaggerUiAssets()],
  server: {
    host: "127.0.0.1",
    proxy: {
      "/api": { target: "http://127.0.0.1:8787", ws: true },
      "/openapi.json": "http://127.0.0.1:8787",
    },
  },
});
