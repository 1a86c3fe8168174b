// Hub (issue 14): (1) how long a room message takes to reach 100 members' realtime sockets as
// `chat.activity` (the room tells its members' hubs after its summary flush), p50/p99 from the
// send; (2) what that costs a send: the same paced sends in a second app with the hub fan-out off
// (HUB_FANOUT_MAX_MEMBERS=0), same machine, one after the other; (3) D1 rows of GET /chats' first
// page for a user in 10 and in 1,000 chats (from bench/rows-read, inside workerd).
import { loadavg } from "node:os";
import WebSocket from "ws";
import { expectStatus, mapLimit, ms, request, stats, table } from "./lib.mjs";
import { runRowsRead } from "./rows-read.mjs";
import { startServer } from "./server.mjs";

const PASSWORD = "violet-harbor-73-lantern";
const MEMBERS = 100;
const SENDS = 30;
// Slower than the summary interval (1 s): each send's flush runs at once, not coalesced with the next.
const PACE_MS = 1500;

async function register(baseUrl, label) {
  const username = `hb_${Date.now().toString(36)}_${label}`;
  const body = expectStatus(
    await request(baseUrl, "POST", "/api/v1/auth/register", { body: { username, password: PASSWORD } }),
    201,
    "register",
  );
  return { id: body.user.id, token: body.tokens.accessToken };
}

/** A realtime socket that notes when each `chat.activity` of `chatId` arrives, by lastSeq. */
function realtimeSocket(baseUrl, token, chatId, arrivals) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/api/v1/realtime?access_token=${token}`);
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "hello") resolve(ws);
      else if (frame.type === "chat.activity" && frame.chatId === chatId) {
        const list = arrivals.get(frame.lastSeq) ?? [];
        list.push(performance.now());
        arrivals.set(frame.lastSeq, list);
      }
    });
    ws.on("error", reject);
  });
}

/** One app: a group of MEMBERS + 1 with every member's realtime socket open, SENDS paced sends. */
async function measureApp(baseUrl) {
  const [sender, ...members] = await mapLimit(
    Array.from({ length: MEMBERS + 1 }, (_, i) => i),
    4,
    (i) => register(baseUrl, `m${i}`),
  );
  const body = { type: "group", name: "Hub bench", memberIds: members.map((m) => m.id) };
  const chatId = expectStatus(await request(baseUrl, "POST", "/api/v1/chats", { token: sender.token, body }), 201, "create group").chat.id;
  const arrivals = new Map();
  const sockets = await mapLimit(members, 10, (m) => realtimeSocket(baseUrl, m.token, chatId, arrivals));
  const sent = new Map();
  const ackMs = [];
  for (let i = 0; i < SENDS; i++) {
    const started = performance.now();
    const res = await request(baseUrl, "POST", `/api/v1/chats/${chatId}/messages`, {
      token: sender.token,
      body: { clientMessageId: `hb-${i}`, text: `message ${i}` },
    });
    const message = expectStatus(res, 201, "send").message;
    sent.set(message.seq, started);
    ackMs.push(res.ms);
    await new Promise((r) => setTimeout(r, PACE_MS));
  }
  await new Promise((r) => setTimeout(r, 2000)); // the last flush
  for (const ws of sockets) ws.close();
  const delivery = [];
  let missing = 0;
  for (const [seq, at] of sent) {
    const got = arrivals.get(seq) ?? [];
    missing += MEMBERS - got.length;
    for (const t of got) delivery.push(t - at);
  }
  return { ack: stats(ackMs), delivery: stats(delivery), missing };
}

/** Run the hub bench against `server` (fan-out on) and a second app with it off; returns `{ markdown, warnings }`. */
export async function runHubBench(server, log = console.log) {
  const warnings = [];
  const loadBefore = loadavg()[0];
  log("hub: fan-out on …");
  const on = await measureApp(server.baseUrl);
  log("hub: fan-out off …");
  const offServer = await startServer("hub-off", { vars: { HUB_FANOUT_MAX_MEMBERS: "0" }, port: 8786 });
  let off;
  try {
    off = await measureApp(offServer.baseUrl);
  } finally {
    await offServer.stop();
  }
  const loadAfter = loadavg()[0];
  if (on.missing > 0) warnings.push(`${on.missing} chat.activity frames never arrived (of ${MEMBERS * SENDS})`);
  if (off.delivery.n > 0) warnings.push(`fan-out off still delivered ${off.delivery.n} chat.activity frames`);

  let rows = null;
  try {
    rows = (await runRowsRead(log)).rows;
  } catch (err) {
    warnings.push(`D1 rows-read run failed: ${err.message.split("\n")[0]}`);
  }
  const listRow = (key) => (rows?.[key] ? [[rows[key].label, rows[key].rowsRead, rows[key].hubRowsRead ?? "–"]] : []);
  const ratio = rows?.list_1000 && rows?.list_10 ? (rows.list_1000.rowsRead / rows.list_10.rowsRead).toFixed(2) : "–";
  const markdown = [
    `Load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
    "",
    `A group of ${MEMBERS + 1}: one sender, ${MEMBERS} members each holding a realtime socket (\`GET /realtime\`). ${SENDS} sends paced ${PACE_MS / 1000} s apart`,
    "(slower than the 1 s summary interval, so each send's flush runs at once). Delivery: from the start of the send to each member socket's",
    "`chat.activity` with that seq (the room flushes its summary to D1, then calls the members' hubs 32 at a time; each hub logs the update and sends it).",
    "",
    table(
      ["", "sends", "send ack p50 ms", "send ack p99 ms", "hub delivery p50 ms", "hub delivery p99 ms", "frames missing"],
      [
        ["fan-out off (HUB_FANOUT_MAX_MEMBERS=0, baseline)", off.ack.n, ms(off.ack.p50), ms(off.ack.p99), "–", "–", "–"],
        ["fan-out on", on.ack.n, ms(on.ack.p50), ms(on.ack.p99), ms(on.delivery.p50), ms(on.delivery.p99), on.missing],
      ],
    ),
    "",
    `Send ack with the fan-out on / off: p50 ${(on.ack.p50 / off.ack.p50).toFixed(2)}, p99 ${(on.ack.p99 / off.ack.p99).toFixed(2)} (the hubs are called from the room's flush, after the ack).`,
    "",
    `GET /chats' first page (default 20), D1 rows read (inside workerd, bench/rows-read): ${ratio}× for 1,000 chats against 10.`,
    "",
    table(
      ["", "D1 rows read", "hub SQLite rows read"],
      [...listRow("list_10"), ...listRow("list_1000"), ...listRow("hub_load_10"), ...listRow("hub_load_1000")],
    ),
  ].join("\n");
  return { markdown, warnings };
}
