// Keys: what the key server costs. (1) ms per XEdDSA verification, in this Node (the same V8 as
// workerd) running the server's own src/keys/xeddsa.ts, against plain Ed25519 verification of the
// same messages as a baseline; (2) bundle fetches a second through the Worker (auth, rate limits,
// the one-row DELETE … RETURNING per device), against GET /keys/count (auth and one D1 read) in the
// same run; (3) an upload of 100 signed Kyber prekeys (101 signatures checked) against one of 100
// unsigned EC prekeys; (4) encrypted sends against plain ones (bench/encrypted-sends.mjs). Keys and
// signatures are made with test/keys-helpers.ts (@noble/curves).
import { loadavg } from "node:os";
import { ed25519 } from "@noble/curves/ed25519.js";
import { xeddsaVerify } from "../src/keys/xeddsa.ts";
import { b64, curveKeyPair, xeddsaSign } from "../test/keys-helpers.ts";
import { runEncryptedSends } from "./encrypted-sends.mjs";
import { expectStatus, mapLimit, ms, request, stats, table } from "./lib.mjs";

const PASSWORD = "violet-harbor-73-lantern";
const VERIFICATIONS = 400;
const TARGETS = 30; // accounts whose bundles are fetched: each at most 50 times (limit 60 a minute per account)
const FETCHES_PER_TARGET = 50;
const CONCURRENCY = 8;

async function register(baseUrl, label) {
  const username = `ky_${Date.now().toString(36)}_${label}`;
  const body = expectStatus(
    await request(baseUrl, "POST", "/api/v1/auth/register", { body: { username, password: PASSWORD } }),
    201,
    "register",
  );
  return { id: body.user.id, token: body.tokens.accessToken };
}

const kyberKey = () => {
  const key = crypto.getRandomValues(new Uint8Array(1569));
  key[0] = 0x08;
  return key;
};
const signed = (identity, key, keyId) => ({ keyId, publicKey: b64(key), signature: b64(xeddsaSign(identity.privateKey, key)) });

/** A device's first upload: `ec` unsigned one-time prekeys and `pq` signed Kyber ones. */
function uploadBody(identity, { ec, pq }) {
  return {
    identityKey: b64(identity.publicKey),
    registrationId: 1234,
    signedPreKey: signed(identity, curveKeyPair().publicKey, 1),
    pqLastResortPreKey: signed(identity, kyberKey(), 2),
    preKeys: Array.from({ length: ec }, (_, i) => ({ keyId: 10 + i, publicKey: b64(curveKeyPair().publicKey) })),
    pqPreKeys: Array.from({ length: pq }, (_, i) => signed(identity, kyberKey(), 1000 + i)),
  };
}

/** ms per verification of `VERIFICATIONS` signatures, XEdDSA (the server's code) and plain Ed25519. */
function verificationCost() {
  const identity = curveKeyPair();
  const messages = Array.from({ length: VERIFICATIONS }, () => curveKeyPair().publicKey);
  const xsigs = messages.map((m) => xeddsaSign(identity.privateKey, m));
  const edKey = ed25519.utils.randomSecretKey();
  const edPub = ed25519.getPublicKey(edKey);
  const edsigs = messages.map((m) => ed25519.sign(m, edKey));
  const time = (fn) => {
    for (let i = 0; i < 20; i++) fn(i); // warm-up
    const started = performance.now();
    for (let i = 0; i < VERIFICATIONS; i++) if (!fn(i)) throw new Error("a signature did not verify");
    return (performance.now() - started) / VERIFICATIONS;
  };
  const ed = time((i) => ed25519.verify(edsigs[i], messages[i], edPub));
  const x = time((i) => xeddsaVerify(identity.publicKey.subarray(1), messages[i], xsigs[i]));
  return { ed, x };
}

