// Media (uploads and downloads through `wrangler dev`), measured as ratios within one run:
// - Throughput for a 50 MiB file of random bytes, 3 repetitions, median: tus uploads with the real
//   tus-js-client Node build (8 MiB chunks, and the whole file as one PATCH), the one-request
//   `POST /api/v1/media`, and the download through the signed content URL (streamed, counted,
//   SHA-256 checked). The floor is the bare Worker of bench/bare in the same run: `PUT /r2/{key}`
//   streams the body straight into R2, `GET /r2/{key}` streams it back.
// - Peak memory of the app's workerd process(es) (VmRSS from /proc, every 200 ms) during a 256 MiB
//   and then a 1 GiB tus upload: bounded means the 1 GiB peak is no higher than the 256 MiB one.
// Routes that are not in the snapshot (the media-core routes may not be merged yet) are reported
// as not measured, never guessed.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { loadavg } from "node:os";
import { Upload } from "tus-js-client";
import { expectStatus, median, nextIp, request, table } from "./lib.mjs";

const MiB = 2 ** 20;
const SMALL_BYTES = 50 * MiB;
const REPS = 3;
const TUS_CHUNK = 8 * MiB;
const MEMORY_CHUNK = 32 * MiB; // each PATCH spans four 8 MiB parts: the object must still hold only one
const MEMORY_SIZES = [256 * MiB, 1024 * MiB];
const SAMPLE_MS = 200;
const BIG_FILE = `/tmp/media-bench-${process.pid}.bin`;
const PASSWORD = "violet-harbor-73-lantern";
/** Memory passes when the 1 GiB upload's growth over the idle RSS stays within these of the 256 MiB one's. */
const GROWTH_FACTOR = 1.5;
const GROWTH_SLACK_MIB = 16; // two parts: allocator noise when the 256 MiB growth is small
const GROWTH_MAX_MIB = 200;
// What the upload code itself may add over the bare R2 put: one part plus a PATCH chunk held twice (Worker → object).
const CODE_BOUND_MIB = 8 + 2 * 32;
// How much the app's RSS may move while half the file goes through (25 % → 75 %).
const FLAT_MIB = 16;

const sleep = (t) => new Promise((r) => setTimeout(r, t));
const mibps = (bytes, ms) => bytes / MiB / (ms / 1000);
const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");

async function register(baseUrl, label) {
  const username = `mb_${Date.now().toString(36)}_${label}`;
  const res = await request(baseUrl, "POST", "/api/v1/auth/register", { body: { username, password: PASSWORD } });
  const body = expectStatus(res, 201, `register ${username}`);
  return { id: body.user.id, username, token: body.tokens.accessToken };
}

/**
 * Which media routes the snapshot has (media-core may not be merged yet): from its OpenAPI document, or, when
 * that does not build, from unauthenticated probes (a missing route is 404; a present one refuses with 401/403).
 */
async function mediaRoutes(baseUrl) {
  const res = await fetch(`${baseUrl}/openapi.json`);
  if (res.ok) {
    const paths = (await res.json()).paths ?? {};
    return {
      post: Boolean(paths["/api/v1/media"]?.post),
      get: Boolean(paths["/api/v1/media/{id}"]?.get),
      content: Boolean(paths["/api/v1/media/{id}/content"]?.get),
      how: "its OpenAPI document",
    };
  }
  await res.body?.cancel();
  const id = "00000000-0000-4000-8000-000000000000";
  const present = async (method, path) => {
    const probe = await fetch(baseUrl + path, { method, headers: { "cf-connecting-ip": nextIp() } });
    await probe.body?.cancel();
    return probe.status !== 404;
  };
  return {
    post: await present("POST", "/api/v1/media"),
    get: await present("GET", `/api/v1/media/${id}`),
    content: await present("GET", `/api/v1/media/${id}/content`),
    how: `unauthenticated probes (/openapi.json answered ${res.status})`,
  };
}

