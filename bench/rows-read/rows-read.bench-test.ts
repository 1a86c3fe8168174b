// D1 rows read and written on the chat hot paths, inside workerd against the real local D1.
// Users and chats are made through the real Worker (`exports.default.fetch`); then the services'
// own drizzle query builders (`.toSQL()`) are run with `env.DB.prepare(sql).bind(...).all()`,
// whose `meta` carries rows_read / rows_written (drizzle's `.raw()` path does not). Each result is
// printed as a line `ROWS {json}` for bench/rows-read.mjs. Run by `npm run bench`, never `npm test`.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { expect, test } from "vitest";
import { membershipQuery } from "../../src/chats/access";
import { chatPageRowsQuery } from "../../src/chats/list";
import { createDb } from "../../src/db/client";
import { chatMembers, chats } from "../../src/db/schema";
import { type ChatOrder, chatOrderRowsQuery } from "../../src/hubs/chat-order";
import { hubFor } from "../../src/hubs/client";
import { DEFAULT_HUB_FANOUT_MAX_MEMBERS } from "../../src/lib/config";
import { roomFor } from "../../src/rooms/client";
import type { RoomTimers } from "../../src/rooms/room-timers";
import { api, signUp } from "./bench-api";

const BIG = 1000;
const SMALL = 10;
const PAGE = 20; // GET /chats default ?limit= (PageQuery in src/lib/pagination.ts)
const CREATES_PER_USER = 25; // chat-create:user allows 30 a minute
const db = createDb(env.DB);

/** Run one statement with meta; `plan` is its EXPLAIN QUERY PLAN. */
async function measure(query: { sql: string; params: unknown[] }) {
  const res = await env.DB.prepare(query.sql)
    .bind(...query.params)
    .all();
  const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
    .bind(...query.params)
    .all<{ detail: string }>();
  return {
    rowsRead: res.meta.rows_read,
    rowsWritten: res.meta.rows_written,
    rows: res.results.length,
    plan: plan.results.map((r) => r.detail),
  };
}

const report = (key: string, data: Record<string, unknown>) => console.log(`ROWS ${JSON.stringify({ key, ...data })}`);

