// Fan-out: N = 1, 10, 100, 1000 sockets in one group chat (every member one socket). Members send
// `message.send` frames over their own sockets at a fixed rate, round-robin over the open sockets
// whose send budget (60 burst, then 1/s per member) allows it. Every socket is a receiver, the
// sender's own included. Per delivery: send→receive latency (one Node process, one clock); per
// message: the last recipient's latency; per step: deliveries/s, lost (acked messages some open
// socket never got within the drain timeout), reordered (a socket saw a seq below one it had
// already seen), duplicates, and refusals by code (`rate_limited` should stay 0).
import { ms, stats } from "./lib.mjs";
import { createGroup, freshTokens } from "./room-seed.mjs";
import { closeAll, frameType, numberField, openSocket, SendBudget, socketUrl, stringField } from "./sockets.mjs";

const OPEN_CONCURRENCY = 16;
const DRAIN_MS = 20_000; // after the last send, how long deliveries may still arrive
export const P99_TARGET_MS = 50; // at N=100, 20 msg/s
export const RAMP_P99_LIMIT_MS = 250;
export const DELIVERIES_TARGET = 5000;

/** The plan: steady 20 msg/s rows for each N, and a rising rate at N=100 and N=1000 until p99 > 250 ms. */
const PLAN = [
  { n: 1, rate: 20, seconds: 3, kind: "steady", note: "one member: its 60-message burst" },
  { n: 10, rate: 20, seconds: 10, kind: "steady" },
  { n: 100, rate: 20, seconds: 10, kind: "steady" },
  ...[50, 100, 200, 400].map((rate) => ({ n: 100, rate, seconds: 5, kind: "ramp" })),
  ...[2, 5, 10].map((rate) => ({ n: 1000, rate, seconds: 5, kind: "ramp" })),
  { n: 1000, rate: 20, seconds: 10, kind: "steady" },
];

