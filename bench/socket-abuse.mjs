// Socket abuse timing (issue 18): four members send paced messages (send→ack, as in abuse.mjs) in a
// group with 20 watching sockets, first in a quiet room, then during each abuse by other members:
// - slow readers: 20 sockets that stop reading (TCP paused) while 6 members each post a 4 KB message
//   a second (their send budget's pace), so the room's frames to them pile up unread;
// - many sockets per user: one member opens 60 sockets (cap 10: the oldest close with 4008), again and again;
// - reconnect storm: 20 members drop and reopen their sockets as fast as they can.
// Target: the paced members' p50 and p99 stay within 2× of the quiet room's. Floods past the frame budget
// are the Abuse area (bench/abuse.mjs), not repeated here.
import WebSocket from "ws";
import { paced, RATIO_TARGET } from "./abuse.mjs";
import { ms, table } from "./lib.mjs";
import { createGroup, registerUsers } from "./room-seed.mjs";
import { closeAll, openSocket, socketUrl } from "./sockets.mjs";

const WATCHERS = 20;
const STORMERS = 20;
const BIG_SENDERS = 6;
/** Paced senders per phase and how long they send: 200 acks, so the p99 is a percentile and not the maximum. */
const PHASE_SENDERS = 4;
const PHASE_SECONDS = 20;
const PHASES = 5;
const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Run `abuse(stopSignal)` while fresh senders are paced; returns their latencies and the abuse's tally. */
async function during(url, senders, label, abuse) {
  const sockets = await Promise.all(senders.map(async (s) => (await openSocket(url(s))).ws));
  const control = { running: true, tally: {} };
  const abusing = abuse ? abuse(control) : Promise.resolve();
  await sleep(abuse ? 1000 : 0);
  const result = await paced(sockets, label, PHASE_SECONDS);
  control.running = false;
  await abusing;
  await closeAll(sockets);
  return { ...result, tally: control.tally };
}

const count = (tally, key) => {
  tally[key] = (tally[key] ?? 0) + 1;
};

/** Open a socket and report its close code into the tally; resolves with the socket or null. */
const tryOpen = (url, tally) =>
  openSocket(url).then(
    ({ ws }) => {
      ws.on("close", (code) => count(tally, `closed ${code}`));
      return ws;
    },
    (err) => {
      count(tally, String(err.message).slice(0, 40));
      return null;
    },
  );

/** Run the quiet phase and the three abuse phases against a server of bench/run.mjs (area `socket-abuse`). */
export async function runSocketAbuse(server, log = console.log) {
  const baseUrl = server.baseUrl;
  const { users } = await registerUsers(baseUrl, 1 + PHASES * PHASE_SENDERS + WATCHERS + STORMERS + BIG_SENDERS + 1, log);
  const [owner, ...rest] = users;
  const senders = rest.splice(0, PHASES * PHASE_SENDERS);
  const phaseSenders = (phase) => senders.slice(phase * PHASE_SENDERS, (phase + 1) * PHASE_SENDERS);
  const watchers = rest.splice(0, WATCHERS);
  const stormers = rest.splice(0, STORMERS);
  const bigSenders = rest.splice(0, BIG_SENDERS);
  const [hoarder] = rest;
  const chatId = await createGroup(baseUrl, owner, users, `socket abuse ${Date.now().toString(36)}`);
  const url = (user) => socketUrl(baseUrl, chatId, user.token);
  const watching = await Promise.all(watchers.map(async (w) => (await openSocket(url(w))).ws));

  log("socket abuse: quiet room …");
  const quiet = await during(url, phaseSenders(0), "quiet", null);

  log("socket abuse: slow readers …");
  const slow = await during(url, phaseSenders(1), "slow", async (control) => {
    for (const ws of watching) ws._socket.pause(); // stop reading: the server's frames pile up
    const posting = await Promise.all(bigSenders.map(async (u) => (await openSocket(url(u))).ws));
    const big = "x".repeat(4096);
    let n = 0;
    while (control.running) {
      for (const ws of posting) ws.send(JSON.stringify({ type: "message.send", id: `b${n}`, clientMessageId: `big-${n++}`, text: big }));
      await sleep(1000);
    }
    control.tally.bigMessagesSent = n;
    for (const ws of watching) ws._socket.resume();
    await closeAll(posting);
  });

  log("socket abuse: many sockets per user …");
  const hoarding = await during(url, phaseSenders(2), "hoard", async (control) => {
    const held = [];
    while (control.running) {
      held.push(...(await Promise.all(Array.from({ length: 12 }, () => tryOpen(url(hoarder), control.tally)))).filter(Boolean));
      await sleep(200);
    }
    control.tally.stillOpen = held.filter((ws) => ws.readyState === WebSocket.OPEN).length;
    await closeAll(held, 500);
  });

  // The same storm twice: in this chat, then by the same members in another chat. On `wrangler dev`
  // every upgrade's Worker work (token, KV, D1) shares one workerd thread with this room; in the
  // other chat the room's own share is gone, so the pair tells the room's cost from the dev server's.
  const storming = (stormUrl) => async (control) => {
    let cycles = 0;
    await Promise.all(
      stormers.map(async (u) => {
        while (control.running) {
          const ws = await tryOpen(stormUrl(u), control.tally);
          cycles++;
          if (ws) ws.terminate();
          else await sleep(200);
        }
      }),
    );
    control.tally.reconnects = cycles;
  };
  log("socket abuse: reconnect storm …");
  const storm = await during(url, phaseSenders(3), "storm", storming(url));
  const otherChatId = await createGroup(baseUrl, owner, stormers, `socket abuse elsewhere ${Date.now().toString(36)}`);
  log("socket abuse: reconnect storm in another chat …");
  const elsewhere = await during(
    url,
    phaseSenders(4),
    "storm elsewhere",
    storming((user) => socketUrl(baseUrl, otherChatId, user.token)),
  );
  await closeAll(watching);
  return {
    quiet,
    phases: { "slow readers": slow, "many sockets per user": hoarding, "reconnect storm": storm },
    controls: { "reconnect storm in another chat": elsewhere },
  };
}