/** Every row of every table, as JSON strings, to count the rows a request changed. */
async function snapshot() {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  const out = new Map<string, string[]>();
  for (const { name } of tables.results) {
    out.set(
      name,
      (await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results.map((r) => JSON.stringify(r)),
    );
  }
  return out;
}

/**
 * Rows written per table between two snapshots (tables with none left out): an insert adds a row
 * value, a delete removes one, an update does both, so max(added, removed) per table.
 */
function diff(a: Map<string, string[]>, b: Map<string, string[]>) {
  const changed: Record<string, number> = {};
  for (const [name, after] of b) {
    const left = new Map<string, number>();
    for (const row of a.get(name) ?? []) left.set(row, (left.get(row) ?? 0) + 1);
    let added = 0;
    for (const row of after) {
      const k = left.get(row) ?? 0;
      if (k > 0) left.set(row, k - 1);
      else added++;
    }
    const removed = [...left.values()].reduce((x, y) => x + y, 0);
    if (added || removed) changed[name] = Math.max(added, removed);
  }
  return changed;
}

/** `count` groups with `member` in them, made by creators who each stay under the creation limit. */
async function chatsWith(member: { id: string }, count: number, tag: string) {
  const ids: string[] = [];
  const creators = await Promise.all(Array.from({ length: Math.ceil(count / CREATES_PER_USER) }, (_, i) => signUp(`rr_${tag}_c${i}`)));
  await Promise.all(
    creators.map(async (creator, c) => {
      for (let k = 0; k < CREATES_PER_USER && c * CREATES_PER_USER + k < count; k++) {
        const res = await api("POST", "/api/v1/chats", creator.token, { type: "group", name: `${tag} ${c}.${k}`, memberIds: [member.id] });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        ids.push(res.body.chat.id);
      }
    }),
  );
  return { ids, creators };
}

test("D1 rows read and written on the chat hot paths", async () => {
  const big = await signUp("rr_big");
  const small = await signUp("rr_small");
  const started = Date.now();
  const bigChats = await chatsWith(big, BIG, "big");
  const smallChats = await chatsWith(small, SMALL, "small");
  report("seed", { chats: BIG + SMALL, seconds: (Date.now() - started) / 1000 });
  // Each new room flushes its summary ("created" message) from an alarm a moment later: run them
  // all now, so none lands inside a measurement below.
  for (const id of [...bigChats.ids, ...smallChats.ids]) await runDurableObjectAlarm(roomFor(env, id));

  // Some activity, so the list is ordered by real summaries: a message in 20 chats, flushed.
  for (const chatId of bigChats.ids.slice(0, 20)) {
    expect((await api("POST", `/api/v1/chats/${chatId}/messages`, big.token, { clientMessageId: `a-${chatId}`, text: "hi" })).status).toBe(
      201,
    );
    await runDurableObjectAlarm(roomFor(env, chatId));
  }

  // GET /api/v1/chats: the order comes from the user's hub, then one D1 query reads the page's
  // chats and memberships by id (group chats have no peer profiles to load). The hub loads the
  // order from D1 once (a day): measured apart, as the hub's cold start.
  for (const [user, n] of [
    [small, SMALL],
    [big, BIG],
  ] as const) {
    const cold = await measure(chatOrderRowsQuery(db, user.id, DEFAULT_HUB_FANOUT_MAX_MEMBERS).toSQL());
    const res = await api("GET", "/api/v1/chats", user.token);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(Math.min(PAGE, n));
    const again = await api("GET", "/api/v1/chats", user.token);
    const pageIds = again.body.items.map((c: { id: string }) => c.id);
    const hubRows = await runInDurableObject(
      hubFor(env, user.id),
      (hub) => (hub as unknown as { order: ChatOrder }).order.lastPageRowsRead,
    );
    const q = chatPageRowsQuery(db, user.id, pageIds).toSQL();
    report(`list_${n}`, {
      label: `GET /chats, first page of ${PAGE}, user in ${n} chats`,
      chats: n,
      hubRowsRead: hubRows,
      ...(await measure(q)),
    });
    report(`hub_load_${n}`, { label: `the hub's order loaded from D1 (once a day), user in ${n} chats`, chats: n, ...cold });
  }

  // Membership check (every message route and the socket upgrade): the (chat_id, user_id) primary key.
  const chatId = bigChats.ids[0]!;
  report("membership", { label: "membership lookup (membershipQuery)", ...(await measure(membershipQuery(db, chatId, big.id).toSQL())) });
  report("membership_miss", { label: "membership check, not a member", ...(await measure(membershipQuery(db, chatId, small.id).toSQL())) });
  // requireChatMember (src/chats/access.ts): chat row and membership in one query, as written there.
  const chatAndMember = db
    .select({ chat: chats, member: chatMembers })
    .from(chatMembers)
    .innerJoin(chats, eq(chats.id, chatMembers.chatId))
    .where(and(eq(chatMembers.chatId, chatId), eq(chatMembers.userId, big.id)))
    .limit(1);
  report("chat_member", {
    label: "chat + membership (the chat middleware of every /chats/{chatId} route)",
    ...(await measure(chatAndMember.toSQL())),
  });

  // One message send: D1 rows changed by the request itself, then by the room's coalesced summary
  // flush (its alarm). Counted by diffing a snapshot of every D1 table before and after.
  const sendChat = smallChats.ids[0]!;
  const flushNow = () => runDurableObjectAlarm(roomFor(env, sendChat));
  const send = (k: number) =>
    api("POST", `/api/v1/chats/${sendChat}/messages`, small.token, { clientMessageId: `s-${k}`, text: `send ${k}` });
  expect((await send(0)).status).toBe(201); // warm-up: session and last-seen touches happen at most once a minute
  const SENDS = 10;
  const perSend: Record<string, number>[] = [];
  for (let k = 1; k <= SENDS; k++) {
    await flushNow(); // the next flush is then ≥ 1 s away: none lands inside the measured send
    const before = await snapshot();
    expect((await send(k)).status).toBe(201);
    // The send armed the room's flush timer (≥ 1 s out); a slow snapshot would let it fire inside
    // this window. Disarm it: the next iteration's alarm flushes, and flushes are measured below.
    await runInDurableObject(roomFor(env, sendChat), (room) => (room as unknown as { timers: RoomTimers }).timers.cancelFlush());
    await new Promise((r) => setTimeout(r, 20)); // waitUntil work (session / last-seen touches) lands
    perSend.push(diff(before, await snapshot()));
  }
  const sendRows = perSend.map((d) => Object.values(d).reduce((a, b) => a + b, 0));
  report("send", {
    label: "message send request (POST …/messages)",
    sends: SENDS,
    rowsWritten: Math.max(...sendRows),
    perSend: sendRows,
    tables: perSend.find((d) => Object.keys(d).length) ?? {},
  });
  await flushNow();
  for (let k = SENDS + 1; k <= 2 * SENDS; k++) expect((await send(k)).status).toBe(201);
  const beforeFlush = await snapshot();
  const ran = await flushNow();
  const flushed = diff(beforeFlush, await snapshot());
  report("flush", {
    label: `summary flush (room alarm) after ${SENDS} sends`,
    sends: SENDS,
    ran,
    rowsWritten: Object.values(flushed).reduce((a, b) => a + b, 0),
    tables: flushed,
  });

  // The same with 10 different senders: the flush also copies each sender's read position to D1.
  const senders = [small, ...bigChats.creators.slice(0, SENDS - 1)];
  const group = await api("POST", "/api/v1/chats", small.token, {
    type: "group",
    name: "senders",
    memberIds: senders.slice(1).map((u) => u.id),
  });
  expect(group.status, JSON.stringify(group.body)).toBe(201);
  const groupId = group.body.chat.id as string;
  await runDurableObjectAlarm(roomFor(env, groupId));
  for (const [k, u] of senders.entries()) {
    expect((await api("POST", `/api/v1/chats/${groupId}/messages`, u.token, { clientMessageId: `m-${k}`, text: `from ${k}` })).status).toBe(
      201,
    );
  }
  const beforeMany = await snapshot();
  const ranMany = await runDurableObjectAlarm(roomFor(env, groupId));
  const flushedMany = diff(beforeMany, await snapshot());
  report("flush_many", {
    label: `summary flush after ${senders.length} sends by ${senders.length} different members`,
    sends: senders.length,
    ran: ranMany,
    rowsWritten: Object.values(flushedMany).reduce((a, b) => a + b, 0),
    tables: flushedMany,
  });

  // The flush's statements as src/rooms/summary.ts writes them, with their meta.
  const at = Date.now();
  const [read, summary, counter] = await env.DB.batch([
    env.DB.prepare("UPDATE chat_members SET read_seq = ? WHERE chat_id = ? AND user_id = ? AND read_seq < ?").bind(
      10_000,
      sendChat,
      small.id,
      10_000,
    ),
    env.DB.prepare("UPDATE chats SET last_seq = ?, last_activity_at = max(last_activity_at, ?), last_message = ? WHERE id = ?").bind(
      SENDS + 2,
      at,
      '{"text":"x"}',
      sendChat,
    ),
    env.DB.prepare("UPDATE stat_counters SET value = value + ? WHERE key = 'messages'").bind(SENDS),
  ]);
  report("flush_read", {
    label: "flush: UPDATE chat_members read_seq (per sender since the last flush)",
    rowsRead: read!.meta.rows_read,
    rowsWritten: read!.meta.rows_written,
  });
  report("flush_summary", {
    label: "flush: UPDATE chats (summary row)",
    rowsRead: summary!.meta.rows_read,
    rowsWritten: summary!.meta.rows_written,
  });
  report("flush_counter", {
    label: "flush: UPDATE stat_counters (messages)",
    rowsRead: counter!.meta.rows_read,
    rowsWritten: counter!.meta.rows_written,
  });
});
