// The room against the platform's floor (issue 9): the bare Durable Object of bench/bare
// (SQLite insert + broadcast + ack, nothing else) and the room, 100 sockets each, driven with the
// same frames from the same client, in alternating rounds so all meet the same machine load. The
// bare object runs twice: in its own tiny Worker (the platform's floor) and embedded in the app's
// Worker (same isolate and heap as the rooms: what is left is what the room itself does).
// - Fresh processes: the room and the embedded bare object run on an app server started for this
//   part (fresh local state, 100 accounts registered, nothing else run there), as the bare object's
//   own Worker is. The rooms area's own server has by then run the fan-out (1,000 sockets, the
//   ramps): its room is measured too, as a reference row, not against the target.
// - Paced: 20 msg/s for 10 s per round, 5 rounds each; p50/p99 over every delivery of all rounds.
//   Each round starts warm: one unmeasured message first (its slowest delivery is reported on its
//   own as the first message after the pause), since the targets share one isolate and take turns.
// - Burst: 1,000 msg/s offered for 2 s per round (more than either can take), 4 rounds each;
//   deliveries/s is what each actually delivered, the median of the rounds: on 2 cores shared
//   with the load generator the rounds of one target ranged over 21,000–47,000/s in one run.
// - Closes: 1,000 sockets closed at once, to the bare object and to the room, also outside
//   `wrangler dev` (plain-workerd.mjs, miniflare-app.mjs), which loses closes on the way.
import { fanoutSession } from "./fanout.mjs";
import { int, median, ms, stats, table } from "./lib.mjs";
import { startMiniflareApp } from "./miniflare-app.mjs";
import { registerUsers } from "./room-seed.mjs";
import { startServer } from "./server.mjs";

const N = 100;
const PACED = { n: N, rate: 20, seconds: 10, kind: "steady", keepSamples: true };
/** One message (20 msg/s for 50 ms) before each paced round. */
const WARM = { n: N, rate: 20, seconds: 0.05, kind: "steady" };
const BURST = { n: N, rate: 1000, seconds: 2, kind: "burst" };
const PACED_ROUNDS = Number(process.env.PACED_ROUNDS ?? 5);
const BURST_ROUNDS = Number(process.env.BURST_ROUNDS ?? 4);
export const BURST_RATIO_TARGET = 0.9;
export const P99_RATIO_TARGET = 1.3;

const sleep = (t) => new Promise((r) => setTimeout(r, t));

/**
 * The room and the bare object in an app server started for this (fresh state, `vars`, the bare
 * object embedded, N accounts registered) against `bareServer`'s bare object, alternating; with
 * `reference` ({ server, users }: the rooms area's server after its fan-out) its room too. The
 * result has one entry per target and `reloads`, how often that app server reloaded its Worker.
 */
export async function runFloorOnFreshApp(vars, bareServer, reference, log) {
  const app = await startServer("rooms-floor", { vars, port: 8786, embedBare: true, traceGc: true });
  try {
    const { users } = await registerUsers(app.baseUrl, N, () => {});
    const result = await runFloor(
      {
        room: () => fanoutSession(app, users, log),
        sameWorker: () => fanoutSession(app, users, log, { bare: true }),
        ownWorker: () => fanoutSession(bareServer, users, log, { bare: true }),
        afterFanout: () => fanoutSession(reference.server, reference.users.slice(0, N), log),
      },
      { room: app, sameWorker: app, ownWorker: bareServer, afterFanout: reference.server },
    );
    // wrangler dev reloading the snapshot mid-run restarts the objects under measurement.
    result.reloads = app.reloads();
    return result;
  } finally {
    await app.stop();
  }
}

/**
 * Each of `sessions` (name → opens a fan-out session), paced and burst rounds taken in turn. Where
 * a target's server (`servers`) traces its GC, `majorGcs` lists the major collections its process
 * ran during that target's paced rounds (null where it does not).
 */
