// Rooms benchmarks (issue 5): fan-out latency and throughput over the room WebSocket
// (fanout.mjs), history page latency in a 1,000- vs a 100,000-message room (history.mjs, seeded
// and cached by room-seed.mjs), and D1 rows read/written on the chat hot paths (rows-read.mjs).
// Returns the "## Rooms" section of RESULTS.md with every target marked PASS or FAIL.
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { DELIVERIES_TARGET, P99_TARGET_MS, pct, QUIET_FOR_MS, QUIET_MAX_MS, RAMP_P99_LIMIT_MS, runFanout } from "./fanout.mjs";
import { closesCell, closesParagraph, floorSection, roomClosesAlone, runFloorOnFreshApp, simultaneousCloses } from "./floor.mjs";
import { RATIO_TARGET, runHistory } from "./history.mjs";
import { int, ms, table } from "./lib.mjs";
import { startPlainBare } from "./plain-workerd.mjs";
import { ensureSeed, freshTokens } from "./room-seed.mjs";
import { runRowsRead } from "./rows-read.mjs";
import { ROOT, startServer } from "./server.mjs";

/** Presence frames the fan-out run received before presence was coalesced (bench/RESULTS.md, issue 5's run). */
const PRESENCE_BEFORE = 529_752;

const STATE = "rooms";
/** A step's server CPU (share of one core) from which a step past the p99 limit counts as queued, whatever its median. */
const SERVER_BUSY = 0.9;
/** A step past the p99 limit whose median stays under this stalled on a few messages rather than queued. */
const STALL_MEDIAN_MAX_MS = 50;
const mark = (ok) => (ok ? "PASS" : "**FAIL**");

/**
 * The members' hubs are told of a chat's activity up to this many members (HUB_FANOUT_MAX_MEMBERS,
 * 1,000 by default). Under `wrangler dev` every hub runs on the room's workerd thread, so each
 * flush's chat.activity to the 100 or 1,000 members' hubs would be timed as the room's (and the
 * embedded bare object's) latency, which production runs on other machines. The rooms here tell no
 * hubs (ROOMS_HUB_FANOUT=1 keeps the default); the hub area measures that fan-out.
 */
const ROOMS_HUB_FANOUT_MAX_MEMBERS = "99";

/** Development argon2 (wrangler.toml vars), state kept while it holds a finished seed (BENCH_FRESH=1 starts over). */
export function roomsServerOptions() {
  const seeded = existsSync(join(ROOT, "bench/.state", STATE, "seed.json"));
  const vars = process.env.ROOMS_HUB_FANOUT ? {} : { HUB_FANOUT_MAX_MEMBERS: ROOMS_HUB_FANOUT_MAX_MEMBERS };
  return { name: STATE, vars, keepState: seeded && !process.env.BENCH_FRESH, port: 8798 };
}

export async function runRoomsBench(server, log = console.log) {
  const warnings = [];
  const seed = await ensureSeed(server.baseUrl, server.stateDir, log);

  log("rooms: fan-out …");
  const fan = await runFanout(server, seed.users, log);

  log("rooms: against the bare object …");
  const bareServer = await startServer("rooms-bare", { worker: "bare", vars: {}, port: 8795, traceGc: true });
  let floor;
  try {
    await freshTokens(server.baseUrl, seed.users);
    floor = await runFloorOnFreshApp(roomsServerOptions().vars, bareServer, { server, users: seed.users }, log);
    if (floor.reloads) warnings.push(`The floor's app server reloaded its Worker ${floor.reloads} time(s): rerun for clean numbers.`);
    fan.totals.bareClose = await simultaneousCloses(bareServer, seed.users, log, { bare: true });
  } finally {
    await bareServer.stop();
  }
  // The same object and closes on workerd without wrangler dev's wiring (see plain-workerd.mjs).
  const plain = await startPlainBare();
  try {
    fan.totals.plainClose = await simultaneousCloses(plain, seed.users, log, { bare: true });
  } finally {
    await plain.stop();
  }
  // The room's own closes without wrangler dev's proxy in front (see miniflare-app.mjs).
  try {
    fan.totals.aloneClose = await roomClosesAlone(roomsServerOptions().vars, log);
  } catch (err) {
    warnings.push(`The room on Miniflare alone did not run: ${err.message.split("\n")[0]}`);
  }
  for (const o of fan.openings)
    if (o.failed) warnings.push(`Sockets ${o.from + 1}–${o.n}: ${o.failed} did not open (first: ${o.firstError}).`);

  log("rooms: history pages …");
  await freshTokens(server.baseUrl, seed.users);
  const history = await runHistory(server.baseUrl, seed.users[1].token, seed.rooms, log);

  let rows = null;
  try {
    rows = await runRowsRead(log);
  } catch (err) {
    warnings.push(`D1 rows-read run failed: ${err.message.split("\n")[0]}`);
    log(err.message);
  }

  const markdown = [
    targetsSection(fan, history, rows),
    fanoutSection(fan),
    floorSection(floor),
    historySection(history, seed),
    rows ? rowsSection(rows) : "### D1 rows read\n\nThe vitest run failed; see the warnings.",
  ].join("\n\n");
  return { markdown, warnings };
}

