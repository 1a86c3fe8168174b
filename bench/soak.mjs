// Soak (issue 18): an hour-class mixed load scaled down to minutes (SOAK_SECONDS, default 180):
// many users in many groups send over their sockets (outbox + sync clients of chat-client.mjs), react,
// mark read and upload small images, while wrangler's memory (RSS of its whole process group) and
// the D1 row count of every table are sampled. Bounded means: after warm-up, memory stops climbing
// (the last third of the run within 1.5× of the middle third, by mean RSS, and the trend of the second half
// under 20 MiB a minute) and no D1 table grows
// with messages or reactions (D1 holds no per-message rows): only with uploads and accounts.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ChatClient, readBack, verifyClient } from "./chat-client.mjs";
import { heapProbe } from "./heap.mjs";
import { mapLimit, request, table } from "./lib.mjs";
import { createGroup, registerUsers } from "./room-seed.mjs";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const USERS = 30;
const CHATS = 10;
const MEMBERS = 6;
const SAMPLE_EVERY_MS = 10_000;
const SLOPE_BOUND_MIB_PER_MINUTE = 20;
const HEAP_SLOPE_BOUND_MIB_PER_MINUTE = 2;
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082",
  "hex",
);

const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Resident memory (KiB) of every process in a process group (wrangler, its esbuild and workerd). */
function groupRssKiB(pgid) {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) !== pgid) continue;
      total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** Row counts of every D1 table, read from the local database file (read-only, beside wrangler). */
function d1Rows(stateDir) {
  const dir = join(stateDir, "data/v3/d1/miniflare-D1DatabaseObject");
  const file = readdirSync(dir).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  const db = new DatabaseSync(join(dir, file), { readOnly: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
      .all();
    return Object.fromEntries(
      tables.filter((t) => !/_fts_/.test(t.name)).map((t) => [t.name, db.prepare(`SELECT count(*) AS n FROM "${t.name}"`).get().n]),
    );
  } finally {
    db.close();
  }
}

async function uploadImage(baseUrl, token) {
  const res = await fetch(`${baseUrl}/api/v1/media?purpose=attachment`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "image/png", "x-file-name": "soak.png" },
    body: PNG,
  });
  await res.text();
  return res.status;
}

