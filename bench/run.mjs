// `npm run bench [-- auth|rooms|reactions|abuse|messaging|media|search|keys|hub|restart|socket-abuse|soak|isolate …]` (or BENCH_ONLY=rooms): runs the benchmark areas, all by default.
// Each area gets its own private `wrangler dev` (see server.mjs) or uses BENCH_URL, prints its
// tables and rewrites its own section of bench/RESULTS.md, leaving the other sections as they are.
// Servers are stopped on success, failure, Ctrl-C and timeout.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { abuseSection, runAbuse } from "./abuse.mjs";
import { runAuthBench } from "./auth.mjs";
import { runHubBench } from "./hub.mjs";
import { runIsolateBench } from "./isolate.mjs";
import { runKeysBench } from "./keys.mjs";
import { writeSection } from "./lib.mjs";
import { runMediaBench } from "./media.mjs";
import { runMessagingBench } from "./messaging.mjs";
import { runReactionsBench } from "./reactions.mjs";
import { restartSection, runRestartBench } from "./restart.mjs";
import { roomsServerOptions, runRoomsBench } from "./rooms.mjs";
import { runSearchBench } from "./search.mjs";
import { PROD_VARS, ROOT, startServer } from "./server.mjs";
import { runSoak, soakSection } from "./soak.mjs";
import { runSocketAbuse, socketAbuseSection } from "./socket-abuse.mjs";

const RESULTS = join(ROOT, "bench/RESULTS.md");

