// `npm run lint:openapi`: lints the OpenAPI document the Worker actually serves (built by the app at
// runtime, read from a throwaway `wrangler dev` by scripts/served-openapi.mjs): saves it to a
// temporary file and runs `redocly lint` (rules in redocly.yaml) on the file.
// Exits non-zero on any lint error or when the document cannot be produced; warnings are printed
// but allowed. No network is needed. Arguments go to redocly (`npm run lint:openapi -- --format=stylish`);
// OPENAPI_URL=http://127.0.0.1:8787 lints what a running server serves instead.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetchServedDocument, ROOT } from "./served-openapi.mjs";

const REDOCLY = join(ROOT, "node_modules/@redocly/cli/bin/cli.js");
const ENV = { ...process.env, CI: "1", REDOCLY_TELEMETRY: "off", NO_COLOR: "1" };

const workDir = mkdtempSync(join(tmpdir(), "openapi-lint-"));
let status = 1;
try {
  const doc = await fetchServedDocument();
  const docFile = join(workDir, "openapi.json");
  // Pretty-printed, so the lines and columns in lint messages point somewhere readable.
  writeFileSync(docFile, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`Linting /openapi.json (${Object.keys(doc.paths ?? {}).length} paths) with redocly.yaml`);
  const lint = spawnSync(process.execPath, [REDOCLY, "lint", docFile, "--config", join(ROOT, "redocly.yaml"), ...process.argv.slice(2)], {
    cwd: ROOT,
    env: ENV,
    stdio: "inherit",
  });
  status = lint.status ?? 1;
} catch (err) {
  console.error(`lint:openapi: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(status);