const steadyAt = (fan, n, rate) => fan.steps.find((s) => s.kind === "steady" && s.n === n && s.rate === rate);

function targetsSection(fan, history, rows) {
  const at100 = steadyAt(fan, 100, 20);
  const ok = (s) => s.latency.p99 <= RAMP_P99_LIMIT_MS && s.lost === 0 && s.unanswered === 0;
  const best = fan.steps.filter(ok).sort((a, b) => b.deliveriesPerSecond - a.deliveriesPerSecond)[0];
  const lost = fan.steps.reduce((a, s) => a + s.lost + s.unanswered, 0);
  const reordered = fan.totals.reordered;
  const limited = fan.steps.reduce((a, s) => a + (s.refused.rate_limited ?? 0), 0);
  const refusedOther = fan.steps.reduce(
    (a, s) =>
      a +
      Object.entries(s.refused)
        .filter(([k]) => k !== "rate_limited")
        .reduce((x, [, v]) => x + v, 0),
    0,
  );
  const middle = history.rows[0];
  const r = rows?.rows;
  const lines = [
    [
      `Fan-out p99 ≤ ${P99_TARGET_MS} ms at N=100, 20 msg/s`,
      at100 ? `p99 ${ms(at100.latency.p99)} ms (p50 ${ms(at100.latency.p50)})` : "not run",
      mark(at100 && at100.latency.p99 <= P99_TARGET_MS),
    ],
    [
      `≥ ${int(DELIVERIES_TARGET)} deliveries/s before p99 passes ${RAMP_P99_LIMIT_MS} ms`,
      best
        ? `${int(best.deliveriesPerSecond)}/s at N=${best.n}, ${best.rate} msg/s (p99 ${ms(best.latency.p99)} ms)`
        : "none under the limit",
      mark(best && best.deliveriesPerSecond >= DELIVERIES_TARGET),
    ],
    ["Zero lost deliveries (all fan-out steps)", `${lost} lost`, mark(lost === 0)],
    [
      "Opening 1,000 sockets: presence frames ≤ 10 % of 529,752 (52,975)",
      `${int(fan.totals.byType.presence ?? 0)} presence frames`,
      mark((fan.totals.byType.presence ?? 0) <= PRESENCE_BEFORE / 10),
    ],
    [
      "1,000 simultaneous closes: every socket gets the server's Close frame within 1 s",
      closesCell(fan.totals),
      mark((fan.totals.aloneClose ?? fan.totals.close).forced === 0),
    ],
    [
      "Zero reordered deliveries (all fan-out steps)",
      `${reordered} reordered, ${fan.totals.duplicates} duplicates`,
      mark(reordered === 0 && fan.totals.duplicates === 0),
    ],
    [
      "No `rate_limited` refusals (senders stay in budget)",
      `${limited} rate_limited${refusedOther ? `, ${refusedOther} other refusals` : ""}`,
      mark(limited === 0 && refusedOther === 0),
    ],
    [
      `History p50 ratio, 100,000 vs 1,000 messages ≤ ${RATIO_TARGET} (${middle.label})`,
      `${middle.ratio.toFixed(2)} (${ms(middle.big.p50)} vs ${ms(middle.small.p50)} ms)`,
      mark(middle.ratio <= RATIO_TARGET),
    ],
  ];
  if (r?.membership && r.send && r.flush) {
    lines.push(
      ["Membership check reads 1 D1 row", `${r.membership.rowsRead}`, mark(r.membership.rowsRead === 1)],
      [
        "A message send writes 0 D1 rows synchronously",
        `${r.send.rowsWritten} (max over ${r.send.sends} sends)`,
        mark(r.send.rowsWritten === 0),
      ],
      [
        "One coalesced summary UPDATE per flush (≤ 1/s per chat)",
        `${r.flush.tables.chats ?? 0} \`chats\` row per flush (rows in all: ${r.flush.rowsWritten} after ${r.flush.sends} sends by 1 member, ` +
          `${r.flush_many?.rowsWritten ?? "?"} after ${r.flush_many?.sends ?? "?"} sends by as many)`,
        mark(r.flush.ran && r.flush.tables.chats === 1 && (!r.flush_many || r.flush_many.tables.chats === 1)),
      ],
    );
  }
  return ["### Targets", "", table(["Target", "Measured", "Result"], lines)].join("\n");
}