/** Upload `file` (Buffer or fs.ReadStream) with tus-js-client; resolves with `{ id, url, ms }`. */
function tusUpload(baseUrl, user, file, { chunkSize, name, onChunk } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const upload = new Upload(file, {
      endpoint: `${baseUrl}/api/v1/media/uploads`,
      chunkSize: chunkSize ?? Number.POSITIVE_INFINITY,
      headers: { Authorization: `Bearer ${user.token}`, "cf-connecting-ip": nextIp() },
      metadata: { filename: name ?? "bench.bin", filetype: "application/octet-stream", purpose: "attachment" },
      retryDelays: null, // a failure is a result here, not something to hide behind a retry
      storeFingerprintForResuming: false,
      onChunkComplete: (_size, accepted, total) => onChunk?.(accepted, total),
      onError: reject,
      onSuccess: () => {
        const ms = performance.now() - started;
        resolve({ id: upload.url.split("/").pop(), url: upload.url, ms });
      },
    });
    upload.start();
  });
}

/** `POST /api/v1/media?purpose=attachment` with the raw body; resolves with `{ id, item, ms }`. */
async function smallUpload(baseUrl, user, buffer) {
  const started = performance.now();
  const res = await fetch(`${baseUrl}/api/v1/media?purpose=attachment`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${user.token}`,
      "content-type": "application/octet-stream",
      "x-file-name": "bench-small.bin",
      "cf-connecting-ip": nextIp(),
    },
    body: buffer,
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 201) throw new Error(`POST /api/v1/media: ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text);
  const item = body.media ?? body.item ?? body;
  return { id: item.id, item, ms };
}