export const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`);
const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** The steps run against the bare object too: the N=100 rows the room is compared on. */
export const BARE_PLAN = PLAN.filter((p) => p.n === 100);

/**
 * Run `plan` (the whole plan by default) on a fresh group of `users` (1000 members), or with
 * `bare` on a fresh room of the bare Durable Object at `server` (bench/bare: no auth, the same
 * frames); returns `{ chatId, steps, openings, totals }`.
 */
export async function runFanout(server, users, log, { bare = false, plan = PLAN } = {}) {
  const session = await fanoutSession(server, users, log, { bare });
  // A new group's members hear of it after its creation (each member's hub, all on this one
  // workerd thread locally): the steps start once that is over, and how long it took is reported.
  const settle = await untilQuiet(server.baseUrl);
  log(
    `  ${settle.quiet ? "quiet" : "NOT quiet within a minute; running anyway"} after ${(settle.waitedMs / 1000).toFixed(1)} s (longest /health ${ms(settle.longestMs)} ms)`,
  );
  const steps = [];
  const openings = [];
  const stopped = new Set();
  try {
    for (const [i, planned] of plan.entries()) {
      if (planned.n > users.length) continue;
      if (planned.kind === "ramp" && stopped.has(planned.n)) continue;
      if (session.open() < planned.n) openings.push(await session.openUpTo(planned.n));
      await sleep(1000);
      const s = await session.runStep(planned, i);
      steps.push(s);
      if (planned.kind === "ramp" && (s.latency.p99 > RAMP_P99_LIMIT_MS || s.lost > 0 || s.unanswered > 0)) stopped.add(planned.n);
    }
  } finally {
    await session.close();
  }
  return { chatId: session.chatId, steps, openings, totals: session.totals, settle };
}

/** Quiet: every `GET /health` answered within this long for QUIET_FOR_MS in a row. */
export const QUIET_MAX_MS = 50;
/**
 * Long enough to cover when the stall after a group's creation begins: 4–10 s after it in a
 * scratch run. With 3 s, one run found the server quiet at once and its N=1 and N=10 steps, which
 * came next, caught the stall (p99 190 and 193 ms).
 */
export const QUIET_FOR_MS = 10_000;
const QUIET_WAIT_MAX_MS = 60_000;

/**
 * Wait until the server answers `/health` within QUIET_MAX_MS for QUIET_FOR_MS in a row (at most
 * a minute); returns `{ quiet, waitedMs, longestMs }`: whether it got there, when the quiet
 * stretch began (ms after the call) and the slowest answer meanwhile.
 */
export async function untilQuiet(baseUrl) {
  const started = performance.now();
  let quietSince = started;
  let longestMs = 0;
  while (performance.now() - quietSince < QUIET_FOR_MS && performance.now() - started < QUIET_WAIT_MAX_MS) {
    const t = performance.now();
    await fetch(`${baseUrl}/health`).then((res) => res.arrayBuffer());
    const took = performance.now() - t;
    longestMs = Math.max(longestMs, took);
    if (took > QUIET_MAX_MS) quietSince = performance.now();
    await sleep(20);
  }
  return { quiet: performance.now() - quietSince >= QUIET_FOR_MS, waitedMs: quietSince - started, longestMs };
}

/**
 * A group (or a bare room) with sockets that can be opened, driven step by step and closed:
 * `{ chatId, totals, open(), openUpTo(n), runStep(plan, index), close() }`. A step's latency
 * samples stay on it (`samples`) when its plan says `keepSamples`.
 */
export async function fanoutSession(server, users, log, { bare = false } = {}) {
  const baseUrl = server.baseUrl;
  let chatId;
  let urlFor;
  if (bare) {
    chatId = `bare-${Date.now().toString(36)}`;
    urlFor = () => `${baseUrl.replace(/^http/, "ws")}/rooms/${chatId}/ws`;
  } else {
    await freshTokens(baseUrl, users);
    chatId = await createGroup(baseUrl, users[0], users, `fanout ${Date.now().toString(36)}`);
    urlFor = (user) => socketUrl(baseUrl, chatId, user.token);
  }
  log(`  fan-out ${bare ? "bare room" : "group"} ${chatId} with ${users.length} members`);

  const budget = new SendBudget();
  const messages = new Map(); // clientMessageId → { t0, step, count, last, acked, refused }
  const sockets = []; // { ws, user, maxSeq }
  const totals = { frames: 0, byType: {}, reordered: 0, duplicates: 0 };
  let step = null; // the step being measured

  const onFrame = (rx) => (text, at) => {
    totals.frames++;
    const type = frameType(text);
    totals.byType[type] = (totals.byType[type] ?? 0) + 1;
    if (type === "message.new") {
      const seq = numberField(text, "seq");
      if (seq < rx.maxSeq) {
        totals.reordered++;
        if (step) step.reordered++;
      } else if (seq === rx.maxSeq) totals.duplicates++;
      else rx.maxSeq = seq;
      const m = messages.get(stringField(text, "clientMessageId"));
      if (!m) return; // system messages
      m.count++;
      if (at > m.last) m.last = at;
      m.step.latencies.push(at - m.t0);
      m.step.delivered++;
      if (at > m.step.lastAt) m.step.lastAt = at;
    } else if (type === "ack" || type === "error") {
      const m = messages.get(stringField(text, "id"));
      if (!m) return;
      if (type === "ack") {
        m.acked = true;
        m.step.ackLatencies.push(at - m.t0);
      } else {
        const code = JSON.parse(text).code;
        m.refused = code;
        m.step.refused[code] = (m.step.refused[code] ?? 0) + 1;
      }
    }
  };

  /** Open sockets until `n` are open, OPEN_CONCURRENCY at a time. */
  const openUpTo = async (n) => {
    const started = performance.now();
    const from = sockets.length;
    let next = from;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const rx = { user: users[i], maxSeq: 0 };
        try {
          const { ws } = await openSocket(urlFor(users[i]), onFrame(rx));
          rx.ws = ws;
          sockets[i] = rx;
        } catch (err) {
          sockets[i] = null; // reported, and the steps run with the sockets that did open
          failures.push(`socket ${i + 1}: ${err.message}`);
        }
      }
    };
    const failures = [];
    await Promise.all(Array.from({ length: OPEN_CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;
    log(
      `  opened sockets ${from + 1}–${n} in ${seconds.toFixed(1)} s${failures.length ? `; ${failures.length} FAILED, first: ${failures[0]}` : ""}`,
    );
    return { from, n, seconds, failed: failures.length, firstError: failures[0] ?? null };
  };

  const runStep = async (plan, index) => {
    const open = sockets.slice(0, plan.n).filter(Boolean);
    const s = {
      ...plan,
      open: open.length,
      latencies: [],
      ackLatencies: [],
      delivered: 0,
      reordered: 0,
      refused: {},
      lastAt: 0,
      sent: 0,
      skipped: 0,
      ids: [],
      framesBefore: totals.frames,
      cpuBefore: { client: process.cpuUsage(), server: server.cpuSeconds() },
    };
    step = s;
    const total = Math.round(plan.rate * plan.seconds);
    let turn = 0;
    const sendOne = (k) => {
      const now = performance.now();
      for (let tries = 0; tries < open.length; tries++) {
        const rx = open[turn++ % open.length];
        if (!budget.take(rx.user.id, now)) continue;
        const id = `s${index}.${k}`;
        messages.set(id, { t0: now, step: s, count: 0, last: 0, acked: false, refused: null });
        s.ids.push(id);
        rx.ws.send(`{"type":"message.send","id":"${id}","clientMessageId":"${id}","text":"fan-out ${id}"}`);
        s.sent++;
        return;
      }
      s.skipped++; // no open socket had budget left
    };
    s.startedAt = performance.now();
    for (let k = 0; k < total; ) {
      const due = Math.min(total, Math.floor(((performance.now() - s.startedAt) / 1000) * plan.rate) + 1);
      while (k < due) sendOne(k++);
      if (k < total) await sleep(Math.max(1, s.startedAt + (k / plan.rate) * 1000 - performance.now()));
    }
    s.sendSeconds = (performance.now() - s.startedAt) / 1000;
    // Drain: every acked message at every open socket, or the timeout.
    const mine = s.ids.map((id) => messages.get(id));
    const deadline = performance.now() + DRAIN_MS;
    const settled = () => mine.every((m) => m.refused || (m.acked && m.count >= open.length));
    while (!settled() && performance.now() < deadline) await sleep(50);
    s.acked = mine.filter((m) => m.acked).length;
    s.unanswered = mine.filter((m) => !m.acked && !m.refused).length;
    s.lost = mine.reduce((sum, m) => sum + (m.acked ? Math.max(0, open.length - m.count) : 0), 0);
    s.lastRecipient = stats(mine.filter((m) => m.acked && m.count >= open.length).map((m) => m.last - m.t0));
    s.latency = stats(s.latencies);
    s.ack = stats(s.ackLatencies);
    s.window = Math.max(0.001, ((s.lastAt || performance.now()) - s.startedAt) / 1000);
    s.deliveriesPerSecond = s.delivered / s.window;
    s.framesPerSecond = (totals.frames - s.framesBefore) / s.window;
    const wall = (performance.now() - s.startedAt) / 1000; // send + drain
    const client = process.cpuUsage(s.cpuBefore.client);
    s.clientCpu = (client.user + client.system) / 1e6 / wall;
    const serverCpu = server.cpuSeconds();
    s.serverCpu = serverCpu === null ? null : (serverCpu - s.cpuBefore.server) / wall;
    s.samples = plan.keepSamples ? s.latencies : null;
    s.latencies = s.ackLatencies = null;
    step = null;
    for (const id of s.ids) messages.delete(id);
    s.ids = null;
    const refused = Object.entries(s.refused)
      .map(([k, v]) => `${k}×${v}`)
      .join(", ");
    log(
      `  N=${plan.n} ${plan.rate} msg/s × ${plan.seconds} s: sent ${s.sent}${s.skipped ? ` (skipped ${s.skipped}: no budget)` : ""}, ` +
        `p50 ${ms(s.latency.p50)} / p99 ${ms(s.latency.p99)} ms, last recipient p99 ${ms(s.lastRecipient.p99)} ms, ` +
        `${s.deliveriesPerSecond.toFixed(0)} deliveries/s, lost ${s.lost}, reordered ${s.reordered}, ` +
        `CPU client ${pct(s.clientCpu)} server ${pct(s.serverCpu)}` +
        `${refused ? `, refused ${refused}` : ""}${s.unanswered ? `, unanswered ${s.unanswered}` : ""}`,
    );
    return s;
  };

  const close = async () => {
    const result = await closeAll(sockets.filter(Boolean).map((r) => r.ws));
    const opened = sockets.filter(Boolean).length;
    totals.close = result;
    log(`  closed ${opened} sockets: ${result.clean} answered the Close frame within 1 s, ${result.forced} had to be dropped`);
  };
  const openUpToFresh = async (n) => {
    if (!bare) await freshTokens(baseUrl, users);
    return openUpTo(n);
  };
  return { chatId, totals, open: () => sockets.length, openUpTo: openUpToFresh, runStep, close };
}