function fanoutSection(fan) {
  const t = fan.totals.byType;
  const receiptsPerMessage = t["message.new"] ? (t.receipt ?? 0) / t["message.new"] : 0;
  const rows = fan.steps.map((s) => [
    s.open === s.n ? s.n : `${s.n} (**${s.open} open**)`,
    s.kind === "ramp" ? `${s.rate} (ramp)` : s.rate,
    `${s.seconds}${s.note ? ` (${s.note})` : ""}`,
    s.skipped ? `${s.sent} (+${s.skipped} unsent: no budget)` : s.sent,
    int(s.delivered),
    ms(s.latency.p50),
    ms(s.latency.p99),
    `${ms(s.lastRecipient.p50)} / ${ms(s.lastRecipient.p99)}`,
    ms(s.ack.p50),
    int(s.deliveriesPerSecond),
    int(s.framesPerSecond),
    s.lost + s.unanswered,
    s.reordered,
    Object.entries(s.refused)
      .map(([k, v]) => `${k}×${v}`)
      .join(", ") || 0,
    `${pct(s.clientCpu)} / ${pct(s.serverCpu)}`,
  ]);
  const saturated = fan.steps.filter((s) => s.latency.p99 > RAMP_P99_LIMIT_MS);
  /**
   * Past the limit with the median fast and the server mostly idle: a stall of a few messages.
   * Otherwise (the median waited too, or the server was busy) deliveries queued behind the room.
   */
  const isStall = (s) => (s.serverCpu ?? 0) < SERVER_BUSY && s.latency.p50 <= STALL_MEDIAN_MAX_MS;
  const queued = saturated.filter((s) => !isStall(s));
  const stalled = saturated.filter(isStall);
  const opened = fan.openings
    .map((o) => `${o.from + 1}–${o.n} in ${o.seconds.toFixed(1)} s${o.failed ? ` (**${o.failed} failed**, first: ${o.firstError})` : ""}`)
    .join(", ");
  return [
    "### Fan-out: one group chat, N sockets (one per member)",
    "",
    `One group with 1,000 members (fresh each run); socket i belongs to member i and every open socket is a receiver. Members send`,
    "`message.send` frames over their own sockets, round-robin over the open sockets whose 60-burst/1-per-second budget allows it;",
    "latency is per delivery, send → `message.new` at each socket (the sender's own included), all in one Node process and clock.",
    `Ramps stop at the first step with p99 > ${RAMP_P99_LIMIT_MS} ms or a loss. CPU: this Node process / wrangler+workerd, share of one core.`,
    `The steps start once the server is quiet after the group's creation (\`/health\` within ${QUIET_MAX_MS} ms for ${QUIET_FOR_MS / 1000} s in a row): ` +
      `${fan.settle.quiet ? "" : "**not quiet within a minute**, the steps ran anyway; "}` +
      `${(fan.settle.waitedMs / 1000).toFixed(1)} s after it here, the slowest \`/health\` meanwhile ${ms(fan.settle.longestMs)} ms ` +
      "(the new chat is announced to each of its 1,000 members' hubs, on the same workerd thread under `wrangler dev`; " +
      "without this wait the first steps' p99 caught the pauses that follow, up to about 0.4 s).",
    process.env.ROOMS_HUB_FANOUT
      ? "The members' hubs are told of each flush's activity (HUB_FANOUT_MAX_MEMBERS at its default, 1,000), on the same workerd thread as the rooms."
      : `The members' hubs are not told of the activity, here and against the bare object (\`HUB_FANOUT_MAX_MEMBERS=${ROOMS_HUB_FANOUT_MAX_MEMBERS}\`): under \`wrangler dev\` the hubs' share of every flush runs on the rooms' thread (\`ROOMS_HUB_FANOUT=1\` includes it; the hub area measures that fan-out).`,
    "",
    table(
      [
        "N",
        "msg/s",
        "s",
        "Sent",
        "Deliveries",
        "p50 ms",
        "p99 ms",
        "Last recipient p50 / p99 ms",
        "Ack p50 ms",
        "Deliveries/s",
        "Frames/s in",
        "Lost",
        "Reordered",
        "Refused",
        "CPU client / server",
      ],
      rows,
    ),
    "",
    `Sockets opened (16 at a time, each waits for its \`hello\`): ${opened}. Frames received in all: ${int(fan.totals.frames)} ` +
      `(${Object.entries(t)
        .map(([k, v]) => `${k} ${int(v)}`)
        .join(", ")}); \`receipt\` frames per message per socket: ${receiptsPerMessage.toFixed(2)} ` +
      "(sending moves the sender's read position without a broadcast receipt; clients infer it from message.new).",
    `Presence is coalesced (at most one frame a second per socket, listing every change of that second): ${int(t.presence ?? 0)} presence frames ` +
      `in all here, against 529,752 when every join broadcast its own frame (target ≤ 10 %: ${pct((t.presence ?? 0) / PRESENCE_BEFORE)}).`,
    closesParagraph(fan.totals),
    ...(queued.length
      ? [
          `${steps(queued)} passed ${RAMP_P99_LIMIT_MS} ms p99 with deliveries queueing (median ${ms(Math.min(...queued.map((s) => s.latency.p50)))} ms or more): ` +
            `wrangler+workerd used up to ${pct(Math.max(...queued.map((s) => s.serverCpu ?? 0)))} and this Node process up to ` +
            `${pct(Math.max(...queued.map((s) => s.clientCpu)))} of one core, on ${cpus().length} cores in all. The room's one workerd thread, ` +
            "sharing the machine with the load generator, is the limit there.",
        ]
      : []),
    ...(stalled.length
      ? [
          `${steps(stalled)} passed ${RAMP_P99_LIMIT_MS} ms p99 with ${stalled.length > 1 ? "their medians" : "its median"} under ${STALL_MEDIAN_MAX_MS} ms and ` +
            `wrangler+workerd at no more than ${pct(Math.max(...stalled.map((s) => s.serverCpu ?? 0)))} of one core: a stall of a few messages, not the machine's limit.`,
        ]
      : []),
  ].join("\n");
}