/** GET `url` and stream the body away, counting and hashing it: `{ bytes, sha256, ms, status }`. */
async function download(url, headers = {}) {
  const started = performance.now();
  const res = await fetch(url, { headers });
  if (!res.ok || !res.body) throw new Error(`GET ${url.replace(/\?.*/, "?…")}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of res.body) {
    bytes += chunk.byteLength;
    hash.update(chunk);
  }
  return { bytes, sha256: hash.digest("hex"), ms: performance.now() - started, status: res.status };
}

async function barePut(bareUrl, key, buffer) {
  const started = performance.now();
  const res = await fetch(`${bareUrl}/r2/${key}`, { method: "PUT", body: buffer, headers: { "content-type": "application/octet-stream" } });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`bare PUT: ${res.status} ${text.slice(0, 300)}`);
  const size = JSON.parse(text).size;
  if (size !== buffer.byteLength) throw new Error(`bare PUT stored ${size} bytes, sent ${buffer.byteLength}`);
  return { ms: performance.now() - started };
}

/** A media item's metadata (`GET /api/v1/media/:id`), or null when that route is not there. */
async function mediaItem(baseUrl, user, id) {
  const res = await request(baseUrl, "GET", `/api/v1/media/${id}`, { token: user.token });
  const body = expectStatus(res, 200, `GET /api/v1/media/${id}`);
  return body.media ?? body.item ?? body;
}

async function contentUrl(baseUrl, user, id, item) {
  const url = (item?.url ? item : await mediaItem(baseUrl, user, id)).url;
  return new URL(url, baseUrl).href;
}

// ---------------------------------------------------------------------------------------------
// Throughput

async function throughput(server, bare, routes, log) {
  const user = await register(server.baseUrl, "tp");
  const file = randomBytes(SMALL_BYTES);
  const sha256 = createHash("sha256").update(file).digest("hex");
  const runs = { barePut: [], bareGet: [], tusChunked: [], tusSingle: [], post: [], getTus: [], getPost: [] };
  const checks = [];
  for (let rep = 0; rep < REPS; rep++) {
    log(`media: throughput, repetition ${rep + 1}/${REPS} (load ${load()}) …`);
    const key = `bench-${Date.now().toString(36)}-${rep}`;
    runs.barePut.push(mibps(SMALL_BYTES, (await barePut(bare.baseUrl, key, file)).ms));
    const bareGet = await download(`${bare.baseUrl}/r2/${key}`);
    checks.push(["bare GET", bareGet.bytes === SMALL_BYTES && bareGet.sha256 === sha256]);
    runs.bareGet.push(mibps(bareGet.bytes, bareGet.ms));
    await fetch(`${bare.baseUrl}/r2/${key}`, { method: "DELETE" });

    const chunked = await tusUpload(server.baseUrl, user, file, { chunkSize: TUS_CHUNK, name: `chunked-${rep}.bin` });
    runs.tusChunked.push(mibps(SMALL_BYTES, chunked.ms));
    const single = await tusUpload(server.baseUrl, user, file, { name: `single-${rep}.bin` });
    runs.tusSingle.push(mibps(SMALL_BYTES, single.ms));

    let posted = null;
    if (routes.post) {
      posted = await smallUpload(server.baseUrl, user, file);
      runs.post.push(mibps(SMALL_BYTES, posted.ms));
    }
    if (routes.get && routes.content) {
      // Both kinds of stored object: the tus file (an R2 multipart object of 8 MiB parts) and the POSTed one (one put).
      const sources = [["getTus", chunked], ...(posted ? [["getPost", posted]] : [])];
      for (const [kind, source] of sources) {
        const item = await mediaItem(server.baseUrl, user, source.id);
        checks.push([`${kind} ${rep} size and sha256`, item.size === SMALL_BYTES && item.sha256 === sha256]);
        const got = await download(await contentUrl(server.baseUrl, user, source.id, item));
        checks.push([`${kind} ${rep} content`, got.bytes === SMALL_BYTES && got.sha256 === sha256]);
        runs[kind].push(mibps(got.bytes, got.ms));
      }
    }
  }
  const failed = checks.filter(([, ok]) => !ok).map(([what]) => what);
  if (failed.length) throw new Error(`media: bytes came back wrong: ${failed.join(", ")}`);
  return { runs, checks: checks.length, sha256 };
}

// ---------------------------------------------------------------------------------------------
// Memory

/** Every descendant of `pid` (through /proc/<pid>/task/<tid>/children), with its command name. */
export function descendants(pid) {
  const out = [];
  const walk = (p) => {
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return; // exited
    }
    for (const tid of tasks) {
      let children = "";
      try {
        children = readFileSync(`/proc/${p}/task/${tid}/children`, "utf8");
      } catch {
        continue;
      }
      for (const child of children.split(/\s+/).filter(Boolean).map(Number)) {
        let comm = "?";
        try {
          comm = readFileSync(`/proc/${child}/comm`, "utf8").trim();
        } catch {
          continue;
        }
        out.push({ pid: child, comm });
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/** VmRSS and RssAnon (heap and other anonymous memory: not file pages) of a process in bytes; 0 once it is gone. */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), anon: kb("RssAnon") };
  } catch {
    return { rss: 0, anon: 0 };
  }
}

/** The workerd processes below a wrangler dev: "runtime" (the Worker, its objects, local R2/D1) or "proxy" (wrangler's entry proxy). */
function workerdProcesses(server) {
  const found = descendants(server.pid).filter((p) => p.comm.includes("workerd"));
  if (!found.length) throw new Error(`media: no workerd below wrangler (pid ${server.pid})`);
  return found.map((p) => {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${p.pid}/cmdline`, "utf8");
    } catch {
      // exited
    }
    return { ...p, role: cmd.includes("--inspector-addr") ? "runtime" : "proxy" };
  });
}

const totalRss = (procs) => procs.reduce((sum, p) => sum + memoryOf(p.pid).rss, 0);

/**
 * Samples VmRSS and RssAnon of each of `procs` every SAMPLE_MS until stopped. `stop(splitAt)` gives, for their
 * sum, the peak VmRSS and RssAnon, the median VmRSS, the peak of each role (runtime, proxy), the peak VmRSS of
 * the samples before `splitAt` (a performance.now() time, optional), the sample count and the longest gap.
 */
function sampler(procs) {
  const samples = [];
  let last = performance.now();
  let maxGapMs = 0;
  const take = () => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    samples.push({ t: now, each: procs.map((p) => memoryOf(p.pid)) });
  };
  take();
  const timer = setInterval(take, SAMPLE_MS);
  return {
    stop: (splitAt = null) => {
      clearInterval(timer);
      take();
      const sum = (row, field) => row.each.reduce((a, m) => a + m[field], 0);
      const totals = samples.map((row) => sum(row, "rss"));
      const byRole = {};
      procs.forEach((p, i) => {
        const column = samples.map((row) => row.each[i].rss);
        byRole[p.role] = { peak: Math.max(...column), median: median(column) };
      });
      const early = samples.filter((row) => splitAt !== null && row.t < splitAt).map((row) => sum(row, "rss"));
      return {
        peak: Math.max(...totals),
        median: median(totals),
        peakAnon: Math.max(...samples.map((row) => sum(row, "anon"))),
        medianAnon: median(samples.map((row) => sum(row, "anon"))),
        peakBeforeSplit: early.length ? Math.max(...early) : null,
        byRole,
        samples: samples.length,
        maxGapMs,
      };
    },
  };
}

