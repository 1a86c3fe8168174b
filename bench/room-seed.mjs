// Seeding for the rooms benchmarks, through the public API only: accounts (registered at the
// server's development argon2 cost), group chats (created, then members added 200 per call), and
// history rooms filled over the room's WebSocket (`message.send` frames, each member a burst of up
// to 60 per socket, under the room's 60-burst/1-per-second limit). The accounts and the history
// rooms are cached in bench/.state/rooms/seed.json next to the server's persisted state.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectStatus, mapLimit, request } from "./lib.mjs";
import { closeAll, frameType, openSocket, SendBudget, socketUrl, stringField } from "./sockets.mjs";

export const USERS = 1000; // a group's member cap
export const HISTORY_SIZES = { small: 1_000, big: 100_000 };
const PASSWORD = "violet-harbor-73-lantern";
const ADD_BATCH = 200; // ADD_MAX in src/chats/schemas.ts
const TOKEN_MAX_AGE_MS = 10 * 60_000; // access tokens live 15 min
const SEED_VERSION = 1;
const FILL_CONCURRENCY = 6; // sender sockets open at once while filling
const FILL_DEADLINE_MS = 25 * 60_000;
export const SEED_TEXT = "history seed message: the quick brown fox jumps over the lazy dog";

const withTokens = (user, tokens) =>
  Object.assign(user, { token: tokens.accessToken, refreshToken: tokens.refreshToken, tokenAt: Date.now() });

/**
 * Register `count` accounts one at a time, each from its own client IP. Not in parallel: with 8
 * concurrent registrations, after ~600 of them workerd cancelled one as hung ("code had hung and
 * would never generate a response") and from then on every register and login of that isolate
 * answered 500 the same way: the module-level argon2 queue src/auth/password.ts had then never
 * settled again once a request in it was cancelled (hashing is synchronous now, see `derive`).
 */
export async function registerUsers(baseUrl, count, log) {
  const run = Date.now().toString(36);
  const started = performance.now();
  const users = await mapLimit(
    Array.from({ length: count }, (_, i) => i),
    1,
    async (i) => {
      const username = `rb_${run}_${i}`;
      const res = await request(baseUrl, "POST", "/api/v1/auth/register", { body: { username, password: PASSWORD } });
      const body = expectStatus(res, 201, `register ${username}`);
      return withTokens({ id: body.user.id, username }, body.tokens);
    },
  );
  const seconds = (performance.now() - started) / 1000;
  log(`  registered ${count} accounts in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(0)}/s)`);
  return { users, seconds };
}

/** New tokens for a user: rotate the refresh token, or sign in again if that no longer works. */
async function renew(baseUrl, user) {
  const res = await request(baseUrl, "POST", "/api/v1/auth/refresh", { body: { refreshToken: user.refreshToken } });
  if (res.status === 200) return withTokens(user, res.body.tokens);
  const login = await request(baseUrl, "POST", "/api/v1/auth/login", { body: { identifier: user.username, password: PASSWORD } });
  return withTokens(user, expectStatus(login, 200, `login ${user.username}`).tokens);
}

/** Make sure every user's access token has at least 5 minutes left (refreshes hash nothing: 8 at a time). */
export async function freshTokens(baseUrl, users) {
  const stale = users.filter((u) => !u.token || Date.now() - u.tokenAt > TOKEN_MAX_AGE_MS);
  await mapLimit(stale, 8, (u) => renew(baseUrl, u));
  return stale.length;
}

/** A group owned by `owner` with `members`: created with the first 200, the rest added 200 per call. */
export async function createGroup(baseUrl, owner, members, name) {
  const ids = members.map((m) => m.id).filter((id) => id !== owner.id);
  const res = await request(baseUrl, "POST", "/api/v1/chats", {
    token: owner.token,
    body: { type: "group", name, memberIds: ids.slice(0, ADD_BATCH) },
  });
  const chatId = expectStatus(res, 201, `create ${name}`).chat.id;
  for (let i = ADD_BATCH; i < ids.length; i += ADD_BATCH) {
    const add = await request(baseUrl, "POST", `/api/v1/chats/${chatId}/members`, {
      token: owner.token,
      body: { userIds: ids.slice(i, i + ADD_BATCH) },
    });
    expectStatus(add, 200, `add members to ${name}`);
  }
  return chatId;
}

/** The newest seq of a chat (its latest history page). */
export async function lastSeq(baseUrl, token, chatId) {
  const res = await request(baseUrl, "GET", `/api/v1/chats/${chatId}/messages?limit=1`, { token });
  return expectStatus(res, 200, `history of ${chatId}`).items.at(-1)?.seq ?? 0;
}

/**
 * One member's burst: open their socket, send `count` message.send frames at once, wait for every
 * ack or error, close. Returns `{ sent, refused: {code: n} }`.
 */
async function burst(baseUrl, chatId, user, count, tag) {
  let pending = count;
  let sent = 0;
  const refused = {};
  let done;
  const finished = new Promise((r) => (done = r));
  const onFrame = (text) => {
    const type = frameType(text);
    if (type !== "ack" && type !== "error") return;
    if (!stringField(text, "id")?.startsWith(tag)) return;
    if (type === "ack") sent++;
    else {
      const code = stringField(text, "code") ?? "unknown";
      refused[code] = (refused[code] ?? 0) + 1;
    }
    if (--pending === 0) done();
  };
  const { ws } = await openSocket(socketUrl(baseUrl, chatId, user.token), onFrame);
  for (let j = 0; j < count; j++) {
    ws.send(JSON.stringify({ type: "message.send", id: `${tag}.${j}`, clientMessageId: `${tag}.${j}`, text: `${SEED_TEXT} ${tag}.${j}` }));
  }
  const timeout = new Promise((r) => setTimeout(r, 60_000));
  await Promise.race([finished, timeout]);
  if (pending > 0) refused.no_ack = pending;
  await closeAll([ws], 100); // the room does not answer a client's Close frame: do not wait for it
  return { sent, refused };
}

