// History: GET /api/v1/chats/{chatId}/messages?before=<seq>&limit=50 on a room holding 1,000
// messages and one holding 100,000 (bench/room-seed.mjs), end to end through the Worker (auth,
// D1 membership check, room RPC). Requests alternate between the two rooms, one at a time, so
// background load hits both alike. Target: p50(100k) / p50(1k) ≤ 1.5 for the middle-seq page.
import { expectStatus, ms, request, stats } from "./lib.mjs";

export const RATIO_TARGET = 1.5;
const REQUESTS = 200; // per room and anchor kind
const WARMUP = 20;
const LIMIT = 50;

/** One anchor kind for both rooms: `anchor(room)` gives the query string of each request. */
async function measure(baseUrl, token, rooms, anchor) {
  const samples = rooms.map(() => []);
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    for (const [r, room] of rooms.entries()) {
      const res = await request(baseUrl, "GET", `/api/v1/chats/${room.chatId}/messages?${anchor(room)}&limit=${LIMIT}`, { token });
      const body = expectStatus(res, 200, `history of the ${room.name} room`);
      if (body.items.length !== LIMIT) throw new Error(`history of the ${room.name} room: ${body.items.length} items, expected ${LIMIT}`);
      if (i >= WARMUP) samples[r].push(res.ms);
    }
  }
  return samples.map((s) => stats(s));
}

/** `rooms`: `{ small: {chatId, lastSeq}, big: {…} }`; `token`: a member's access token. */
export async function runHistory(baseUrl, token, rooms, log) {
  const list = [
    { name: "1,000-message", ...rooms.small },
    { name: "100,000-message", ...rooms.big },
  ];
  const kinds = [
    { label: "before = middle seq", anchor: (room) => `before=${Math.floor(room.lastSeq / 2)}` },
    { label: "before = random seq", anchor: (room) => `before=${LIMIT + 1 + Math.floor(Math.random() * (room.lastSeq - LIMIT))}` },
    { label: "latest page (no anchor)", anchor: () => "" },
  ];
  const rows = [];
  for (const kind of kinds) {
    const [small, big] = await measure(baseUrl, token, list, kind.anchor);
    const ratio = big.p50 / small.p50;
    rows.push({ label: kind.label, small, big, ratio });
    log(
      `  ${kind.label}: p50 ${ms(small.p50)} vs ${ms(big.p50)} ms (ratio ${ratio.toFixed(2)}), p99 ${ms(small.p99)} vs ${ms(big.p99)} ms`,
    );
  }
  return { rows, rooms: list };
}
