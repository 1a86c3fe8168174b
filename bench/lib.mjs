// Shared benchmark helpers: latency statistics, JSON requests from distinct client IPs, bounded
// concurrency (pool, mapLimit), markdown tables and the per-area sections of bench/RESULTS.md.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Summary of a list of millisecond samples (nearest-rank percentiles). */
export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const pct = (p) => (s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, mean, p50: pct(50), p99: pct(99), min: s[0], max: s[s.length - 1] };
}

export const ms = (x) => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 1) : "–");

/** The middle value (the mean of the middle two for an even count; NaN for none). */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A count rounded, with thousands separators (12,345). */
export const int = (x) => Math.round(x).toLocaleString("en-US");

let ipCounter = 0;
const ipRun = Math.floor(Math.random() * 0xffff).toString(16);
/**
 * A fresh client address for every call, from the 2001:db8::/32 documentation range. It is only
 * the `cf-connecting-ip` header the Worker reads for its per-IP rate limits; traffic stays on 127.0.0.1.
 */
export const nextIp = () => `2001:db8:${ipRun}::${(++ipCounter).toString(16)}`;

/** POST JSON from a fresh client IP. Resolves to `{ status, body, ms }`; never throws on HTTP errors. */
export async function postJson(baseUrl, path, body, { ip = nextIp(), timeoutMs = 60_000 } = {}) {
  const started = performance.now();
  const res = await fetch(baseUrl + path, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": ip },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  const elapsed = performance.now() - started;
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text.slice(0, 200) };
  }
  return { status: res.status, body: json, ms: elapsed };
}

/** Any JSON API call with an optional bearer token, from a fresh client IP: `{ status, body, ms }`. */
export async function request(baseUrl, method, path, { token, body, ip = nextIp(), timeoutMs = 60_000 } = {}) {
  const headers = { "cf-connecting-ip": ip };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const started = performance.now();
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  const elapsed = performance.now() - started;
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { raw: text.slice(0, 200) };
  }
  return { status: res.status, body: json, ms: elapsed };
}

/** Run `task(item, i)` over `items` with at most `concurrency` in flight; results in input order. */
export async function mapLimit(items, concurrency, task) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

/** Throw with the server's error body unless `res.status` is `expected`. */
export function expectStatus(res, expected, what) {
  if (res.status !== expected) {
    throw new Error(`${what}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/**
 * Run `task(i)` with `concurrency` workers until `maxRequests` were started or `maxSeconds`
 * passed, whichever comes first. Returns `{ results, seconds }` (wall time of the whole run).
 */
export async function pool({ concurrency, maxRequests, maxSeconds }, task) {
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < maxRequests && performance.now() < deadline) {
      const i = next++;
      results.push(await task(i));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { results, seconds: (performance.now() - started) / 1000 };
}

/** A markdown table from a header row and data rows. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

const RESULTS_HEAD = `# Benchmark results

Written by \`npm run bench\` (bench/run.mjs); each area's section is replaced by its latest run.
Numbers come from a local \`wrangler dev\` (workerd) on a small machine: compare runs with each
other, not with production Cloudflare.
`;

/** Replace (or append) the `## <area>` section of RESULTS.md, keeping every other section. */
export function writeSection(file, area, body) {
  const text = existsSync(file) ? readFileSync(file, "utf8") : RESULTS_HEAD;
  const section = `## ${area}\n\n${body.trim()}\n`;
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === `## ${area}`);
  let out;
  if (start < 0) {
    out = `${text.trimEnd()}\n\n${section}`;
  } else {
    let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
    if (end < 0) end = lines.length;
    const before = lines.slice(0, start).join("\n").trimEnd();
    const after = lines.slice(end).join("\n").trim();
    out = `${before}\n\n${section}${after ? `\n${after}\n` : ""}`;
  }
  writeFileSync(file, out.endsWith("\n") ? out : `${out}\n`);
}