/** "N=100 at 400 msg/s (p99 335 ms), …" */
const steps = (list) => list.map((s) => `N=${s.n} at ${s.rate} msg/s (p99 ${ms(s.latency.p99)} ms)`).join(", ");

function historySection(history, seed) {
  const rows = history.rows.map((r) => [
    r.label,
    `${ms(r.small.p50)} / ${ms(r.small.p99)}`,
    `${ms(r.big.p50)} / ${ms(r.big.p99)}`,
    r.ratio.toFixed(2),
  ]);
  const fill = seed.fill?.big;
  const seeded = seed.reused
    ? `Seeded state reused from bench/.state/rooms (seeding took ${seed.seedSeconds.toFixed(0)} s on ${seed.seededAt} UTC; \`BENCH_FRESH=1\` seeds again).`
    : `Seeded in this run: ${seed.seedSeconds.toFixed(0)} s in all${fill ? `, of which ${fill.seconds.toFixed(0)} s for the 100,000 messages (${(fill.sent / fill.seconds).toFixed(0)} msg/s over the socket, 6 member bursts at a time)` : ""}.`;
  return [
    "### History: a 1,000- vs a 100,000-message room",
    "",
    `\`GET /api/v1/chats/{id}/messages?before=…&limit=50\` end to end (auth, D1 membership check, room RPC), ${history.rows[0].small.n} requests per room and row,`,
    `one at a time, alternating between the rooms (after 20 warm-ups each). Rooms: ${history.rooms.map((r) => `${r.name} (last seq ${int(r.lastSeq)})`).join(", ")}; both have 1,000 members.`,
    seeded,
    "",
    table(["Page", "1,000 messages: p50 / p99 ms", "100,000 messages: p50 / p99 ms", "p50 ratio"], rows),
  ].join("\n");
}

