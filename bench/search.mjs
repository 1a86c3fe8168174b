// Search: full-text search latency end to end through the Worker (auth, D1 membership check,
// rate limit, room RPC, the room's FTS5 query), as a ratio against a history page measured in the
// same run, and what the index costs on disk.
//  1. GET /api/v1/chats/{id}/search in a group holding 100,000 messages of varied text (a seeded
//     vocabulary of 3,000 made-up words, Zipf-distributed, 5–30 words a message): a rare term, a
//     common term, the most common term, a prefix (`ab*`), a two-word phrase, and order=recent,
//     against GET /api/v1/chats/{id}/messages?limit=20 in the same room, all interleaved.
//  2. GET /api/v1/search/messages?q= for members of 50 chats of 1,000 messages each (it asks the
//     20 most recently active rooms in parallel), against a history page of one of those chats.
//  3. The FTS5 index's bytes per 1,000 messages in the 100,000-message room: MessageIndex.sizeBytes()
//     (through the bench-only RPC of bench/seed/room.ts) and the room's SQLite file read with node:sqlite.
// The rooms are filled through the bench-only seeding RPC (bench/seed/room.ts, server.mjs `seedRooms`):
// the room's own store.insertMessage, which indexes each message as a send does; a few messages also go
// through the public send route, and the bench checks search finds them. Searches stay under the
// per-user limits (60/min per chat search, 30/min global) by spreading them over several members.
import { readdirSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { expectStatus, int, mapLimit, ms, request, stats, table } from "./lib.mjs";
import { corpus, countMatches, RARE_WORD, rng, VOCABULARY, vocabulary, zipf } from "./search-corpus.mjs";

const PASSWORD = "violet-harbor-73-lantern";
const BIG_ROOM = 100_000;
const SEED_BATCH = 2_500;
const GLOBAL_CHATS = 50;
const GLOBAL_CHAT_SIZE = 1_000;
const RARE_COUNT = 12;
const RARE_GLOBAL_CHATS = 10; // of the 50 chats, these hold the rare word (2 messages each)
const REQUESTS = 100; // measured, per kind
const WARMUP = 10; // per kind, not measured
const SEARCHERS = 16; // members of the big room who search
const GLOBALS = 10; // members of the 50 chats who search
const PER_USER_BUDGET = { chat: 55, global: 27 }; // under 60/min and 30/min even if every search fell in one window
const PAGE = 20;

async function register(baseUrl, label) {
  const username = `sb_${Date.now().toString(36)}_${label}`;
  const body = expectStatus(
    await request(baseUrl, "POST", "/api/v1/auth/register", { body: { username, password: PASSWORD } }),
    201,
    `register ${username}`,
  );
  return { id: body.user.id, username, token: body.tokens.accessToken, used: { chat: 0, global: 0 } };
}

async function createGroup(baseUrl, owner, members, name) {
  const res = await request(baseUrl, "POST", "/api/v1/chats", {
    token: owner.token,
    body: { type: "group", name, memberIds: members.filter((m) => m.id !== owner.id).map((m) => m.id) },
  });
  return expectStatus(res, 201, `create ${name}`).chat.id;
}

/** Fill a room through the bench-only RPC, SEED_BATCH messages per transaction, senders round-robin, spread over `spanMs` up to now. */
async function seedRoom(baseUrl, chatId, texts, senders, spanMs) {
  const start = Date.now() - spanMs;
  let lastSeq = 0;
  for (let i = 0; i < texts.length; i += SEED_BATCH) {
    const batch = texts.slice(i, i + SEED_BATCH).map((text, j) => ({
      senderId: senders[(i + j) % senders.length].id,
      text,
      at: start + Math.floor(((i + j) / texts.length) * spanMs),
    }));
    const res = await fetch(`${baseUrl}/__bench/rooms/${chatId}/seed`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(batch),
      signal: AbortSignal.timeout(120_000),
    });
    if (!res.ok) throw new Error(`seeding ${chatId}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    lastSeq = (await res.json()).lastSeq;
  }
  return lastSeq;
}

/** The next user with budget left for a `kind` search (counted per user over the whole run). */
function nextSearcher(users, kind) {
  const user = users.filter((u) => u.used[kind] < PER_USER_BUDGET[kind]).sort((a, b) => a.used[kind] - b.used[kind])[0];
  if (!user) throw new Error(`no ${kind} search budget left: add searchers`);
  user.used[kind]++;
  return user;
}

/**
 * Every kind once per round (order rotating), one request at a time, WARMUP + REQUESTS rounds;
 * `kind.path(user)` and `kind.check(body)` (throws on a wrong answer). Returns stats per kind label.
 */
async function interleave(baseUrl, kinds, users) {
  const samples = kinds.map(() => []);
  const extra = kinds.map(() => ({}));
  for (let round = 0; round < WARMUP + REQUESTS; round++) {
    for (let k = 0; k < kinds.length; k++) {
      const idx = (k + round) % kinds.length;
      const kind = kinds[idx];
      const user = kind.limit ? nextSearcher(users, kind.limit) : users[0];
      const res = await request(baseUrl, "GET", kind.path(), { token: user.token });
      const body = expectStatus(res, 200, kind.label);
      kind.check?.(body, extra[idx]);
      if (round >= WARMUP) samples[idx].push(res.ms);
    }
  }
  return kinds.map((kind, i) => ({ label: kind.label, hits: kind.hits, stats: stats(samples[i]), extra: extra[i] }));
}

/** The biggest ChatRoom SQLite file of the local state (the 100,000-message room): sizes read with node:sqlite. */
async function sqliteSizes(stateDir) {
  const root = join(stateDir, "data/v3/do");
  const dirs = readdirSync(root).filter((d) => d.includes("ChatRoom"));
  const files = dirs.flatMap((d) => readdirSync(join(root, d)).map((f) => join(root, d, f))).filter((f) => f.endsWith(".sqlite"));
  const size = (f) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  const file = files.sort((a, b) => size(b) - size(a))[0];
  if (!file) throw new Error(`no ChatRoom .sqlite under ${root}`);
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const one = (sql) => Object.values(db.prepare(sql).get())[0] ?? 0;
    return {
      file: file.slice(stateDir.length + 1),
      fileBytes: size(file),
      walBytes: size(`${file}-wal`),
      data: one("SELECT coalesce(sum(length(block)), 0) FROM message_fts_data"),
      content: one("SELECT coalesce(sum(length(c0)), 0) FROM message_fts_content"),
      docsize: one("SELECT coalesce(sum(length(sz)), 0) FROM message_fts_docsize"),
      indexed: one("SELECT count(*) FROM message_fts_docsize"),
      messages: one("SELECT count(*) FROM messages"),
      messageText: one("SELECT coalesce(sum(length(text)), 0) FROM messages"),
      pageSize: one("PRAGMA page_size"),
      pages: one("PRAGMA page_count"),
    };
  } finally {
    db.close();
  }
}

/** Run the search bench against `server` (started with `seedRooms`); returns `{ markdown, warnings }`. */
export async function runSearchBench(server, log = console.log) {
  const base = server.baseUrl;
  const warnings = [];
  const random = rng(0x5eac4);
  const words = vocabulary(random);
  const word = zipf(words, random);

  const started = performance.now();
  const searchers = [];
  for (let i = 0; i < SEARCHERS; i++) searchers.push(await register(base, `s${i}`));
  const globals = [];
  for (let i = 0; i < GLOBALS; i++) globals.push(await register(base, `g${i}`));

  // 1. The 100,000-message room.
  const bigId = await createGroup(base, searchers[0], searchers, "search bench 100k");
  const texts = corpus(BIG_ROOM, word, random, RARE_COUNT);
  const seedStarted = performance.now();
  const bigLastSeq = await seedRoom(base, bigId, texts, searchers, 90 * 86_400_000);
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  log(`  search: seeded ${BIG_ROOM} messages in ${seedSeconds.toFixed(1)} s (last seq ${bigLastSeq})`);

  // The public send path indexes too: three sends, then a search must find exactly them.
  for (let i = 0; i < 3; i++) {
    const res = await request(base, "POST", `/api/v1/chats/${bigId}/messages`, {
      token: searchers[i].token,
      body: { clientMessageId: `check-${i}`, text: `sendpathcheck message ${i}` },
    });
    expectStatus(res, 201, "send through the API");
  }
  const check = expectStatus(
    await request(base, "GET", `/api/v1/chats/${bigId}/search?q=sendpathcheck`, { token: nextSearcher(searchers, "chat").token }),
    200,
    "search for the sent messages",
  );
  if (check.items.length !== 3) warnings.push(`Messages sent through the API: search found ${check.items.length} of 3.`);

  const lower = texts.map((t) => t.toLowerCase());
  const hitsOf = (test) => countMatches(lower, test);
  const [w1, w2, w3] = words;
  const common = words[9];
  const phrase = [w2, w3];
  const prefixWords = words.filter((w) => w.startsWith("ab")).length;
  const widePrefixWords = words.filter((w) => w.startsWith("st")).length;
  const hits = {
    rare: hitsOf((ws) => ws.includes(RARE_WORD)),
    common: hitsOf((ws) => ws.includes(common)),
    top: hitsOf((ws) => ws.includes(w1)),
    prefix: hitsOf((ws) => ws.some((w) => w.startsWith("ab"))),
    widePrefix: hitsOf((ws) => ws.some((w) => w.startsWith("st"))),
    phrase: hitsOf((ws) => ws.some((w, i) => w === phrase[0] && ws[i + 1] === phrase[1])),
  };
  const q = (s) => encodeURIComponent(s);
  const searchPath =
    (query, order = "relevance") =>
    () =>
      `/api/v1/chats/${bigId}/search?q=${q(query)}&order=${order}&limit=${PAGE}`;
  const expectItems = (n) => (body) => {
    if (body.items.length !== n) throw new Error(`expected ${n} hits on the first page, got ${body.items.length}`);
  };
  const chatKinds = [
    { label: "history page (baseline)", path: () => `/api/v1/chats/${bigId}/messages?limit=${PAGE}`, check: expectItems(PAGE) },
    { label: `rare term \`${RARE_WORD}\``, hits: hits.rare, limit: "chat", path: searchPath(RARE_WORD), check: expectItems(hits.rare) },
    { label: `common term \`${common}\` (rank 10)`, hits: hits.common, limit: "chat", path: searchPath(common), check: expectItems(PAGE) },
    { label: `most common term \`${w1}\` (rank 1)`, hits: hits.top, limit: "chat", path: searchPath(w1), check: expectItems(PAGE) },
    { label: "prefix `ab*`", hits: hits.prefix, limit: "chat", path: searchPath("ab*"), check: expectItems(Math.min(PAGE, hits.prefix)) },
    { label: "prefix `st*`", hits: hits.widePrefix, limit: "chat", path: searchPath("st*"), check: expectItems(PAGE) },
    {
      label: `phrase \`"${phrase.join(" ")}"\``,
      hits: hits.phrase,
      limit: "chat",
      path: searchPath(`"${phrase.join(" ")}"`),
      check: expectItems(Math.min(PAGE, hits.phrase)),
    },
    {
      label: `order=recent, common term \`${common}\``,
      hits: hits.common,
      limit: "chat",
      path: searchPath(common, "recent"),
      check: expectItems(PAGE),
    },
  ];
  log("  search: per-chat searches …");
  const loadBefore = loadavg().map((x) => x.toFixed(2));
  const chatRows = await interleave(base, chatKinds, searchers);
  const loadMid = loadavg().map((x) => x.toFixed(2));
  for (const r of chatRows) log(`    ${r.label}: p50 ${ms(r.stats.p50)} p99 ${ms(r.stats.p99)} ms`);

  // 2. Fifty chats of 1,000 messages, the same vocabulary; ten of them hold the rare word twice.
  log(`  search: ${GLOBAL_CHATS} chats of ${GLOBAL_CHAT_SIZE} messages …`);
  const globalIds = [];
  for (let c = 0; c < GLOBAL_CHATS; c++) {
    globalIds.push(await createGroup(base, globals[c % GLOBALS], globals, `search bench global ${c}`));
  }
  const globalSeedStarted = performance.now();
  const globalTexts = globalIds.map((_, c) => corpus(GLOBAL_CHAT_SIZE, word, random, c < RARE_GLOBAL_CHATS ? 2 : 0));
  const globalHits = {
    common: countMatches(
      globalTexts.flat().map((t) => t.toLowerCase()),
      (ws) => ws.includes(common),
    ),
  };
  await mapLimit(globalIds, 2, (chatId, c) => seedRoom(base, chatId, globalTexts[c], globals, 30 * 86_400_000));
  // The 20 most recently active chats are the last 20 created; the rare word is in the first 10, never asked.
  // Mark the first RARE_GLOBAL_CHATS chats active again with one send each so the fan-out asks them.
  for (let c = 0; c < RARE_GLOBAL_CHATS; c++) {
    const res = await request(base, "POST", `/api/v1/chats/${globalIds[c]}/messages`, {
      token: globals[c % GLOBALS].token,
      body: { clientMessageId: `bump-${c}`, text: `back to ${RARE_WORD} again` },
    });
    expectStatus(res, 201, "send to a global chat");
  }
  await new Promise((r) => setTimeout(r, 2500)); // the rooms' summary flush (≤ 1 s) sets last_activity_at in D1
  const globalSeedSeconds = (performance.now() - globalSeedStarted) / 1000;
  const globalCheck = (body, extra) => {
    extra.searched = Math.min(extra.searched ?? Infinity, body.searchedChats);
    extra.timedOut = (extra.timedOut ?? 0) + body.timedOutChats;
    extra.items = Math.min(extra.items ?? Infinity, body.items.length);
    extra.chats ??= new Set();
    for (const item of body.items) extra.chats.add(item.chatId);
  };
  const globalKinds = [
    { label: "history page (baseline)", path: () => `/api/v1/chats/${globalIds.at(-1)}/messages?limit=${PAGE}`, check: expectItems(PAGE) },
    {
      label: `rare term \`${RARE_WORD}\` (in 10 of the 20 asked)`,
      limit: "global",
      path: () => `/api/v1/search/messages?q=${RARE_WORD}&limit=${PAGE}`,
      check: globalCheck,
    },
    {
      label: `common term \`${common}\``,
      limit: "global",
      path: () => `/api/v1/search/messages?q=${common}&limit=${PAGE}`,
      check: globalCheck,
    },
  ];
  log("  search: global searches …");
  const globalRows = await interleave(base, globalKinds, globals);
  const loadAfter = loadavg().map((x) => x.toFixed(2));
  for (const r of globalRows) log(`    ${r.label}: p50 ${ms(r.stats.p50)} p99 ${ms(r.stats.p99)} ms`);
  for (const r of globalRows.slice(1)) {
    if (r.extra.timedOut) warnings.push(`Global search ${r.label}: ${r.extra.timedOut} room answers missed the 1.5 s budget.`);
    if (r.extra.searched !== 20) warnings.push(`Global search ${r.label}: searched ${r.extra.searched} chats at least once, expected 20.`);
  }

  // 3. Index size.
  const rpc = await (await fetch(`${base}/__bench/rooms/${bigId}/sizes`)).json();
  let file = null;
  try {
    file = await sqliteSizes(server.stateDir);
    if (file.indexed < BIG_ROOM)
      warnings.push(`The biggest room file (${file.file}) indexes ${file.indexed} messages, expected ≥ ${BIG_ROOM}.`);
  } catch (err) {
    warnings.push(`Reading the room's SQLite file failed: ${err.message}`);
  }

  const seconds = (performance.now() - started) / 1000;
  log(`  search: done in ${seconds.toFixed(0)} s`);
  return {
    markdown: section({
      chatRows,
      globalRows,
      hits,
      globalHits,
      rpc,
      file,
      prefixWords,
      widePrefixWords,
      seedSeconds,
      globalSeedSeconds,
      bigLastSeq,
      load: { before: loadBefore, mid: loadMid, after: loadAfter },
    }),
    warnings,
  };
}