/** Run the soak against a server of bench/run.mjs (area `soak`). */
export async function runSoak(server, log = console.log) {
  const baseUrl = server.baseUrl;
  const { users } = await registerUsers(baseUrl, USERS, log);
  const chats = [];
  for (let i = 0; i < CHATS; i++) {
    const members = Array.from({ length: MEMBERS }, (_, k) => users[(i * 3 + k) % USERS]);
    chats.push({ id: await createGroup(baseUrl, members[0], members, `soak ${i}`), members });
  }
  const clients = chats.flatMap((chat) =>
    chat.members.map((user, k) => new ChatClient({ server: () => baseUrl, user, chatId: chat.id, label: `${chat.id.slice(-4)}-${k}` })),
  );
  await mapLimit(clients, 8, (c) => c.connect());
  const counts = { messages: 0, reactions: 0, reads: 0, uploads: 0, refused: {} };
  const samples = [];
  const heap = await heapProbe(server.inspectorPort);
  const sample = async (label) =>
    samples.push({ at: label, rssKiB: groupRssKiB(server.pid), heapMiB: (await heap?.liveMiB()) ?? null, rows: d1Rows(server.stateDir) });
  await sample(0);
  const started = performance.now();
  let nextSample = SAMPLE_EVERY_MS;
  for (let tick = 0; performance.now() - started < SECONDS * 1000; tick++) {
    // Each tick (1 s): a sixth of the clients send (each client about once every 6 s, within its budget).
    for (const [i, client] of clients.entries()) {
      if ((i + tick) % 6 === 0) {
        client.queue(`soak ${tick} ${client.label}`);
        counts.messages++;
      }
    }
    const chat = chats[tick % CHATS];
    const acked = clients.find((c) => c.chatId === chat.id && c.acked.length)?.acked.at(-1);
    const reactor = chat.members[tick % MEMBERS];
    const work = [];
    if (acked) {
      const emoji = ["👍", "🔥", "🎉"][tick % 3];
      work.push(
        request(baseUrl, "PUT", `/api/v1/chats/${chat.id}/messages/${acked.id}/reactions/${encodeURIComponent(emoji)}`, {
          token: reactor.token,
        }).then((r) => r.status === 200 && counts.reactions++),
      );
      work.push(
        request(baseUrl, "POST", `/api/v1/chats/${chat.id}/read`, { token: reactor.token, body: { seq: acked.seq } }).then(
          (r) => r.status === 200 && counts.reads++,
        ),
      );
    }
    if (tick % 5 === 0)
      work.push(
        uploadImage(baseUrl, reactor.token).then((status) => {
          if (status === 201) counts.uploads++;
          else counts.refused[`upload ${status}`] = (counts.refused[`upload ${status}`] ?? 0) + 1;
        }),
      );
    await Promise.all([...work, sleep(1000)]);
    const elapsed = performance.now() - started;
    if (elapsed >= nextSample) {
      await sample(Math.round(elapsed / 1000));
      nextSample += SAMPLE_EVERY_MS;
      const { rssKiB, heapMiB } = samples.at(-1);
      log(
        `soak: ${Math.round(elapsed / 1000)} s, RSS ${(rssKiB / 1024).toFixed(0)} MiB, JS heap ${heapMiB?.toFixed(1)} MiB, ${counts.messages} messages`,
      );
    }
  }
  const unacked = (await Promise.all(clients.map((c) => c.drain(20_000)))).reduce((a, b) => a + b, 0);
  await sleep(1500);
  for (const c of clients) c.stop();
  const lost = { lost: 0, duplicated: 0, outOfOrder: 0 };
  for (const chat of chats) {
    const stored = await readBack(baseUrl, chat.members[0].token, chat.id);
    for (const c of clients.filter((x) => x.chatId === chat.id)) {
      const v = verifyClient(c, stored);
      for (const k of Object.keys(lost)) lost[k] += v[k];
    }
  }
  await sample(Math.round((performance.now() - started) / 1000));
  heap?.close();
  return { samples, counts, unacked, lost, seconds: SECONDS };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

/** Least-squares trend of `value(sample)` over the second half of the run, per minute. */
function secondHalfTrend(samples, value) {
  const tail = samples.slice(Math.floor(samples.length / 2));
  const tMean = mean(tail.map((s) => s.at));
  const vMean = mean(tail.map(value));
  const covariance = tail.reduce((a, s) => a + (s.at - tMean) * (value(s) - vMean), 0);
  return (covariance / (tail.reduce((a, s) => a + (s.at - tMean) ** 2, 0) || 1)) * 60;
}

/** Whether a memory series stopped climbing: the last third within 1.5× of the middle third, and the second half's trend under `slopeBound`. */
function boundedSeries(samples, value, slopeBound) {
  const third = Math.max(1, Math.floor(samples.length / 3));
  const middle = mean(samples.slice(third, 2 * third).map(value));
  const last = mean(samples.slice(2 * third).map(value));
  const slope = secondHalfTrend(samples, value);
  return { middle, last, slope, bounded: last <= middle * 1.5 && slope <= slopeBound };
}

/** The "Soak" section of RESULTS.md and the figures RELIABILITY.md takes. */
export function soakSection({ samples, counts, unacked, lost, seconds }) {
  const third = Math.max(1, Math.floor(samples.length / 3));
  // The ratio alone cannot tell a slow leak from warm-up in a short run: the trend says whether it still climbs.
  const rss = boundedSeries(samples, (s) => s.rssKiB / 1024, SLOPE_BOUND_MIB_PER_MINUTE);
  // The JS heap is what the app holds (with its garbage); RSS adds SQLite caches and allocator slack.
  const withHeap = samples.every((s) => s.heapMiB !== null && s.heapMiB !== undefined);
  const heap = withHeap ? boundedSeries(samples, (s) => s.heapMiB, HEAP_SLOPE_BOUND_MIB_PER_MINUTE) : null;
  const memoryBounded = rss.bounded && (heap?.bounded ?? true);
  const first = samples[third].rows;
  const end = samples.at(-1).rows;
  const growth = Object.keys(end)
    .map((t) => [t, (end[t] ?? 0) - (first[t] ?? 0)])
    .filter(([, d]) => d !== 0);
  // After warm-up nothing is registered: only uploads (media, their refs) may add rows; a few of each upload's rows at most.
  const allowance = counts.uploads * 2 + 10;
  const growing = growth.filter(([, d]) => d > allowance);
  const figures = {
    seconds,
    ...counts,
    unacked,
    ...lost,
    rssStartMiB: samples[0].rssKiB / 1024,
    rssEndMiB: samples.at(-1).rssKiB / 1024,
    rssSlopeMiBPerMinute: Number(rss.slope.toFixed(1)),
    ...(heap
      ? {
          heapStartMiB: Number(samples[0].heapMiB.toFixed(1)),
          heapEndMiB: Number(samples.at(-1).heapMiB.toFixed(1)),
          heapSlopeMiBPerMinute: Number(heap.slope.toFixed(2)),
        }
      : {}),
    memoryBounded,
    d1Unbounded: growing.length,
  };
  const clean = memoryBounded && !growing.length && unacked === 0 && lost.lost === 0 && lost.duplicated === 0;
  const markdown = [
    `${USERS} users in ${CHATS} groups of ${MEMBERS} for ${seconds} s: ${counts.messages} messages over sockets, ${counts.reactions} reactions, ` +
      `${counts.reads} read marks, ${counts.uploads} image uploads (refused: ${JSON.stringify(counts.refused)}). Unacked at the end: ${unacked}; ` +
      `lost ${lost.lost}, stored twice ${lost.duplicated}, out of order ${lost.outOfOrder}.`,
    "",
    table(
      ["t (s)", "wrangler RSS (MiB)", "JS heap in use (MiB)", "D1 rows (all tables)"],
      samples.map((s) => [
        s.at,
        (s.rssKiB / 1024).toFixed(0),
        s.heapMiB?.toFixed(1) ?? "–",
        Object.values(s.rows).reduce((a, b) => a + b, 0),
      ]),
    ),
    "",
    `Memory: mean RSS of the last third ${rss.last.toFixed(0)} MiB vs the middle third ${rss.middle.toFixed(0)} MiB (bound 1.5×), ` +
      `trend over the second half ${rss.slope.toFixed(1)} MiB a minute (bound ${SLOPE_BOUND_MIB_PER_MINUTE}): ${rss.bounded ? "PASS" : "**FAIL**"}. ` +
      (heap
        ? `JS heap in use in the Worker's isolate (through the inspector, garbage included): last third ${heap.last.toFixed(1)} MiB vs the middle third ` +
          `${heap.middle.toFixed(1)} MiB, trend ${heap.slope.toFixed(2)} MiB a minute (bound ${HEAP_SLOPE_BOUND_MIB_PER_MINUTE}): ${heap.bounded ? "PASS" : "**FAIL**"}.`
        : "JS heap: not measured (no inspector)."),
    `D1 growth after warm-up by table: ${growth.map(([t, d]) => `${t} +${d}`).join(", ") || "none"}; allowance ${allowance} rows a table ` +
      `(uploads × 2 + 10; ${counts.messages} messages and ${counts.reactions} reactions must add none): ${growing.length ? `**FAIL** (${growing.map(([t]) => t).join(", ")})` : "PASS"}.`,
  ].join("\n");
  return { markdown, figures, warnings: clean ? [] : ["the soak found unbounded growth or lost messages (see above)"] };
}
