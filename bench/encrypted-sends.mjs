// Encrypted sends: what the envelope check and per-device storage cost. A group of MEMBERS people,
// each with one key device, twice: a plain group and an encrypted one. The same members send in
// turn (sequentially, one request at a time): plain text in the plain group (the baseline), an
// encrypted message with an envelope for every other device (the device check reads the members'
// key devices from D1 in one join, then MEMBERS − 1 envelope rows are written), and a
// ciphertext-only one (a sender-key message: no device check). Interleaved, so load drifts alike.
import { b64, curveKeyPair, deviceKeys } from "../test/keys-helpers.ts";
import { expectStatus, mapLimit, ms, request, stats, table } from "./lib.mjs";

const PASSWORD = "violet-harbor-73-lantern";
const MEMBERS = 50;
const ROUNDS = 150;
const ENVELOPE_BYTES = 180; // about a Signal whisper message carrying a short text

async function member(baseUrl, i) {
  const username = `es_${Date.now().toString(36)}_${i}`;
  const reg = expectStatus(
    await request(baseUrl, "POST", "/api/v1/auth/register", { body: { username, password: PASSWORD } }),
    201,
    "register",
  );
  const token = reg.tokens.accessToken;
  const registrationId = 1 + i;
  const keys = deviceKeys(curveKeyPair(), { preKeys: 0, pqPreKeys: 0, registrationId }).body;
  const up = expectStatus(await request(baseUrl, "PUT", "/api/v1/keys", { token, body: keys }), 200, "upload keys");
  return { id: reg.user.id, token, deviceId: up.deviceId, registrationId };
}

async function group(baseUrl, owner, others, encrypted) {
  const body = { type: "group", name: encrypted ? "e2e" : "plain", memberIds: others.map((m) => m.id), encrypted };
  return expectStatus(await request(baseUrl, "POST", "/api/v1/chats", { token: owner.token, body }), 201, "create group").chat.id;
}

/** Run the encrypted-sends measurement against `baseUrl`; returns markdown and warnings. */
export async function runEncryptedSends(baseUrl) {
  const warnings = [];
  const people = await mapLimit(
    Array.from({ length: MEMBERS }, (_, i) => i),
    4,
    (i) => member(baseUrl, i),
  );
  const [owner, ...others] = people;
  const plainId = await group(baseUrl, owner, others, false);
  const encryptedId = await group(baseUrl, owner, others, true);
  const body = b64(crypto.getRandomValues(new Uint8Array(ENVELOPE_BYTES)));
  const envelopesFrom = (sender) =>
    people
      .filter((p) => p !== sender)
      .map((p) => ({ userId: p.id, deviceId: p.deviceId, registrationId: p.registrationId, type: 2, body }));

  const times = { plain: [], envelopes: [], ciphertext: [] };
  const send = async (kind, sender, chatId, message) => {
    const res = await request(baseUrl, "POST", `/api/v1/chats/${chatId}/messages`, { token: sender.token, body: message });
    if (res.status !== 201) return warnings.push(`${kind} ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`);
    times[kind].push(res.ms);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const sender = people[round % MEMBERS];
    const id = `r${round}`;
    await send("plain", sender, plainId, { clientMessageId: `p-${id}`, type: "text", text: "hello there, a short message" });
    await send("envelopes", sender, encryptedId, { clientMessageId: `e-${id}`, type: "encrypted", envelopes: envelopesFrom(sender) });
    await send("ciphertext", sender, encryptedId, { clientMessageId: `c-${id}`, type: "encrypted", ciphertext: body });
  }
  const p = stats(times.plain);
  const row = (label, s) => [label, s.n, ms(s.p50), ms(s.p99), (s.p50 / p.p50).toFixed(2), (s.p99 / p.p99).toFixed(2)];
  const markdown = [
    `Encrypted sends: a group of ${MEMBERS} members with one key device each; ${ROUNDS} sends of each kind, members in turn,`,
    `sequential and interleaved. Envelopes carry ${ENVELOPE_BYTES} bytes each (${MEMBERS - 1} per send, ~${Math.round(((MEMBERS - 1) * (ENVELOPE_BYTES * 1.34 + 90)) / 1024)} KB of JSON).`,
    "",
    table(
      ["send", "sends", "p50 ms", "p99 ms", "p50 / plain", "p99 / plain"],
      [
        row("plain text, plain group (baseline)", p),
        row(`encrypted, ${MEMBERS - 1} envelopes (device check + rows)`, stats(times.envelopes)),
        row("encrypted, ciphertext only (sender key)", stats(times.ciphertext)),
      ],
    ),
  ].join("\n");
  return { markdown, warnings };
}