function rowsSection({ rows: r, seconds, command }) {
  const plan = (x) => (x.plan ? x.plan.join("; ") : "");
  const tables = (x) =>
    Object.entries(x.tables ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
  const measured = (key) => (r[key] ? [[r[key].label, r[key].rowsRead, r[key].rowsWritten, plan(r[key])]] : []);
  const lines = [
    ...[
      "list_10",
      "list_1000",
      "hub_load_10",
      "hub_load_1000",
      "membership",
      "membership_miss",
      "chat_member",
      "story_feed_10",
      "story_feed_500",
    ].flatMap(measured),
    ...(r.send
      ? [
          [
            "message send request, REST (membership check, then room RPC)",
            r.membership?.rowsRead ?? "–",
            `${r.send.rowsWritten} (each of ${r.send.sends} sends)`,
            "diff of every D1 table around the request",
          ],
        ]
      : []),
    ...["flush", "flush_many"]
      .filter((k) => r[k])
      .map((k) => [r[k].label, "–", `${r[k].rowsWritten} (${tables(r[k])})`, "diff of every D1 table around the room's alarm"]),
    ...["flush_summary", "flush_counter", "flush_read"].flatMap(measured).map((row) => [...row.slice(0, 3), "primary key"]),
  ];
  const notes = [];
  if (r.list_1000 && r.list_10) {
    const [big, small] = [r.list_1000, r.list_10];
    notes.push(
      `The chat list's first page reads ${big.rowsRead} D1 rows for a user in ${big.chats} chats and ${small.rowsRead} for one in ${small.chats} (${(big.rowsRead / small.rowsRead).toFixed(2)}×):`,
      "the page's memberships and chats by id, O(page). Its order comes from the user's hub (src/hubs/chat-order.ts), whose SQLite read",
      `${big.hubRowsRead} and ${small.hubRowsRead} rows for those pages (an index in list order). The hub loads the order from D1 once a day:`,
      `${r.hub_load_1000?.rowsRead ?? "–"} and ${r.hub_load_10?.rowsRead ?? "–"} rows (O(my chats), once), then keeps it with the updates rooms and the Worker publish.`,
    );
  }
  if (r.story_feed_500 && r.story_feed_10) {
    const [big, small] = [r.story_feed_500, r.story_feed_10];
    notes.push(
      "",
      `The story feed's first page reads ${big.rowsRead} rows for a viewer with ${big.contacts} contacts (${big.posters} with a live story) and ${small.rowsRead} for ${small.contacts} contacts (${small.posters}):`,
      "about two rows per contact or followed person (its index entry and one probe of `stories_author_idx`) plus a few primary-key probes per live story",
      "(audience, blocks, viewed); stories of anyone else, and expired ones, are never read. O(my contacts + their live stories), like the chat list.",
    );
  }
  if (r.flush_many?.tables.chat_members) {
    const readRows = r.flush_many.tables.chat_members;
    notes.push(
      "",
      `A flush writes ${r.flush_many.rowsWritten - readRows} rows plus one \`chat_members.read_seq\` row per member who sent since the previous flush (${readRows} for ${r.flush_many.sends} senders)`,
      "(src/rooms/summary.ts copies senders' read positions to D1), so a busy group with many senders costs D1 one row per sender per second,",
      "not one per chat; and every chat's flush also updates the same global `stat_counters` row.",
    );
  }
  return [
    "### D1 rows read and written (inside workerd)",
    "",
    `\`${command}\` (${seconds.toFixed(0)} s; not part of \`npm test\`): users and ${int(r.seed?.chats ?? 0)} group chats made through the Worker, then the`,
    "services' own drizzle builders (`chatPageRowsQuery`, `chatOrderRowsQuery`, `membershipQuery`, `.toSQL()`) run with `env.DB.prepare(sql).bind(…).all()` for `meta`;",
    "writes are counted by diffing every D1 table before and after the request or the room's alarm.",
    "",
    table(["Query / path", "Rows read", "Rows written", "Plan / method"], lines),
    "",
    ...notes,
  ].join("\n");
}
