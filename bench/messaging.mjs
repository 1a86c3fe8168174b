// Messaging: what rich content costs a send, as a ratio within one run. A group of members sends
// over their sockets, alternating a plain text message with a rich one (an image attachment with
// a caption carrying a link, a mention and a hashtag, a reply to an earlier message, a mention of
// the receiver), paced so no budget refuses anything. Latency is per send: frame out → the
// sender's `ack`, and → `message.new` at a receiving socket; every kind shares the same load.
// The attachment is uploaded for the chat (`?chatId=`, so the room checks it without D1); a
// second kind sends one uploaded without naming the chat (checked and attached in D1 first).
import { loadavg } from "node:os";
import { expectStatus, ms, nextIp, request, stats, table } from "./lib.mjs";
import { closeAll, frameType, openSocket, socketUrl, stringField } from "./sockets.mjs";

const PASSWORD = "violet-harbor-73-lantern";
const SENDERS = 20;
const ROUNDS = 12; // each sender sends ROUNDS of each of the 4 kinds: 48, within its 60-message burst
const PACE_MS = 50; // 20 sends a second
const TARGET_RATIO = 1.2;
const KINDS = ["plain", "rich", "rich, attachment not uploaded for the chat", "rich, no attachment"];
// A 1×1 PNG (file-type must recognise the bytes for an image attachment).
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");

const sleep = (t) => new Promise((r) => setTimeout(r, t));

async function register(baseUrl, label) {
  const username = `mg_${Date.now().toString(36)}_${label}`;
  const body = expectStatus(
    await request(baseUrl, "POST", "/api/v1/auth/register", { body: { username, password: PASSWORD } }),
    201,
    "register",
  );
  return { id: body.user.id, username, token: body.tokens.accessToken };
}

