// Reactions benchmark: a 1,000-member group, every member with one socket open, and 50 members
// reacting to one message (PUT …/reactions/{emoji} over REST): all at once, and spread over 5 s.
// Counted per socket: the `reactions` frames it got for that message (src/rooms/reaction-feed.ts
// coalesces them), over the time from the first PUT to the last frame; compared with what sending
// every logged reaction event to every socket would have cost (events × sockets). Also checked:
// every socket ends with the final counts, and the log holds exactly one event per reaction.
import { setTimeout as sleep } from "node:timers/promises";
import { expectStatus, int, ms, request, stats, table } from "./lib.mjs";
import { createGroup, registerUsers } from "./room-seed.mjs";
import { closeAll, frameType, openSocket, socketUrl } from "./sockets.mjs";

const MEMBERS = 1000;
const REACTORS = 50;
const EMOJIS = ["👍", "❤️", "😂", "🎉", "🔥"];
const OPEN_CONCURRENCY = 16;
const SETTLE_MS = 3000; // presence frames of the openings die down
const CONVERGE_TIMEOUT_MS = 15_000;

const SCENARIOS = [
  { name: "at once", note: "50 PUTs in parallel", spreadMs: 0 },
  { name: "over 5 s", note: "one PUT every 100 ms", spreadMs: 5000 },
];

export async function runReactionsBench(server, log = console.log) {
  const baseUrl = server.baseUrl;
  const warnings = [];
  log(`reactions: registering ${MEMBERS} accounts …`);
  const { users } = await registerUsers(baseUrl, MEMBERS, log);
  const owner = users[0];
  const chatId = await createGroup(baseUrl, owner, users, `reactions ${Date.now().toString(36)}`);
  log(`  group ${chatId} with ${MEMBERS} members`);

  // Per socket: every frame counted, `reactions` frames of the measured message kept with their arrival time.
  const receivers = [];
  let measured = null; // messageId being measured
  const onFrame = (rx) => (text, at) => {
    rx.frames++;
    if (measured && frameType(text) === "reactions" && text.includes(measured)) {
      const f = JSON.parse(text);
      rx.got.push({ at, total: f.reactions.reduce((sum, r) => sum + r.count, 0) });
    }
  };
  let next = 0;
  const failures = [];
  const opened = performance.now();
  await Promise.all(
    Array.from({ length: OPEN_CONCURRENCY }, async () => {
      while (next < users.length) {
        const user = users[next++];
        const rx = { frames: 0, got: [] };
        try {
          rx.ws = (await openSocket(socketUrl(baseUrl, chatId, user.token), onFrame(rx))).ws;
          receivers.push(rx);
        } catch (err) {
          failures.push(err.message);
        }
      }
    }),
  );
  log(`  opened ${receivers.length} sockets in ${((performance.now() - opened) / 1000).toFixed(1)} s`);
  if (failures.length) warnings.push(`${failures.length} sockets did not open (first: ${failures[0]}).`);
  await sleep(SETTLE_MS);

  const rows = [];
  try {
    for (const scenario of SCENARIOS) {
      const sent = await request(baseUrl, "POST", `/api/v1/chats/${chatId}/messages`, {
        token: owner.token,
        body: { clientMessageId: `bench-${scenario.name}-${Date.now()}`, type: "text", text: "react to this" },
      });
      const message = expectStatus(sent, 201, "send").message;
      await sleep(500);
      for (const rx of receivers) {
        rx.got = [];
        rx.framesBefore = rx.frames;
      }
      const eventsPath = (after, limit) => `/api/v1/chats/${chatId}/events?after=${after}&limit=${limit}`;
      const before = expectStatus(await request(baseUrl, "GET", eventsPath(0, 1), { token: owner.token }), 200, "events").lastEventSeq;
      measured = message.id;
      log(`  ${scenario.name}: ${REACTORS} members react …`);
      const t0 = performance.now();
      const acks = await Promise.all(
        users.slice(1, REACTORS + 1).map(async (user, i) => {
          if (scenario.spreadMs) await sleep((scenario.spreadMs * i) / REACTORS);
          const path = `/api/v1/chats/${chatId}/messages/${message.id}/reactions/${encodeURIComponent(EMOJIS[i % EMOJIS.length])}`;
          const res = await request(baseUrl, "PUT", path, { token: user.token });
          expectStatus(res, 200, "react");
          return performance.now();
        }),
      );
      const lastAck = Math.max(...acks);
      const converged = () => receivers.filter((rx) => rx.got.at(-1)?.total === REACTORS).length;
      while (converged() < receivers.length && performance.now() - lastAck < CONVERGE_TIMEOUT_MS) await sleep(50);
      await sleep(1500); // anything still on its way
      measured = null;

      const events = await request(baseUrl, "GET", eventsPath(before, 1000), { token: owner.token });
      const logged = expectStatus(events, 200, "events").events.filter((e) => e.type === "reaction.added" && e.messageId === message.id);
      const perSocket = receivers.map((rx) => rx.got.length);
      const lastFrame = Math.max(...receivers.map((rx) => rx.got.at(-1)?.at ?? t0));
      const seconds = (lastFrame - t0) / 1000;
      const total = perSocket.reduce((a, b) => a + b, 0);
      // The coalescing rule seen from a socket: the shortest time between two frames it got.
      const gaps = receivers.flatMap((rx) => rx.got.slice(1).map((g, i) => g.at - rx.got[i].at));
      const minGap = gaps.length ? Math.min(...gaps) : Number.NaN;
      const s = stats(perSocket);
      const done = converged();
      if (done < receivers.length) warnings.push(`${scenario.name}: ${receivers.length - done} sockets never got the final counts.`);
      if (logged.length !== REACTORS) warnings.push(`${scenario.name}: ${logged.length} reaction events logged, expected ${REACTORS}.`);
      const row = {
        scenario,
        sockets: receivers.length,
        events: logged.length,
        total,
        perSocket: s,
        seconds,
        perSocketRate: s.p50 / Math.max(seconds, 1),
        allRate: total / Math.max(seconds, 1),
        uncoalesced: logged.length * receivers.length,
        putSeconds: (lastAck - t0) / 1000,
        settleMs: lastFrame - lastAck,
        converged: done,
        minGap,
      };
      log(
        `    ${row.events} events; frames per socket min ${s.min} / median ${s.p50} / max ${s.max}; all sockets ${int(total)} ` +
          `frames in ${seconds.toFixed(2)} s (${int(row.allRate)}/s) vs ${int(row.uncoalesced)} uncoalesced`,
      );
      rows.push(row);
    }
  } finally {
    await closeAll(receivers.map((rx) => rx.ws).filter(Boolean));
  }
  return { markdown: reactionsSection(rows), warnings };
}