async function runFloor(sessions, servers) {
  const targets = {};
  const result = {};
  try {
    for (const [name, open] of Object.entries(sessions)) {
      const t = await open();
      targets[name] = t;
      await t.openUpTo(N);
      result[name] = { paced: [], burst: [], firstAfterPause: [], pacedWindows: [] };
    }
    let index = 0;
    for (let round = 0; round < PACED_ROUNDS; round++) {
      for (const [name, t] of Object.entries(targets)) {
        await sleep(1000);
        result[name].firstAfterPause.push((await t.runStep(WARM, index++)).lastRecipient.p50);
        const from = Date.now();
        result[name].paced.push(await t.runStep(PACED, index++));
        result[name].pacedWindows.push([from, Date.now()]);
      }
    }
    for (let round = 0; round < BURST_ROUNDS; round++) {
      for (const [name, t] of Object.entries(targets)) {
        // Senders' budgets refill (60 burst, 1/s): a burst round uses up to 20 per member.
        await sleep(20_000);
        result[name].burst.push(await t.runStep(BURST, index++));
      }
    }
  } finally {
    for (const t of Object.values(targets)) await t.close();
  }
  for (const [name, r] of Object.entries(result)) {
    const gcs = servers[name]?.majorGcs;
    r.majorGcs = gcs ? r.pacedWindows.flatMap(([from, to]) => gcs(from, to)) : null;
    r.pacedLatency = stats(r.paced.flatMap((s) => s.samples));
    r.burstDeliveries = median(r.burst.map((s) => s.deliveriesPerSecond));
    r.lost = [...r.paced, ...r.burst].reduce((a, s) => a + s.lost + s.unanswered, 0);
    r.reordered = [...r.paced, ...r.burst].reduce((a, s) => a + s.reordered, 0);
  }
  return result;
}

/**
 * 1,000 simultaneous closes: 1,000 sockets to the room (a group of `users`) or to the bare object
 * (`bare`), a few seconds after opening, all closed at once like the fan-out's (bench/sockets.mjs
 * closeAll): how many get the server's Close frame within 1 s, and when the last of them did.
 */
export async function simultaneousCloses(server, users, log, { bare = false } = {}) {
  const session = await fanoutSession(server, users.slice(0, 1000), log, { bare });
  await session.openUpTo(Math.min(1000, users.length));
  await sleep(3000);
  await session.close();
  return session.totals.close;
}

/**
 * The room's 1,000 simultaneous closes on Miniflare alone (miniflare-app.mjs: the same bundle,
 * bindings and runtime, without `wrangler dev`'s proxy in front), 1,000 accounts registered there.
 */
export async function roomClosesAlone(vars, log) {
  const app = await startMiniflareApp(vars);
  try {
    log("  the room on Miniflare alone: registering 1,000 accounts …");
    const { users } = await registerUsers(app.baseUrl, 1000, () => {});
    return await simultaneousCloses(app, users, log);
  } finally {
    await app.stop();
  }
}

/** The "### Against the bare object" part of the Rooms section. */
export function floorSection({ room, sameWorker, ownWorker, afterFanout }) {
  const mark = (ok) => (ok ? "PASS" : "**FAIL**");
  const row = (name, r) => [
    name,
    ms(r.pacedLatency.p50),
    ms(r.pacedLatency.p99),
    `${int(r.burstDeliveries)} (${r.burst.map((s) => int(s.deliveriesPerSecond)).join(", ")})`,
    r.burst.map((s) => `${ms(s.latency.p50)} / ${ms(s.latency.p99)}`).join(", "),
    `${ms(stats(r.firstAfterPause).p50)} (${r.firstAfterPause.map(ms).join(", ")})`,
    r.lost,
    r.reordered,
    gcCell(r.majorGcs),
  ];
  const ratios = (bare) => ({ burst: room.burstDeliveries / bare.burstDeliveries, p99: room.pacedLatency.p99 / bare.pacedLatency.p99 });
  const same = ratios(sameWorker);
  const own = ratios(ownWorker);
  return [
    "### Against the bare object",
    "",
    `${N} sockets each. Paced: 20 msg/s × 10 s, ${PACED_ROUNDS} alternating rounds (latency over every delivery), each after one ` +
      "unmeasured message: the four share the machine and take turns, so a round's first message comes after " +
      "30 s or more in which the target's code did not run; its last delivery is shown on its own (median and every round). Burst: " +
      `${BURST.rate} msg/s offered × ${BURST.seconds} s, ${BURST_ROUNDS} alternating rounds (deliveries/s actually made; the ratio is of the medians, as one target's rounds ` +
      "can differ by 2× or more on this machine). The bare object " +
      "(bench/bare/worker.ts) inserts each message into SQLite and broadcasts it; it runs in its own Worker and, for the bench only, " +
      "embedded in a snapshot of the app's Worker (same isolate and heap as the rooms). The room and that embedded object run on an app server " +
      `started for this part (fresh local state, ${N} accounts registered, nothing else run there), as the bare object's own Worker is: each ` +
      "judged target meets a fresh process. The last row is the room on this area's own server after the fan-out above (1,000 sockets, the ramps), " +
      "in the same rounds: a reference for a process that has carried load, not judged against a bare object that has not. " +
      "The last column counts the major (mark-compact) collections V8 reported during the target's paced rounds (`--trace-gc-nvp` in workerd, " +
      "each line stamped as it arrived; every isolate of the process counts, as they share its thread): each stops every delivery of that process " +
      "for its pause. Beside them: the mean time of a pause spent marking live objects (on the main thread, unless V8 had marked incrementally " +
      "alongside the code before it), and the most objects a collection left in its isolate's heap (MiB): marking takes time by the live " +
      "objects, so the same number of collections stops a big isolate longer.",
    "",
    table(
      [
        "target",
        "paced p50 ms",
        "paced p99 ms",
        "burst deliveries/s: median (every round)",
        "burst p50 / p99 ms per round",
        "first message after the pause, last delivery ms",
        "lost",
        "reordered",
        "major GCs in its process during the paced rounds (pause ms)",
      ],
      [
        row("room", room),
        row("bare object, in the app's Worker", sameWorker),
        row("bare object, own Worker", ownWorker),
        row("room, in the server that ran the fan-out (reference)", afterFanout),
      ],
    ),
    "",
    table(
      ["Target", "vs bare in the app's Worker", "vs bare in its own Worker"],
      [
        [
          `Burst deliveries/s ≥ ${BURST_RATIO_TARGET}× bare`,
          `${same.burst.toFixed(2)}× ${mark(same.burst >= BURST_RATIO_TARGET)}`,
          `${own.burst.toFixed(2)}× ${mark(own.burst >= BURST_RATIO_TARGET)}`,
        ],
        [
          `Paced p99 ≤ ${P99_RATIO_TARGET}× bare`,
          `${same.p99.toFixed(2)}× ${mark(same.p99 <= P99_RATIO_TARGET)}`,
          `${own.p99.toFixed(2)}× ${mark(own.p99 <= P99_RATIO_TARGET)}`,
        ],
        [
          "0 lost, 0 reordered (room)",
          `${room.lost} lost, ${room.reordered} reordered ${mark(room.lost === 0 && room.reordered === 0)}`,
          "",
        ],
      ],
    ),
  ].join("\n");
}

