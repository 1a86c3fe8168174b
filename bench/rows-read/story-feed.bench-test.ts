// D1 rows read by the story feed (GET /api/v1/stories, first page) for a viewer with 10 and with
// 500 contacts, inside workerd against the real local D1. People, contacts and stories are made
// through the real Worker; the feed's own queries (src/stories/feed.ts) are then run with
// `env.DB.prepare(sql).bind(...).all()` for `meta.rows_read`. Prints `ROWS {json}` lines for
// bench/rows-read.mjs. Run by `npm run bench`, never `npm test`.
import { env } from "cloudflare:workers";
import type { SQL } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { expect, test } from "vitest";
import { feedAuthorsQuery, feedStoriesQuery } from "../../src/stories/feed";
import { api, signUp } from "./bench-api";

const PAGE = 20; // GET /stories default ?limit=
const dialect = new SQLiteSyncDialect();

/** Run a query built for drizzle's `sql` tag with meta (rows read) and its plan. */
async function measure(query: SQL) {
  const { sql: text, params } = dialect.sqlToQuery(query);
  const res = await env.DB.prepare(text)
    .bind(...params)
    .all<Record<string, unknown>>();
  const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${text}`)
    .bind(...params)
    .all<{ detail: string }>();
  return { rowsRead: res.meta.rows_read, rows: res.results, plan: plan.results.map((r) => r.detail) };
}

/** A viewer with `contacts` contacts, every `storyEvery`-th of whom has a live story for everyone. */
async function viewerWith(tag: string, contacts: number, storyEvery: number) {
  const viewer = await signUp(`sf_${tag}_v`);
  const people = [];
  for (let i = 0; i < contacts; i += 25) {
    people.push(...(await Promise.all(Array.from({ length: Math.min(25, contacts - i) }, (_, k) => signUp(`sf_${tag}_${i + k}`)))));
  }
  for (const person of people) {
    expect((await api("POST", "/api/v1/users/me/contacts", viewer.token, { userId: person.id })).status).toBeLessThan(300);
  }
  const posters = people.filter((_, i) => i % storyEvery === 0);
  for (const person of posters) {
    const res = await api("POST", "/api/v1/stories", person.token, { type: "text", text: "hi", audience: { kind: "everyone" } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  return { viewer, posters: posters.length };
}

async function feedCost(key: string, tag: string, contacts: number) {
  const { viewer, posters } = await viewerWith(tag, contacts, 5);
  const at = Date.now();
  const authors = await measure(feedAuthorsQuery(viewer.id, at, PAGE + 1, null));
  const page = authors.rows.slice(0, PAGE).map((r) => String(r.author_id));
  const stories = await measure(feedStoriesQuery(viewer.id, at, page));
  // The same page through the Worker, to be sure the measured queries are what it serves.
  const res = await api("GET", `/api/v1/stories?limit=${PAGE}`, viewer.token);
  expect(res.status).toBe(200);
  expect(res.body.authors.map((a: { author: { id: string } }) => a.author.id).sort()).toEqual([...page].sort());
  console.log(
    `ROWS ${JSON.stringify({
      key,
      label: `GET /stories, first page of ${PAGE} authors, viewer with ${contacts} contacts (${posters} with a live story)`,
      contacts,
      posters,
      rowsRead: authors.rowsRead + stories.rowsRead,
      rowsWritten: 0,
      // The plan, shortened to the tables it reads and how (the full plan is long: one probe per rule).
      plan: [...new Set([...authors.plan, ...stories.plan].filter((d) => /^(SEARCH|SCAN) /.test(d)).map((d) => d.replace(/ \(.*\)$/, "")))],
    })}`,
  );
}

test("D1 rows read by the story feed", async () => {
  await feedCost("story_feed_10", "s", 10);
  await feedCost("story_feed_500", "b", 500);
}, 600_000);
