// Restart without loss (issue 18): clients send continuously over their chat sockets while
// (1) `wrangler dev` is killed with SIGKILL and started again on the same local state, and
// (2) every room is evicted while wrangler keeps running (a touch of the snapshot's source makes
// wrangler reload the Worker, which tears down every Durable Object instance and drops its sockets:
// the app has no eviction route, and this is what a deploy does to live rooms). Clients keep an
// outbox, retry unacked messages with the same clientMessageId, and `sync` from their last eventSeq
// after every reconnect. Afterwards: every acked message is stored once, in the order it was acked,
// history seqs are dense, and every client has every event of the log (none lost, none re-sent).
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { ChatClient, readBack, verifyClient } from "./chat-client.mjs";
import { ms, table } from "./lib.mjs";
import { createGroup, registerUsers } from "./room-seed.mjs";
import { startServer } from "./server.mjs";

const CHATS = 2;
const MEMBERS = 4; // each member sends in each chat
const SEND_EVERY_MS = 900; // per client: under the per-member refill of 1/s after the burst of 60
const RESTARTS = 3;
const EVICTIONS = 3;
const RUN_BETWEEN_MS = 6_000;

const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Kill the server's whole process group with SIGKILL (no shutdown of any kind) and wait until it is gone. */
async function killHard(server) {
  try {
    process.kill(-server.pid, "SIGKILL");
  } catch {
    // already gone
  }
  await sleep(500);
}

/** One disruption cycle: let clients send, disrupt, wait until every client is back. Returns the outage in ms. */
async function cycle(clients, disrupt) {
  await sleep(RUN_BETWEEN_MS);
  const connectsBefore = clients.map((c) => c.connects);
  const started = performance.now();
  await disrupt();
  while (clients.some((c, i) => c.connects === connectsBefore[i])) await sleep(100);
  return performance.now() - started;
}

/** Run the restart and eviction phases against a server started by bench/run.mjs (area `restart`). */
export async function runRestartBench(first, log = console.log) {
  let server = first;
  const baseUrl = () => server.baseUrl;
  const { users } = await registerUsers(baseUrl(), MEMBERS, log);
  const chats = [];
  for (let i = 0; i < CHATS; i++) chats.push(await createGroup(baseUrl(), users[0], users, `restart ${i} ${Date.now().toString(36)}`));
  const clients = chats.flatMap((chatId, c) =>
    users.map((user, u) => new ChatClient({ server: baseUrl, user, chatId, label: `c${c}u${u}` })),
  );
  await Promise.all(clients.map((c) => c.connect()));
  let sending = true;
  const sender = (async () => {
    for (let i = 0; sending; i++) {
      for (const client of clients) client.queue(`message ${i} from ${client.label}`);
      await sleep(SEND_EVERY_MS);
    }
  })();

  const restarts = [];
  for (let i = 0; i < RESTARTS; i++) {
    log(`restart: kill -9 and start again (${i + 1}/${RESTARTS}) …`);
    restarts.push(
      await cycle(clients, async () => {
        await killHard(server);
        server = await startServer("restart", { vars: {}, port: Number(new URL(first.baseUrl).port), keepState: true });
      }),
    );
  }
  const evictions = [];
  for (let i = 0; i < EVICTIONS; i++) {
    log(`restart: evict every room (${i + 1}/${EVICTIONS}) …`);
    evictions.push(
      await cycle(clients, async () => appendFileSync(join(server.stateDir, "app/src/index.ts"), `\n// evict ${Date.now()}\n`)),
    );
  }
  await sleep(RUN_BETWEEN_MS);
  sending = false;
  await sender;
  const unacked = (await Promise.all(clients.map((c) => c.drain()))).reduce((a, b) => a + b, 0);
  // One more sync each, so every client has had the chance to see the whole log.
  for (const c of clients) c.ws?.close();
  await sleep(300);
  await Promise.all(clients.map((c) => c.connect()));
  await sleep(2000);
  for (const c of clients) c.stop();

  const perChat = [];
  for (const chatId of chats) {
    const stored = await readBack(baseUrl(), users[0].token, chatId);
    const seqs = stored.messages.map((m) => m.seq);
    const holes = seqs.filter((s, i) => s !== i + 1).length;
    const checks = clients.filter((c) => c.chatId === chatId).map((c) => verifyClient(c, stored));
    perChat.push({ chatId, messages: stored.messages.length, events: stored.events.length, holes, checks });
  }
  const stop = () => server.stop();
  return { restarts, evictions, unacked, perChat, clients, stop };
}

/** The "Restart" section of RESULTS.md and the figures RELIABILITY.md takes. */
export function restartSection(result) {
  const all = result.perChat.flatMap((c) => c.checks);
  const sum = (k) => all.reduce((a, c) => a + c[k], 0);
  const figures = {
    acked: sum("acked"),
    lost: sum("lost"),
    duplicated: sum("duplicated"),
    outOfOrder: sum("outOfOrder"),
    missedEvents: sum("missedEvents"),
    unacked: result.unacked,
    seqHoles: result.perChat.reduce((a, c) => a + c.holes, 0),
    replayedDuplicates: result.clients.reduce((a, c) => a + c.replayedDuplicates, 0),
    overtakenDuringSync: result.clients.reduce((a, c) => a + c.overtakenDuringSync, 0),
    restarts: result.restarts.length,
    evictions: result.evictions.length,
    reconnects: result.clients.reduce((a, c) => a + c.connects, 0),
  };
  const clean = ["lost", "duplicated", "outOfOrder", "missedEvents", "unacked", "seqHoles", "replayedDuplicates"].every(
    (k) => figures[k] === 0,
  );
  const markdown = [
    `${CHATS} groups of ${MEMBERS} members; every member sends one message every ${SEND_EVERY_MS} ms in each group over its socket`,
    `(outbox, retry with the same clientMessageId, \`sync\` from the last eventSeq after every reconnect). Meanwhile \`wrangler dev\``,
    `is killed with SIGKILL and started again on the same state ${RESTARTS} times, then every room is evicted ${EVICTIONS} times`,
    "(a Worker reload: every Durable Object instance torn down, sockets dropped), with 6 s of sending between disruptions.",
    "",
    table(
      ["disruption", "outages until every client was back (ms)"],
      [
        ["kill -9 + restart", result.restarts.map(ms).join(", ")],
        ["room eviction", result.evictions.map(ms).join(", ")],
      ],
    ),
    "",
    table(
      ["chat", "stored messages", "events", "acked", "lost", "stored twice", "out of order", "events missed", "seq holes"],
      result.perChat.map((c, i) => {
        const s = (k) => c.checks.reduce((a, x) => a + x[k], 0);
        return [i + 1, c.messages, c.events, s("acked"), s("lost"), s("duplicated"), s("outOfOrder"), s("missedEvents"), c.holes];
      }),
    ),
    "",
    `Unacked at the end: ${figures.unacked}; events a sync re-sent that the client had already asked past: ${figures.replayedDuplicates}; ` +
      `live events that overtook a sync's replay (documented; clients order them by eventSeq): ${figures.overtakenDuringSync}; ` +
      `reconnects: ${figures.reconnects}. ${clean ? "**PASS**: nothing lost, duplicated or reordered." : "**FAIL**"}`,
  ].join("\n");
  return { markdown, figures, warnings: clean ? [] : ["messages or events were lost, duplicated or reordered (see the table)"] };
}
