// The app's isolate (issue 9): what it keeps alive and what its first requests cost. A room's
// Durable Object runs in an isolate of the app's script, beside the Worker's requests, and every
// major garbage collection walks all of that isolate's live objects: what the app keeps alive is
// paid for in the rooms' delivery latency (see the Rooms section's bare object in the app's Worker).
// - Heap: V8 heap snapshots (live objects only) of a fresh `wrangler dev` after /health, after one
//   sign-up (its password check loads the word lists), and after 20 more sign-ups that each list
//   their chats.
// - First requests: on another fresh server, the first and the second request of each route group
//   (src/app/route-groups.ts builds a group's router on its first request in an isolate).
// With BENCH_BEFORE (a git ref) both run against the app at that commit too.
import { heapProbe } from "./heap.mjs";
import { expectStatus, ms, request, table } from "./lib.mjs";
import { startServer } from "./server.mjs";

const PASSWORD = "violet-harbor-73-lantern";
const SIGN_UPS = 20;
/** One cheap request per route group, after an account exists (any answer below 500 counts). */
const FIRST_REQUESTS = [
  ["users", "GET", "/api/v1/users/me"],
  ["chats", "GET", "/api/v1/chats"],
  ["media", "GET", "/api/v1/media/00000000-0000-4000-8000-000000000000"],
  ["stories", "GET", "/api/v1/stories"],
  ["keys", "GET", "/api/v1/keys/count"],
  ["push", "GET", "/api/v1/push/vapid-key"],
];

let accounts = 0;
async function signUp(baseUrl) {
  const username = `iso_${Date.now().toString(36)}_${accounts++}`;
  const res = await request(baseUrl, "POST", "/api/v1/auth/register", { body: { username, password: PASSWORD } });
  return { token: expectStatus(res, 201, `register ${username}`).tokens.accessToken, ms: res.ms };
}

const heapCell = (s) => `${s.objects.toLocaleString("en-US")} objects, ${ms(s.mib)} MiB (+ ${ms(s.backingMiB)} MiB of buffers)`;

/** GET /health until it answers (a heap snapshot's pause can drop the kept-alive connection). */
async function settle(baseUrl) {
  let failure = null;
  for (let attempt = 0; attempt < 6; attempt++) {
    try {
      const res = await fetch(`${baseUrl}/health`);
      await res.text();
      if (res.ok) return;
      failure = new Error(`/health answered ${res.status}`);
    } catch (err) {
      failure = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw failure;
}

/** The heap after each stage, on a fresh server. */
async function heapStages(server, log) {
  const probe = await heapProbe(server.inspectorPort);
  if (!probe) throw new Error("the inspector of wrangler dev did not answer");
  const stages = [];
  const measure = async (stage) => {
    stages.push({ stage, ...(await probe.snapshot()) });
    await settle(server.baseUrl);
    log(`  ${stage}: ${heapCell(stages.at(-1))}`);
  };
  try {
    await settle(server.baseUrl);
    await measure("after /health only");
    await signUp(server.baseUrl);
    await measure("after one sign-up");
    for (let i = 0; i < SIGN_UPS; i++) {
      const { token } = await signUp(server.baseUrl);
      expectStatus(await request(server.baseUrl, "GET", "/api/v1/chats", { token }), 200, "list chats");
    }
    await measure(`after ${SIGN_UPS} more sign-ups, each listing its chats`);
  } finally {
    probe.close();
  }
  return stages;
}

/** First and second request of each group, on a fresh server (the first sign-up builds the auth group). */
async function firstRequests(server, log) {
  await settle(server.baseUrl);
  const first = await signUp(server.baseUrl);
  const second = await signUp(server.baseUrl);
  const rows = [{ group: "auth (a sign-up)", first: first.ms, second: second.ms }];
  for (const [group, method, path] of FIRST_REQUESTS) {
    const times = [];
    for (let i = 0; i < 2; i++) {
      const res = await request(server.baseUrl, method, path, { token: second.token });
      if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}`);
      times.push(res.ms);
    }
    rows.push({ group, first: times[0], second: times[1] });
  }
  log(`  first requests: ${rows.map((r) => `${r.group} ${ms(r.first)}/${ms(r.second)} ms`).join(", ")}`);
  return rows;
}

/** Both measurements for the app as it is (`server`) and, with BENCH_BEFORE, as it was. */
export async function runIsolateBench(server, log = console.log) {
  const ref = process.env.BENCH_BEFORE;
  const apps = [{ label: "this tree", gitRef: null, server }];
  if (ref) apps.push({ label: `\`${ref}\``, gitRef: ref });
  for (const app of apps) {
    log(`isolate: ${app.label}: heap …`);
    const heapServer = app.server ?? (await startServer("isolate-before", { gitRef: app.gitRef, vars: {}, port: 8779 }));
    try {
      app.heap = await heapStages(heapServer, log);
    } finally {
      if (!app.server) await heapServer.stop();
    }
    log(`isolate: ${app.label}: first requests …`);
    const fresh = await startServer("isolate-first", { gitRef: app.gitRef, vars: {}, port: 8778 });
    try {
      app.first = await firstRequests(fresh, log);
    } finally {
      await fresh.stop();
    }
  }
  const heapRows = apps[0].heap.map((s, i) => [s.stage, ...apps.map((a) => heapCell(a.heap[i]))]);
  const firstRows = apps[0].first.map((r, i) => [r.group, ...apps.map((a) => `${ms(a.first[i].first)} / ${ms(a.first[i].second)}`)]);
  const markdown = [
    "### What the isolate keeps alive",
    "",
    "V8 heap snapshots (each collects the garbage first) of a fresh `wrangler dev`, whose one isolate runs the Worker and every Durable Object: " +
      "live objects and their MiB, and apart the bytes of ArrayBuffers and WebAssembly memories (argon2id's grows to its memory cost), which no collection walks. " +
      "A sign-up checks its password against zxcvbn's word lists, loaded on an isolate's first check and kept.",
    "",
    table(["stage", ...apps.map((a) => a.label)], heapRows),
    "",
    "### First request of each route group",
    "",
    "Another fresh server: the first and second request of each group, in ms, one sample each (a group's router is built on its first request " +
      "in an isolate; the first sign-up also loads the word lists and compiles argon2id).",
    "",
    table(["group", ...apps.map((a) => `${a.label}: first / second ms`)], firstRows),
  ].join("\n");
  return { markdown, warnings: [] };
}