const ratio = (a, b) => (b > 0 ? a / b : Number.NaN);

/** The "Socket abuse" section of RESULTS.md and the figures RELIABILITY.md takes. */
export function socketAbuseSection({ quiet, phases, controls = {} }) {
  const rows = [["quiet", quiet]].concat(Object.entries(phases), Object.entries(controls));
  const elsewhere = controls["reconnect storm in another chat"];
  const roomShare = elsewhere && {
    p50: ratio(phases["reconnect storm"].stats.p50, elsewhere.stats.p50),
    p99: ratio(phases["reconnect storm"].stats.p99, elsewhere.stats.p99),
  };
  const verdicts = Object.entries(phases).map(([name, r]) => {
    const p50 = ratio(r.stats.p50, quiet.stats.p50);
    const p99 = ratio(r.stats.p99, quiet.stats.p99);
    return { name, p50, p99, pass: p50 <= RATIO_TARGET && p99 <= RATIO_TARGET && r.unanswered === 0 };
  });
  const figures = Object.fromEntries(
    verdicts.map((v) => [v.name, { p50Ratio: Number(v.p50.toFixed(2)), p99Ratio: Number(v.p99.toFixed(2)), pass: v.pass }]),
  );
  if (roomShare)
    figures["storm here / elsewhere"] = { p50Ratio: Number(roomShare.p50.toFixed(2)), p99Ratio: Number(roomShare.p99.toFixed(2)) };
  const markdown = [
    `${PHASE_SENDERS} members send 10 msg/s together for ${PHASE_SECONDS} s (send→ack) in a group with ${WATCHERS} more sockets, quiet and then during each abuse by`,
    `other members (fresh senders each phase, so no send budget carries over). Target: p50 and p99 within ${RATIO_TARGET}× of the quiet room.`,
    "",
    table(
      ["phase", "acks", "p50 ms", "p99 ms", "max ms", "unanswered", "what the abusers got"],
      rows.map(([name, r]) => [
        name,
        r.latencies.length,
        ms(r.stats.p50),
        ms(r.stats.p99),
        ms(r.stats.max),
        r.unanswered,
        JSON.stringify(r.tally),
      ]),
    ),
    "",
    table(
      ["phase / quiet", "p50", "p99", `target ≤ ${RATIO_TARGET}`],
      verdicts.map((v) => [v.name, v.p50.toFixed(2), v.p99.toFixed(2), v.pass ? "PASS" : "**FAIL**"]),
    ),
    ...(roomShare
      ? [
          "",
          "The same storm by the same members in another chat (the room's own share removed; what remains is the Worker's",
          "upgrade work sharing `wrangler dev`'s one workerd thread with this room, which production runs elsewhere):",
          "",
          table(["reconnect storm here / in another chat", "p50", "p99"], [["ratio", roomShare.p50.toFixed(2), roomShare.p99.toFixed(2)]]),
        ]
      : []),
  ].join("\n");
  const failed = verdicts.filter((v) => !v.pass).map((v) => v.name);
  return {
    markdown,
    figures,
    warnings: failed.length ? [`latency over ${RATIO_TARGET}× the quiet room's during: ${failed.join(", ")}`] : [],
  };
}