/** Run the keys bench against `server`; returns `{ markdown, warnings }`. */
export async function runKeysBench(server) {
  const base = server.baseUrl;
  const warnings = [];
  const loadBefore = loadavg()[0];
  const verify = verificationCost();

  const targets = await mapLimit(
    Array.from({ length: TARGETS }, (_, i) => i),
    4,
    (i) => register(base, `t${i}`),
  );
  const requesters = await mapLimit(
    Array.from({ length: TARGETS }, (_, i) => i),
    4,
    (i) => register(base, `r${i}`),
  );
  const uploadTimes = { ec: [], pq: [] };
  await mapLimit(targets, 2, async (t, i) => {
    const kind = i % 2 === 0 ? "ec" : "pq";
    const body = uploadBody(curveKeyPair(), kind === "ec" ? { ec: 100, pq: 0 } : { ec: FETCHES_PER_TARGET, pq: 100 });
    const res = await request(base, "PUT", "/api/v1/keys", { token: t.token, body });
    expectStatus(res, 200, "upload keys");
    uploadTimes[kind].push(res.ms);
  });

  // Fetches and the baseline interleave: request k of each kind goes to the same requester.
  const jobs = [];
  for (let round = 0; round < FETCHES_PER_TARGET; round++) {
    for (let i = 0; i < TARGETS; i++) jobs.push({ requester: requesters[(i + round) % TARGETS], target: targets[i] });
  }
  const fetchMs = [];
  const countMs = [];
  let emptyPreKeys = 0;
  const started = performance.now();
  await mapLimit(jobs, CONCURRENCY, async ({ requester, target }) => {
    const res = await request(base, "GET", `/api/v1/keys/${target.id}/*`, { token: requester.token });
    if (res.status !== 200) return warnings.push(`fetch ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
    if (res.body.devices[0].preKey === null) emptyPreKeys++;
    fetchMs.push(res.ms);
  });
  const fetchSeconds = (performance.now() - started) / 1000;
  const countStarted = performance.now();
  await mapLimit(jobs, CONCURRENCY, async ({ target }) => {
    const res = await request(base, "GET", "/api/v1/keys/count", { token: target.token });
    if (res.status !== 200) return warnings.push(`count ${res.status}`);
    countMs.push(res.ms);
  });
  const countSeconds = (performance.now() - countStarted) / 1000;
  const encrypted = await runEncryptedSends(base);
  warnings.push(...encrypted.warnings);
  const loadAfter = loadavg()[0];

  const f = stats(fetchMs);
  const c = stats(countMs);
  const ec = stats(uploadTimes.ec);
  const pq = stats(uploadTimes.pq);
  const markdown = [
    `Load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
    "",
    `Signature verification, in this Node (V8, as in workerd), ${VERIFICATIONS} signatures each: the server's XEdDSA`,
    "(src/keys/xeddsa.ts: Montgomery u → Edwards y, then Ed25519) against plain Ed25519 verification (@noble/curves).",
    "",
    table(
      ["verification", "ms each", "ratio"],
      [
        ["Ed25519 (baseline)", verify.ed.toFixed(3), "1.00"],
        ["XEdDSA", verify.x.toFixed(3), (verify.x / verify.ed).toFixed(2)],
      ],
    ),
    "",
    `Bundle fetches through the Worker: ${jobs.length} fetches of ${TARGETS} accounts' bundles (${FETCHES_PER_TARGET} each, within the`,
    `per-account limit) by ${TARGETS} requesters, ${CONCURRENCY} at a time; baseline: as many GET /keys/count (auth and one D1 read), same concurrency.`,
    `One-time prekeys ran out on ${emptyPreKeys} fetches (the EC-only accounts hold 100, the others ${FETCHES_PER_TARGET}).`,
    "",
    table(
      ["request", "requests", "per second", "p50 ms", "p99 ms", "p50 / baseline"],
      [
        ["GET /keys/count (baseline)", c.n, (c.n / countSeconds).toFixed(0), ms(c.p50), ms(c.p99), "1.00"],
        ["GET /keys/{userId}/* (bundle)", f.n, (f.n / fetchSeconds).toFixed(0), ms(f.p50), ms(f.p99), (f.p50 / c.p50).toFixed(2)],
      ],
    ),
    "",
    "First uploads (each also carries a signed prekey and a Kyber last-resort prekey):",
    "",
    table(
      ["upload", "uploads", "p50 ms", "max ms"],
      [
        ["100 EC one-time prekeys (2 signatures)", ec.n, ms(ec.p50), ms(ec.max)],
        [`100 signed Kyber prekeys + ${FETCHES_PER_TARGET} EC (102 signatures, 157 KB of keys)`, pq.n, ms(pq.p50), ms(pq.max)],
      ],
    ),
    "",
    encrypted.markdown,
  ].join("\n");
  return { markdown, warnings };
}