async function uploadPng(baseUrl, user, chatId) {
  const query = chatId ? `&chatId=${chatId}` : "";
  const res = await fetch(`${baseUrl}/api/v1/media?purpose=attachment${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, "content-type": "image/png", "x-file-name": "dot.png", "cf-connecting-ip": nextIp() },
    body: PNG,
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text).id;
}

/** Run the messaging bench against `server`; returns `{ markdown, warnings }`. */
export async function runMessagingBench(server) {
  const base = server.baseUrl;
  const warnings = [];
  const receiver = await register(base, "rx");
  const senders = [];
  for (let i = 0; i < SENDERS; i++) senders.push(await register(base, `s${i}`));
  const created = await request(base, "POST", "/api/v1/chats", {
    token: receiver.token,
    body: { type: "group", name: "messaging bench", memberIds: senders.map((s) => s.id) },
  });
  const chatId = expectStatus(created, 201, "create group").chat.id;
  const mediaIds = await Promise.all(senders.map((s) => uploadPng(base, s, chatId)));
  const unstagedIds = await Promise.all(senders.map((s) => uploadPng(base, s, null)));
  const anchor = expectStatus(
    await request(base, "POST", `/api/v1/chats/${chatId}/messages`, {
      token: receiver.token,
      body: { clientMessageId: "anchor", text: "reply to me" },
    }),
    201,
    "anchor message",
  ).message.id;

  const pending = new Map(); // clientMessageId → { kind, sentAt, ackAt, seenAt }
  const onReceiver = (text, at) => {
    if (frameType(text) !== "message.new") return;
    const p = pending.get(stringField(text, "clientMessageId"));
    if (p) p.seenAt = at;
  };
  const rx = await openSocket(socketUrl(base, chatId, receiver.token), onReceiver);
  const sockets = [];
  for (const s of senders) {
    const { ws } = await openSocket(socketUrl(base, chatId, s.token), (text, at) => {
      if (frameType(text) === "ack") {
        const p = pending.get(stringField(text, "id"));
        if (p) p.ackAt = at;
      } else if (frameType(text) === "error") warnings.push(`error frame: ${text.slice(0, 200)}`);
    });
    sockets.push(ws);
  }

  const loadBefore = loadavg()[0];
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of KINDS.map((_, k) => KINDS[(k + round) % KINDS.length])) {
      for (let i = 0; i < SENDERS; i++) {
        const clientMessageId = `${kind}-${round}-${i}-${++n}`;
        const rich = {
          type: "message.send",
          id: clientMessageId,
          clientMessageId,
          text: `see https://example.com/p/${n} @${receiver.username} #bench${round}`,
          replyToId: anchor,
          mentions: [receiver.id],
        };
        const frame =
          kind === "plain"
            ? { type: "message.send", id: clientMessageId, clientMessageId, text: `plain message ${n} with some words in it` }
            : kind === "rich"
              ? { ...rich, messageType: "image", attachments: [mediaIds[i]] }
              : kind === "rich, no attachment"
                ? rich
                : { ...rich, messageType: "image", attachments: [unstagedIds[i]] };
        pending.set(clientMessageId, { kind, sentAt: performance.now(), ackAt: null, seenAt: null });
        sockets[i].send(JSON.stringify(frame));
        await sleep(PACE_MS);
      }
    }
  }
  await sleep(2000);
  const loadAfter = loadavg()[0];
  await closeAll([rx.ws, ...sockets]);

  const rows = [];
  const byKind = {};
  for (const kind of KINDS) {
    const items = [...pending.values()].filter((p) => p.kind === kind);
    const ack = stats(items.filter((p) => p.ackAt).map((p) => p.ackAt - p.sentAt));
    const seen = stats(items.filter((p) => p.seenAt).map((p) => p.seenAt - p.sentAt));
    const lost = items.filter((p) => !p.ackAt || !p.seenAt).length;
    if (lost) warnings.push(`${lost} ${kind} sends were not acked or not delivered`);
    byKind[kind] = { ack, seen };
    rows.push([kind, items.length, ms(ack.p50), ms(ack.p99), ms(seen.p50), ms(seen.p99), lost]);
  }
  const ratio = (kind, f) => f(byKind[kind]) / f(byKind.plain);
  const p50 = ratio("rich", (k) => k.ack.p50);
  const p99 = ratio("rich", (k) => k.ack.p99);
  const noMediaP50 = ratio("rich, no attachment", (k) => k.ack.p50);
  const noMediaP99 = ratio("rich, no attachment", (k) => k.ack.p99);
  const unstagedP50 = ratio(KINDS[2], (k) => k.ack.p50);
  const unstagedP99 = ratio(KINDS[2], (k) => k.ack.p99);
  const verdict = (r) => (r <= TARGET_RATIO ? "PASS" : "**FAIL**");
  const markdown = [
    `${SENDERS} members of one group send over their own sockets, ${ROUNDS} rounds; each round every member sends a plain text,`,
    "a rich message, the rich message with an attachment not uploaded for the chat, and the rich message without its attachment",
    "(the kinds rotate which goes first), one send every 50 ms in all. Rich: an image attachment the sender uploaded for the chat",
    "(`?chatId=`: the room knows it), a caption with a URL, an @mention and a #hashtag (entities), a reply to an earlier message (the parent's",
    "reply count and a `message.replies` event), and a mention of the receiver (the mention index). Ack: send → the sender's",
    `\`ack\`; delivery: send → \`message.new\` at one receiving socket. Load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
    "",
    table(["kind", "sends", "ack p50 ms", "ack p99 ms", "delivery p50 ms", "delivery p99 ms", "lost"], rows),
    "",
    table(
      ["Target", "Measured", "Result"],
      [
        [`rich / plain send p50 ≤ ${TARGET_RATIO}`, `${p50.toFixed(2)}`, verdict(p50)],
        [`rich / plain send p99 ≤ ${TARGET_RATIO}`, `${p99.toFixed(2)}`, verdict(p99)],
        ["rich, attachment not uploaded for the chat / plain, p50 (one D1 round trip before the insert)", `${unstagedP50.toFixed(2)}`, ""],
        ["rich, attachment not uploaded for the chat / plain, p99", `${unstagedP99.toFixed(2)}`, ""],
        ["rich without the attachment / plain, p50", `${noMediaP50.toFixed(2)}`, ""],
        ["rich without the attachment / plain, p99", `${noMediaP99.toFixed(2)}`, ""],
      ],
    ),
  ].join("\n");
  return { markdown, warnings };
}
