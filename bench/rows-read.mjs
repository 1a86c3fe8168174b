// D1 rows read/written on the chat hot paths: runs bench/rows-read/*.bench-test.ts inside workerd
// (`vitest run --config bench/rows-read/vitest.config.ts`, not part of `npm test`) and collects the
// `ROWS {json}` lines it prints: the chat-list query for a user in 10 and in 1,000 chats, the
// membership check, and the D1 rows a message send and the room's summary flush write.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./server.mjs";

const VITEST = join(ROOT, "node_modules/vitest/vitest.mjs");
const CONFIG = "bench/rows-read/vitest.config.ts";
const TIMEOUT_MS = 10 * 60_000;

/** Resolves to `{ rows: {key: json}, seconds, command }`; throws with the output tail if vitest fails. */
export async function runRowsRead(log) {
  const started = performance.now();
  const command = `npx vitest run --config ${CONFIG}`;
  log(`rows read: ${command} …`);
  const child = spawn(process.execPath, [VITEST, "run", "--config", CONFIG], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", CI: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
  const code = await new Promise((r) => child.once("exit", r));
  clearTimeout(timer);
  const rows = {};
  for (const line of output.split("\n")) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colour codes (ESC [ … m).
    const m = line.replace(/\x1b\[[0-9;]*m/g, "").match(/ROWS (\{.*\})\s*$/);
    if (m) {
      const row = JSON.parse(m[1]);
      rows[row.key] = row;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 || !rows.flush) {
    const tail = output.split("\n").slice(-40).join("\n");
    throw new Error(`${command} exited with ${code} after ${seconds.toFixed(0)} s:\n${tail}`);
  }
  log(`  done in ${seconds.toFixed(0)} s (${Object.keys(rows).length} measurements)`);
  return { rows, seconds, command };
}