/** A random file of `bytes` in 8 MiB blocks; resolves with its SHA-256. */
async function writeRandomFile(path, bytes) {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += 8 * MiB) {
    const block = randomBytes(Math.min(8 * MiB, bytes - written));
    hash.update(block);
    if (!out.write(block)) await new Promise((r) => out.once("drain", r));
  }
  await new Promise((ok, fail) => out.end((err) => (err ? fail(err) : ok())));
  return hash.digest("hex");
}

/**
 * Idle RSS (median of 2 s), then each of MEMORY_SIZES uploaded by `upload(size, onAccepted)` while
 * sampling; `onAccepted(bytes, total)` marks the RSS at 25/50/75/100 % when the uploader reports them.
 */
async function memoryRuns(procs, upload, log, label) {
  const idle = sampler(procs);
  await sleep(2000);
  const before = idle.stop();
  const runs = [];
  for (const size of MEMORY_SIZES) {
    log(`media: ${label}: ${size / MiB} MiB (load ${load()}) …`);
    const s = sampler(procs);
    const marks = [];
    let next = 0.25;
    let lastRequestAt = null; // when the last request (the one that completes the upload) started
    const onAccepted = (accepted, total) => {
      if (accepted < total) lastRequestAt = performance.now();
      while (next <= 1 && accepted >= total * next) {
        marks.push({ at: next, rss: totalRss(procs) });
        next += 0.25;
      }
    };
    const up = await upload(size, onAccepted);
    const sampled = s.stop(lastRequestAt);
    runs.push({ size, ...up, ...sampled, marks, mibps: mibps(size, up.ms) });
    await sleep(2000);
  }
  const after = totalRss(procs);
  const growth = runs.map((r) => r.peak - before.median);
  const limit = Math.min(Math.max(GROWTH_FACTOR * growth[0], growth[0] + GROWTH_SLACK_MIB * MiB), GROWTH_MAX_MIB * MiB);
  return { procs, before, runs, after, growth, limit, pass: growth[1] <= limit };
}

/** PUT a prefix of BIG_FILE to the bare Worker's `/r2/{key}` as one streamed request of known length. */
function barePutFile(bareUrl, key, size) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = httpRequest(`${bareUrl}/r2/${key}`, {
      method: "PUT",
      headers: { "content-length": String(size), "content-type": "application/octet-stream" },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => {
        if (res.statusCode !== 201 || JSON.parse(text).size !== size) reject(new Error(`bare PUT ${size}: ${res.statusCode} ${text}`));
        else resolve({ ms: performance.now() - started });
      });
    });
    createReadStream(BIG_FILE, { start: 0, end: size - 1 }).pipe(req);
  });
}