const per1k = (bytes, messages) => int((bytes / messages) * 1000);

function latencyTable(rows) {
  const base = rows[0].stats;
  return table(
    ["Request", "Matches", "p50 ms", "p99 ms", "p50 / baseline", "p99 / baseline"],
    rows.map((r) => [
      r.label,
      r.hits === undefined ? "–" : int(r.hits),
      ms(r.stats.p50),
      ms(r.stats.p99),
      (r.stats.p50 / base.p50).toFixed(2),
      (r.stats.p99 / base.p99).toFixed(2),
    ]),
  );
}

function section(r) {
  const n = BIG_ROOM;
  const f = r.file;
  const sizeRows = [
    ["MessageIndex.sizeBytes() (bench RPC): FTS5 data + content + docsize", int(r.rpc.indexBytes), per1k(r.rpc.indexBytes, n)],
    ["Room database, `ctx.storage.sql.databaseSize` (bench RPC)", int(r.rpc.databaseBytes), per1k(r.rpc.databaseBytes, n)],
  ];
  if (f) {
    sizeRows.push(
      ["`message_fts_data` (inverted index, sum of length(block))", int(f.data), per1k(f.data, n)],
      ["`message_fts_content` (copy of the text, sum of length(c0))", int(f.content), per1k(f.content, n)],
      ["`message_fts_docsize` (sum of length(sz))", int(f.docsize), per1k(f.docsize, n)],
      ["FTS5 tables in all (file, node:sqlite)", int(f.data + f.content + f.docsize), per1k(f.data + f.content + f.docsize, n)],
      ["For comparison: the messages' own text (sum of length(text))", int(f.messageText), per1k(f.messageText, n)],
      [
        `Whole SQLite file${f.walBytes ? " + WAL" : ""} (${int(f.pages)} pages of ${int(f.pageSize)} B)`,
        int(f.fileBytes + f.walBytes),
        per1k(f.fileBytes + f.walBytes, n),
      ],
    );
  }
  const [, rare, common] = r.globalRows;
  return [
    "Everything end to end through the Worker (auth, D1 membership check, KV rate limit, room RPC), one request at a time, every kind once per",
    `round in a rotating order, ${WARMUP} warm-up rounds then ${REQUESTS} measured; searches spread over several members so none passes its`,
    `per-user limit (60/min per chat, 30/min global). Page size ${PAGE}. Text: ${int(VOCABULARY)} made-up words with Zipf frequencies (rank r weighs 1/r),`,
    `5–30 words a message, fixed PRNG seed; \`${RARE_WORD}\` (not in the vocabulary) is put into ${RARE_COUNT} messages.`,
    `Rooms filled through the bench-only seeding RPC (bench/seed/room.ts: the room's own \`store.insertMessage\`, which indexes as a send does,`,
    `${int(SEED_BATCH)} per transaction): 100,000 messages in ${r.seedSeconds.toFixed(1)} s, the ${GLOBAL_CHATS} chats in ${r.globalSeedSeconds.toFixed(1)} s;`,
    "three messages sent through `POST /chats/{id}/messages` are found by search (checked).",
    `Load average (1 / 5 / 15 min): ${r.load.before.join(" / ")} before the per-chat searches, ${r.load.mid.join(" / ")} after them,`,
    `${r.load.after.join(" / ")} after the global searches.`,
    "",
    `### Per-chat search: one room of 100,000 messages (last seq ${int(r.bigLastSeq)})`,
    "",
    `\`GET /api/v1/chats/{id}/search?q=…&order=relevance&limit=${PAGE}\` unless stated; baseline: \`GET /api/v1/chats/{id}/messages?limit=${PAGE}\` (latest page) in the same room.`,
    `Matches: messages containing the query, counted from the seeded text (\`ab*\` matches ${r.prefixWords} words of the vocabulary, \`st*\` ${r.widePrefixWords}).`,
    "",
    latencyTable(r.chatRows),
    "",
    `### Global search: members of ${GLOBAL_CHATS} chats of ${int(GLOBAL_CHAT_SIZE)} messages`,
    "",
    `\`GET /api/v1/search/messages?q=…&limit=${PAGE}\` (the 20 most recently active chats asked in parallel, 1.5 s budget); baseline: a history page of one of the chats.`,
    `\`${RARE_WORD}\` is in 2 messages of each of 10 chats (made recently active by one more send each, which adds one more match), so each search returns ${rare.extra.items ?? "?"} hits`,
    `(from ${rare.extra.chats?.size ?? "?"} chats over the run);`,
    `the common term is in ${int(r.globalHits.common)} of the ${int(GLOBAL_CHATS * GLOBAL_CHAT_SIZE)} messages. Every search asked ${common.extra.searched} chats (fewest seen),`,
    `room answers past the budget: ${(rare.extra.timedOut ?? 0) + (common.extra.timedOut ?? 0)}.`,
    "",
    latencyTable(r.globalRows),
    "",
    "### FTS5 index size (the 100,000-message room)",
    "",
    f
      ? `Room file \`${f.file}\` (${int(f.messages)} messages, ${int(f.indexed)} indexed), opened read-only with node:sqlite while the server ran.`
      : "",
    "",
    table(["What", "Bytes", "Bytes per 1,000 messages"], sizeRows),
  ].join("\n");
}