/** The areas, in the order `npm run bench` runs them. `minutes` bounds each area's run. */
const AREAS = {
  auth: {
    title: "Auth",
    minutes: 15,
    server: () => ({ name: "auth", vars: PROD_VARS }),
    target:
      "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, fresh local D1/KV) with `--var ARGON2_MEMORY_KIB:19456 --var ARGON2_ITERATIONS:2`, " +
      "the bench-only Worker of bench/argon2 (argon2id implementations side by side)" +
      (process.env.BENCH_BEFORE ? ` and the app at \`${process.env.BENCH_BEFORE}\` (BENCH_BEFORE) with the same variables` : ""),
    run: async (server) => {
      const hashWorker = await startServer("auth-argon2", { worker: "argon2", vars: {}, port: 8795 });
      const ref = process.env.BENCH_BEFORE;
      const before = ref ? await startServer("auth-before", { gitRef: ref, port: 8796 }) : null;
      try {
        return await runAuthBench(server.baseUrl, { hashUrl: hashWorker.baseUrl, before: before && { baseUrl: before.baseUrl, ref } });
      } finally {
        await before?.stop();
        await hashWorker.stop();
      }
    },
  },
  rooms: {
    title: "Rooms",
    minutes: 45,
    server: roomsServerOptions,
    target:
      "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, local D1/KV/DO state in bench/.state/rooms, kept between runs for the seeded history rooms) " +
      "with the development argon2 cost of wrangler.toml (1024 KiB, t=1): hashing is not what this area measures",
    run: (server) => runRoomsBench(server),
  },
  reactions: {
    title: "Reactions",
    minutes: 15,
    server: () => ({ name: "reactions", vars: {}, port: 8791 }),
    target:
      "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, fresh local D1/KV/DO state, development argon2 cost): " +
      "1,000 accounts registered first (not timed here)",
    run: (server) => runReactionsBench(server),
  },
  abuse: {
    title: "Abuse",
    minutes: 10,
    server: () => ({ name: "abuse", vars: {}, port: 8797 }),
    target:
      "two private `wrangler dev`s on 127.0.0.1: the app (snapshot of src/, fresh local D1/KV/DO state, development argon2 cost) and the bare Durable Object of bench/bare",
    run: async (server) => {
      const bare = await startServer("abuse-bare", { worker: "bare", vars: {}, port: 8794 });
      try {
        return { markdown: abuseSection(await runAbuse(server, bare)), warnings: [] };
      } finally {
        await bare.stop();
      }
    },
  },
  messaging: {
    title: "Messaging",
    minutes: 10,
    server: () => ({ name: "messaging", vars: {}, port: 8790 }),
    target: "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, fresh local D1/KV/DO/R2 state, development argon2 cost)",
    run: (server) => runMessagingBench(server),
  },
  media: {
    title: "Media",
    minutes: 15,
    server: () => ({ name: "media", vars: {}, port: 8793 }),
    target:
      "two private `wrangler dev`s on 127.0.0.1: the app (snapshot of src/, fresh local D1/KV/DO/R2 state, development argon2 cost) " +
      "and the bare Worker of bench/bare (its `/r2/{key}` routes: R2 put and get with nothing else)",
    run: async (server) => {
      const bare = await startServer("media-bare", { worker: "bare", vars: {}, port: 8792 });
      try {
        return await runMediaBench(server, bare);
      } finally {
        await bare.stop();
      }
    },
  },
  keys: {
    title: "Keys",
    minutes: 10,
    server: () => ({ name: "keys", vars: {}, port: 8788 }),
    target: "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, fresh local D1/KV state, development argon2 cost)",
    run: (server) => runKeysBench(server),
  },
  hub: {
    title: "Hub",
    minutes: 12,
    server: () => ({ name: "hub", vars: {}, port: 8785 }),
    target:
      "two private `wrangler dev`s on 127.0.0.1, one after the other: the app (snapshot of src/, fresh local D1/KV/DO state, development " +
      "argon2 cost), and the same with the hub fan-out off (`HUB_FANOUT_MAX_MEMBERS=0`); then bench/rows-read inside workerd",
    run: (server) => runHubBench(server),
  },
  restart: {
    title: "Restart without loss",
    minutes: 12,
    // The eviction phase reloads the Worker on purpose.
    reloadsOnPurpose: true,
    server: () => ({ name: "restart", vars: {}, port: 8783 }),
    target:
      "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, fresh local D1/KV/DO state kept across its own restarts, development argon2 cost)",
    run: async (server) => {
      const result = await runRestartBench(server);
      try {
        return restartSection(result);
      } finally {
        await result.stop();
      }
    },
  },
  "socket-abuse": {
    title: "Socket abuse",
    minutes: 10,
    server: () => ({ name: "socket-abuse", vars: {}, port: 8782 }),
    target: "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, fresh local D1/KV/DO state, development argon2 cost)",
    run: async (server) => socketAbuseSection(await runSocketAbuse(server)),
  },
  soak: {
    title: "Soak",
    minutes: 20,
    server: () => ({ name: "soak", vars: {}, port: 8781 }),
    target: "a private `wrangler dev` on 127.0.0.1 (snapshot of src/, fresh local D1/KV/DO/R2 state, development argon2 cost)",
    run: async (server) => soakSection(await runSoak(server)),
  },
  isolate: {
    title: "Isolate",
    minutes: 8,
    server: () => ({ name: "isolate", vars: {}, port: 8780 }),
    target:
      "private `wrangler dev`s on 127.0.0.1, each fresh (snapshot of src/, fresh local D1/KV/DO state, development argon2 cost)" +
      (process.env.BENCH_BEFORE ? `, and the same for the app at \`${process.env.BENCH_BEFORE}\` (BENCH_BEFORE)` : ""),
    run: (server) => runIsolateBench(server),
  },
  search: {
    title: "Search",
    minutes: 15,
    server: () => ({ name: "search", vars: {}, port: 8789, seedRooms: true }),
    target:
      "a private `wrangler dev` on 127.0.0.1 (snapshot of src/ whose ChatRoom is the seedable subclass of bench/seed/room.ts, " +
      "fresh local D1/KV/DO state, development argon2 cost)",
    run: (server) => runSearchBench(server),
  },
};

if (Number(process.versions.node.split(".")[0]) < 22) {
  console.error(`Node ${process.version}: run this through \`npm run bench\` so the project's Node 22 is used.`);
  process.exit(1);
}