async function memory(server, bare, routes, log) {
  const app = workerdProcesses(server);
  const bareProcs = workerdProcesses(bare);
  log(`media: sampling VmRSS of the app's workerd ${app.map((p) => `${p.pid} (${p.role})`).join(", ")} …`);
  const user = await register(server.baseUrl, "mem");
  log("media: writing a 1 GiB random file …");
  const bigSha = await writeRandomFile(BIG_FILE, MEMORY_SIZES[1]);

  // Warm the isolate, the upload object class and R2 with a small upload first, then settle.
  await tusUpload(server.baseUrl, user, randomBytes(MiB), { chunkSize: TUS_CHUNK, name: "warm.bin" });
  await sleep(2000);
  const appMem = await memoryRuns(
    app,
    (size, onAccepted) =>
      tusUpload(server.baseUrl, user, createReadStream(BIG_FILE, { start: 0, end: size - 1 }), {
        chunkSize: MEMORY_CHUNK,
        name: `big-${size / MiB}.bin`,
        onChunk: onAccepted,
      }),
    log,
    `tus upload in ${MEMORY_CHUNK / MiB} MiB chunks`,
  );

  // The 1 GiB file is a media item of that size (and hash), or at least a finished upload.
  const big = appMem.runs[1];
  let verified;
  if (routes.get) {
    const item = await mediaItem(server.baseUrl, user, big.id);
    verified = {
      how: "`GET /api/v1/media/:id`",
      ok: item.size === big.size && item.sha256 === bigSha,
      detail: `size ${item.size}, sha256 ${item.sha256 === bigSha ? "matches the file's" : `${item.sha256} ≠ ${bigSha}`}`,
    };
  } else {
    const res = await fetch(big.url, { method: "HEAD", headers: { authorization: `Bearer ${user.token}`, "tus-resumable": "1.0.0" } });
    const offset = Number(res.headers.get("upload-offset"));
    const length = Number(res.headers.get("upload-length"));
    verified = {
      how: "tus `HEAD` of the upload (no `GET /api/v1/media/:id` in this snapshot)",
      ok: res.status === 200 && offset === big.size && length === big.size,
      detail: `${res.status}, Upload-Offset ${offset}, Upload-Length ${length}`,
    };
  }

  // The same files into the bare Worker's R2 put: what the platform itself keeps for a streamed gigabyte.
  await barePutFile(bare.baseUrl, "warm", MiB);
  await sleep(2000);
  const bareMem = await memoryRuns(
    bareProcs,
    async (size, onAccepted) => {
      const put = await barePutFile(bare.baseUrl, `big-${size / MiB}`, size);
      onAccepted(size, size);
      return put;
    },
    log,
    "bare R2 put, one streamed request",
  );
  for (const size of MEMORY_SIZES) await fetch(`${bare.baseUrl}/r2/big-${size / MiB}`, { method: "DELETE" });
  return { app: appMem, bare: bareMem, verified };
}

// ---------------------------------------------------------------------------------------------

/** The whole area: `{ markdown, warnings }` for RESULTS.md. */
export async function runMediaBench(server, bare, log = console.log) {
  const loadStart = load();
  const routes = await mediaRoutes(server.baseUrl);
  log(
    `media: routes in the snapshot (${routes.how}): POST /media ${routes.post}, GET /media/{id} ${routes.get}, content ${routes.content}`,
  );
  const warnings = [];
  const tp = await throughput(server, bare, routes, log);
  const loadMid = load();
  let mem;
  try {
    mem = await memory(server, bare, routes, log);
  } finally {
    rmSync(BIG_FILE, { force: true });
  }
  const loadEnd = load();
  if (existsSync(BIG_FILE)) warnings.push(`${BIG_FILE} could not be deleted`);
  if (!mem.verified.ok) warnings.push(`the 1 GiB upload is not what was sent: ${mem.verified.detail}`);
  if (!routes.post || !routes.content) {
    warnings.push("the snapshot has no `POST /api/v1/media` or content route (media-core not merged yet): those rows were not measured");
  }
  return { markdown: mediaSection({ tp, mem, routes, loads: { loadStart, loadMid, loadEnd } }), warnings };
}

const mb = (bytes) => (bytes / MiB).toFixed(0);