/**
 * Add `count` text messages to a room over WebSockets, FILL_CONCURRENCY members at a time, each
 * sending what its send budget allows (SendBudget mirrors the room's limiter). Progress every 10 s.
 */
export async function fillRoom(baseUrl, chatId, users, count, log) {
  const budget = new SendBudget();
  const started = performance.now();
  const refused = {};
  let assigned = 0;
  let sent = 0;
  let turn = 0;
  let sessions = 0;
  let lastLog = started;
  const nextSender = () => {
    for (let k = 0; k < users.length; k++) {
      const user = users[turn++ % users.length];
      if (!user.busy && budget.tokens(user.id) >= 10) return user;
    }
    return null;
  };
  const worker = async (w) => {
    while (assigned < count && performance.now() - started < FILL_DEADLINE_MS) {
      const user = nextSender();
      if (!user) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const n = Math.min(Math.floor(budget.tokens(user.id) - 0.05), count - assigned);
      for (let j = 0; j < n; j++) budget.take(user.id);
      assigned += n;
      user.busy = true;
      try {
        if (Date.now() - user.tokenAt > TOKEN_MAX_AGE_MS) await renew(baseUrl, user);
        const r = await burst(baseUrl, chatId, user, n, `f${w}.${sessions++}`);
        sent += r.sent;
        assigned -= n - r.sent; // refused ones are sent again by someone else
        for (const [code, k] of Object.entries(r.refused)) refused[code] = (refused[code] ?? 0) + k;
      } catch (err) {
        assigned -= n;
        refused.socket_failed = (refused.socket_failed ?? 0) + 1;
        log(`  fill: ${user.username}: ${err.message}`);
        if (refused.socket_failed > 20) throw new Error(`filling ${chatId}: too many socket failures`);
      } finally {
        user.busy = false;
      }
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        const s = (lastLog - started) / 1000;
        log(`  fill: ${sent}/${count} messages in ${s.toFixed(0)} s (${(sent / s).toFixed(0)}/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, (_, w) => worker(w)));
  for (const u of users) delete u.busy;
  const seconds = (performance.now() - started) / 1000;
  if (sent < count)
    throw new Error(`filling ${chatId}: only ${sent}/${count} messages after ${seconds.toFixed(0)} s (${JSON.stringify(refused)})`);
  log(
    `  filled ${sent} messages in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)}/s)${Object.keys(refused).length ? `; refused ${JSON.stringify(refused)}` : ""}`,
  );
  return { seconds, sent, refused };
}

/**
 * The accounts and history rooms, reused from `stateDir/seed.json` when that file exists and the
 * rooms still hold their messages, else made now (and saved when `stateDir` is given). Returns
 * `{ users, rooms: {small, big}: {chatId, lastSeq}, reused, seedSeconds, fill }`.
 */
export async function ensureSeed(baseUrl, stateDir, log) {
  const file = stateDir ? join(stateDir, "seed.json") : null;
  const save = (seed) =>
    file &&
    writeFileSync(
      file,
      JSON.stringify({
        version: SEED_VERSION,
        ...seed,
        users: seed.users.map(({ id, username, refreshToken }) => ({ id, username, refreshToken })),
      }),
    );
  if (file && existsSync(file)) {
    const seed = JSON.parse(readFileSync(file, "utf8"));
    if (seed.version === SEED_VERSION && seed.users?.length === USERS) {
      log(
        `rooms: reusing the seeded state in ${file} (seeded in ${seed.seedSeconds.toFixed(0)} s on ${seed.seededAt}); renewing ${USERS} tokens …`,
      );
      const started = performance.now();
      await mapLimit(seed.users, 8, (u) => renew(baseUrl, u));
      save(seed);
      log(`  renewed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      let ok = true;
      for (const [name, room] of Object.entries(seed.rooms)) {
        const seq = await lastSeq(baseUrl, seed.users[0].token, room.chatId);
        if (seq < room.lastSeq) {
          log(`  the ${name} room holds seq ${seq}, expected ${room.lastSeq}: seeding again`);
          ok = false;
        }
      }
      if (ok) return { ...seed, reused: true };
    }
  }

  log(`rooms: seeding (nothing cached${file ? "" : ": BENCH_URL"}) …`);
  const started = performance.now();
  const { users } = await registerUsers(baseUrl, USERS, log);
  const rooms = {};
  const fill = {};
  for (const [name, size] of Object.entries(HISTORY_SIZES)) {
    log(`  history room "${name}": ${USERS} members, ${size} messages …`);
    const chatId = await createGroup(baseUrl, users[0], users, `history ${name}`);
    fill[name] = await fillRoom(baseUrl, chatId, users, size, log);
    rooms[name] = { chatId, size, lastSeq: await lastSeq(baseUrl, users[0].token, chatId) };
  }
  const seed = { users, rooms, fill, seedSeconds: (performance.now() - started) / 1000, seededAt: new Date().toISOString().slice(0, 16) };
  save(seed);
  log(`  seeding took ${seed.seedSeconds.toFixed(0)} s`);
  return { ...seed, reused: false };
}