/**
 * "count (pause ms, …)" of a target's major collections, with the mean marking part of a pause,
 * how many marked alongside the code, and the largest heap left after one; "–" where its process
 * was not traced.
 */
function gcCell(gcs) {
  if (!gcs) return "–";
  if (gcs.length === 0) return "0";
  const marking = gcs.reduce((a, gc) => a + gc.markMs, 0) / gcs.length;
  const incremental = gcs.filter((gc) => gc.incremental).length;
  const live = Math.max(...gcs.map((gc) => gc.liveBytes)) / 2 ** 20;
  return `${gcs.length} (${gcs.map((gc) => ms(gc.pauseMs)).join(", ")}); marking ${ms(marking)} ms of a pause on average, ${incremental} incremental; ${live.toFixed(1)} MiB of objects left`;
}

const outOf = (c) => `${c.clean} of ${c.clean + c.forced}`;

/** The closes row: judged on the room on Miniflare alone when that ran, with every other figure beside it. */
export function closesCell({ close, aloneClose, bareClose, plainClose }) {
  const others = [
    `the room under wrangler dev: ${outOf(close)}`,
    bareClose && `the bare object under wrangler dev: ${outOf(bareClose)}`,
    plainClose && `on workerd alone: ${outOf(plainClose)}`,
  ].filter(Boolean);
  if (!aloneClose) return `${outOf(close)} under wrangler dev`;
  return `${outOf(aloneClose)} on Miniflare alone, the last after ${Math.round(aloneClose.lastMs)} ms (same run: ${others.join("; ")})`;
}

/** The paragraph under the fan-out table: every closes figure of the run and what they show. */
export function closesParagraph({ close, aloneClose, bareClose, plainClose }) {
  const parts = [
    `On close, ${outOf(close)} sockets got the room's Close frame within 1 s under \`wrangler dev\`; the rest had to be dropped.`,
  ];
  if (aloneClose)
    parts.push(
      `The same room on Miniflare alone (bench/miniflare-app.mjs: the bundle, bindings, local D1 and workerd of \`wrangler dev\`, without its proxy Worker in front) ` +
        `answered ${outOf(aloneClose)} within 1 s, the last after ${Math.round(aloneClose.lastMs)} ms: the target is judged there.`,
    );
  if (bareClose && plainClose)
    parts.push(
      `The bare object, which answers a Close in \`webSocketClose\` and does nothing else, got ${outOf(bareClose)} answered under \`wrangler dev\` ` +
        `and ${outOf(plainClose)} on workerd alone (bench/plain-workerd.mjs): what misses the second under \`wrangler dev\` is lost between the object and the client.`,
    );
  return parts.join(" ");
}