function reactionsSection(rows) {
  const body = table(
    [
      "50 members react",
      "sockets",
      "reaction events logged",
      "`reactions` frames per socket (min / median / max)",
      "first PUT → last frame",
      "frames/s per socket",
      "shortest gap between two frames on a socket",
      "frames to all sockets",
      "frames/s, all sockets",
      "every event to every socket (uncoalesced)",
      "last PUT answered → last socket current (negative: before the answer)",
      "sockets with the final counts",
    ],
    rows.map((r) => [
      `${r.scenario.name} (${r.scenario.note}; PUTs took ${r.putSeconds.toFixed(2)} s)`,
      int(r.sockets),
      int(r.events),
      `${r.perSocket.min} / ${r.perSocket.p50} / ${r.perSocket.max}`,
      `${r.seconds.toFixed(2)} s`,
      r.perSocketRate.toFixed(1),
      `${ms(r.minGap)} ms`,
      int(r.total),
      int(r.allRate),
      `${int(r.uncoalesced)} (${(r.uncoalesced / Math.max(r.total, 1)).toFixed(0)}×)`,
      `${ms(r.settleMs)} ms`,
      `${int(r.converged)} / ${int(r.sockets)}`,
    ]),
  );
  return [
    `A group of ${MEMBERS} members, each with one socket; ${REACTORS} of them react to one fresh message over REST with ` +
      `${EMOJIS.length} different emojis. Reaction frames are coalesced (README, "Reactions are coalesced"): in a room with more ` +
      "than 100 sockets a socket gets at most one `reactions` frame per message per second, the first at once. The last column " +
      "but two is what sending every logged reaction event to every socket would have cost (the events still reach clients " +
      "through `sync` and `GET …/events`). Rates are over the first PUT → last frame window (at least 1 s).",
    "",
    body,
  ].join("\n");
}