const args = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const only = args.length
  ? args
  : (process.env.BENCH_ONLY ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
const unknown = only.filter((a) => !AREAS[a]);
if (unknown.length) {
  console.error(`bench: unknown area ${unknown.join(", ")}; areas: ${Object.keys(AREAS).join(", ")}`);
  process.exit(2);
}
const selected = only.length ? Object.keys(AREAS).filter((a) => only.includes(a)) : Object.keys(AREAS);

const started = Date.now();
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? "unknown CPU"}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM`;
const command = [
  process.env.BENCH_URL ? `BENCH_URL=${process.env.BENCH_URL} ` : "",
  process.env.BENCH_ONLY ? `BENCH_ONLY=${process.env.BENCH_ONLY} ` : "",
  process.env.BENCH_BEFORE ? `BENCH_BEFORE=${process.env.BENCH_BEFORE} ` : "",
  "npm run bench",
  args.length ? ` -- ${args.join(" ")}` : "",
].join("");

let server;
let exiting = null;
/** Stop the server and exit; the first caller's exit code wins (a signal beats the error it causes). */
const shutdown = (code) =>
  (exiting ??= (async () => {
    await server?.stop();
    process.exit(code);
  })());
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    console.error(`bench: ${sig}, stopping`);
    shutdown(130);
  });
}
const totalMinutes = selected.reduce((sum, a) => sum + AREAS[a].minutes, 0);
setTimeout(() => {
  console.error(`bench: timed out after ${totalMinutes} min`);
  shutdown(1);
}, totalMinutes * 60_000).unref();

/** One area: its server, its benchmarks, its RESULTS.md section. Returns true when it ran cleanly. */
async function runArea(key) {
  const area = AREAS[key];
  const areaStarted = Date.now();
  const loadAtStart = loadavg()[0].toFixed(2);
  console.log(process.env.BENCH_URL ? `bench ${key}: using ${process.env.BENCH_URL}` : `bench ${key}: starting wrangler dev …`);
  const options = area.server();
  server = await startServer(options.name, options);
  console.log(`bench ${key}: server ${server.baseUrl}${server.logFile ? ` (log: ${server.logFile})` : ""}`);
  try {
    const result = await area.run(server);
    if (server.reloads() && !area.reloadsOnPurpose) {
      result.warnings.push(`wrangler dev reloaded the Worker ${server.reloads()} time(s) during the run: rerun for clean numbers.`);
    }
    const date = new Date().toISOString().replace("T", " ").slice(0, 16);
    const target = server.external ? `the server at ${server.baseUrl} (its own configuration)` : area.target;
    const header = [
      `Run ${date} UTC · machine: ${machine} · Node ${process.version} · command: \`${command}\``,
      `against ${target}. The load generator runs on the same machine; its 1-minute load average`,
      `was ${loadAtStart} when the run started (above ~0.5 means other work shared the CPUs: expect noise).`,
      `This section took ${((Date.now() - areaStarted) / 1000).toFixed(0)} s.`,
    ].join("\n");
    const notes = result.warnings.length ? `\n\n**Warnings**\n\n${result.warnings.map((w) => `- ${w}`).join("\n")}` : "";
    const section = `${header}\n\n${result.markdown}${notes}`;
    writeSection(RESULTS, area.title, section);
    if (result.figures) {
      // For `npm run reliability` (scripts/reliability.mjs), which writes RELIABILITY.md from them.
      mkdirSync(join(ROOT, "bench/.state/figures"), { recursive: true });
      const figures = { ...result.figures, warnings: result.warnings, loadAverage: loadAtStart, date };
      writeFileSync(join(ROOT, `bench/.state/figures/${key}.json`), JSON.stringify(figures, null, 2));
    }
    console.log(`\n## ${area.title}\n\n${section}\n`);
    return result.warnings.length === 0;
  } finally {
    await server.stop();
    server = null;
  }
}

let clean = true;
for (const key of selected) {
  try {
    clean = (await runArea(key)) && clean;
  } catch (err) {
    if (exiting) break;
    console.error(`bench ${key} failed: ${err.stack ?? err}`);
    clean = false;
  }
}
if (!exiting) {
  console.log(`bench: ${selected.join(", ")} done; wrote ${RESULTS} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await shutdown(clean ? 0 : 1);
}