function mediaSection({ tp, mem, routes, loads }) {
  const put = median(tp.runs.barePut);
  const get = median(tp.runs.bareGet);
  const row = (path, runs, base, baseName, available = true) =>
    available
      ? [path, fmt(median(runs)), runs.map((x) => fmt(x)).join(", "), `${fmt(median(runs) / base, 2)} of ${baseName}`]
      : [path, "not measured", "–", "route not in the snapshot"];
  const { app, bare } = mem;
  const r1g = app.runs[1];
  const middle = r1g.marks.filter((m) => m.at < 1).map((m) => m.rss);
  const spread = middle.length ? Math.max(...middle) - Math.min(...middle) : NaN;
  const codePass = app.growth.every((g, i) => g - bare.growth[i] <= CODE_BOUND_MIB * MiB) && spread <= FLAT_MIB * MiB;
  const marks = r1g.marks.map((m) => `${m.at * 100}%: ${mb(m.rss)}`).join(", ");
  return [
    `A ${SMALL_BYTES / MiB} MiB file of random bytes, ${REPS} repetitions (median; MiB/s = 2^20 bytes a second, wall time of the`,
    "whole transfer as the client sees it, tus creation included). Uploads are tus-js-client 4 (Node build, a Buffer source) and",
    "`POST /api/v1/media?purpose=attachment`; downloads go through the signed content URL of `GET /api/v1/media/:id` (of the",
    "8 MiB-chunk tus item, stored as an R2 multipart object, and of the POSTed item, stored by one put), streamed and discarded,",
    "byte count and SHA-256 checked against the file (and the item's `size`/`sha256`). The floor is the bare Worker",
    "of `bench/bare` in the same run (`PUT /r2/{key}`: the request body piped through a FixedLengthStream into `R2.put`;",
    "`GET /r2/{key}`: the object's body as the response), so the ratio is what the app adds over R2 itself on this machine.",
    `1-minute load average (1 / 5 / 15 min): ${loads.loadStart} at the start, ${loads.loadMid} after the throughput runs,`,
    `${loads.loadEnd} at the end.`,
    "",
    table(
      ["path", "median MiB/s", "runs MiB/s", "ratio"],
      [
        ["bare R2 put (`PUT /r2/{key}`)", fmt(put), tp.runs.barePut.map((x) => fmt(x)).join(", "), "1.00"],
        row(`tus, ${TUS_CHUNK / MiB} MiB chunks`, tp.runs.tusChunked, put, "bare put"),
        row(`tus, one ${SMALL_BYTES / MiB} MiB PATCH`, tp.runs.tusSingle, put, "bare put"),
        row("`POST /api/v1/media`", tp.runs.post, put, "bare put", routes.post),
        ["bare R2 get (`GET /r2/{key}`)", fmt(get), tp.runs.bareGet.map((x) => fmt(x)).join(", "), "1.00"],
        row("signed content URL, the tus item (multipart)", tp.runs.getTus, get, "bare get", routes.get && routes.content),
        row("signed content URL, the POSTed item", tp.runs.getPost, get, "bare get", routes.post && routes.get && routes.content),
      ],
    ),
    "",
    `Peak memory: VmRSS of the workerd processes of each \`wrangler dev\` (found below wrangler's pid through`,
    "/proc/<pid>/task/*/children: the *runtime* runs the Worker, its Durable Objects and the local R2/D1 simulators; the",
    `*proxy* is wrangler's entry proxy, also on the request path), sampled every ${SAMPLE_MS} ms during a ${MEMORY_SIZES[0] / MiB} MiB and then a`,
    `${MEMORY_SIZES[1] / MiB} MiB upload of the same random file: to the app with tus-js-client (fs.ReadStream source, ${MEMORY_CHUNK / MiB} MiB`,
    "PATCHes, each spanning four 8 MiB parts), and as the same-run baseline to the bare Worker's R2 put (one streamed PUT of",
    '`Content-Length` bytes). "Before" is the median over 2 s idle, after a 1 MiB warm-up upload. Sums are runtime + proxy.',
    "",
    table(
      [
        "target",
        "upload",
        "before MiB",
        "peak MiB",
        "peak − before",
        "runtime / proxy peak − before",
        "RssAnon peak − before",
        "peak − before until the last PATCH",
        "MiB/s",
        "samples (max gap ms)",
      ],
      [app, bare].flatMap((m) =>
        m.runs.map((r, i) => [
          m === app ? "app (tus)" : "bare R2 put",
          `${r.size / MiB} MiB`,
          mb(m.before.median),
          mb(r.peak),
          `**${mb(m.growth[i])}**`,
          `${mb((r.byRole.runtime?.peak ?? 0) - (m.before.byRole.runtime?.median ?? 0))} / ${mb((r.byRole.proxy?.peak ?? 0) - (m.before.byRole.proxy?.median ?? 0))}`,
          mb(r.peakAnon - m.before.medianAnon),
          r.peakBeforeSplit === null ? "–" : mb(r.peakBeforeSplit - m.before.median),
          fmt(r.mibps),
          `${r.samples} (${fmt(r.maxGapMs, 0)})`,
        ]),
      ),
    ),
    "",
    `App RSS (sum) during the ${MEMORY_SIZES[1] / MiB} MiB upload at its progress points (MiB, taken when tus-js-client saw the server`,
    `accept that offset; 100 % is after the upload became a media item): before ${mb(app.before.median)}, ${marks};`,
    `${mb(app.after)} MiB 2 s after it finished. The 1 GiB upload ran at ${fmt(r1g.mibps)} MiB/s (bare R2 put: ${fmt(bare.runs[1].mibps)} MiB/s,`,
    `ratio ${fmt(r1g.mibps / bare.runs[1].mibps, 2)}). Between the 25 % and 75 % marks (${MEMORY_SIZES[1] / MiB / 2} MiB of PATCHes) the app's RSS`,
    `moved within ${mb(spread)} MiB (max − min of the three marks).`,
    "",
    `**Whole runtime by file size**: the ${MEMORY_SIZES[1] / MiB} MiB upload grew the app's RSS by ${mb(app.growth[1])} MiB over idle against`,
    `${mb(app.growth[0])} MiB for ${MEMORY_SIZES[0] / MiB} MiB; the limit is min(max(${GROWTH_FACTOR} × that, that + ${GROWTH_SLACK_MIB} MiB),`,
    `${GROWTH_MAX_MIB} MiB) = ${mb(app.limit)} MiB — ${app.pass ? "PASS" : "**FAIL**"}. The bare R2 put, by the same rule:`,
    `${mb(bare.growth[1])} against ${mb(bare.growth[0])} MiB, limit ${mb(bare.limit)} MiB — ${bare.pass ? "PASS" : "FAIL"}. The file was checked afterwards`,
    `with ${mem.verified.how}: ${mem.verified.detail} — ${mem.verified.ok ? "OK" : "**WRONG**"}.`,
    "",
    `**What the upload code adds** (the target: the Worker's memory bounded, not growing with the file): the runtime also holds`,
    `local R2, which grows with the file for the bare put too, so the same-run measure of the app's own memory is its growth`,
    `over the bare put's: ${app.growth.map((g, i) => `${mb(g - bare.growth[i])} MiB at ${MEMORY_SIZES[i] / MiB} MiB`).join(", ")}`,
    `(design bound ${CODE_BOUND_MIB} MiB: one 8 MiB part being cut plus a ${MEMORY_CHUNK / MiB} MiB PATCH chunk in the Worker and in the object),`,
    `and the app's RSS moved ${mb(spread)} MiB between the 25 % and 75 % marks (bound ${FLAT_MIB} MiB) — ${codePass ? "PASS" : "**FAIL**"}.`,
    "",
    "Why the upload code's memory is bounded (design): the UploadSession Durable Object turns whatever chunk sizes arrive",
    "into R2 multipart parts of exactly 8 MiB, sending each to R2 as soon as it is full, so a PATCH holds at most one part in",
    "memory; what is left when a PATCH ends (less than a part) is the tail, kept in the object's SQLite rather than in memory;",
    "the finished file's SHA-256 is computed by streaming the R2 object through a DigestStream. None of it scales with the",
    "file. What this measures is more than that code: in `wrangler dev` the local R2 (miniflare's simulator, storing the",
    "parts and assembling the object on completion), D1 and the Durable Object's SQLite run in the same runtime process.",
    `Until the last PATCH the app's RSS grew ${app.runs.map((r) => `${mb(r.peakBeforeSplit - app.before.median)} MiB (${r.size / MiB} MiB file)`).join(" and ")};`,
    `the bare Worker, which keeps nothing of the body itself, grew ${bare.runs.map((r, i) => `${mb(bare.growth[i])} MiB (${r.size / MiB} MiB)`).join(" and ")}`,
    "for one streamed R2 put, and the app's jump comes at completion (the local R2 assembles the parts, the app reads the object",
    "back for its SHA-256). Growth with the file size that the bare put shows as well points at workerd and its local R2 (a",
    "separate service in production, outside the Worker's 128 MB), not at the upload code; this run cannot separate the two further.",
  ].join("\n");
}
