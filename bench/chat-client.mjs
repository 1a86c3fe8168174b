// A chat client as a real app would write one, for the reliability benches (restart.mjs, soak.mjs):
// it keeps an outbox of messages until the room acks them (retrying with the same clientMessageId
// after any disconnect), remembers the last eventSeq it saw, and after every (re)connect asks the
// room for what it missed with `sync`. It records what it needs to prove nothing was lost or
// duplicated: every ack, every eventSeq and every event a sync re-sent that it already had.
import WebSocket from "ws";
import { nextIp, request } from "./lib.mjs";
import { frameType, numberField, socketUrl, stringField, unbatch } from "./sockets.mjs";

const sleep = (t) => new Promise((r) => setTimeout(r, t));

export class ChatClient {
  /** `server()` gives the current base URL (it changes when the server restarts on another port). */
  constructor({ server, user, chatId, label }) {
    Object.assign(this, { server, user, chatId, label });
    this.ws = null;
    this.outbox = []; // { clientMessageId, text } not yet acked, in send order
    this.acked = []; // { clientMessageId, id, seq, duplicate }
    this.seen = new Set(); // every eventSeq received
    this.lastEventSeq = 0;
    this.replayedDuplicates = 0; // events a sync re-sent at or below the point it was asked from
    // Live events keep flowing during a sync and may overtake its replay (the client library holds and
    // orders them, client/resume.ts): counted, not a failure. A replay below its own start would be.
    this.overtakenDuringSync = 0;
    this.connects = 0;
    this.connectFailures = 0;
    this.refusals = {}; // error frames by code
    this.stopped = false;
    this.syncing = null; // { id, from, last }
    this.n = 0;
  }

  /** Queue a message; it goes out now if connected, else after the next reconnect. */
  queue(text) {
    const item = { clientMessageId: `${this.label}-${++this.n}`, text };
    this.outbox.push(item);
    this.#send(item);
  }

  #send(item) {
    if (this.ws?.readyState !== WebSocket.OPEN || this.syncing) return;
    this.ws.send(
      JSON.stringify({ type: "message.send", id: item.clientMessageId, clientMessageId: item.clientMessageId, text: item.text }),
    );
  }

  #onText(text) {
    const type = frameType(text);
    const eventSeq = text.startsWith('{"eventSeq":') ? numberField(text, "eventSeq") : NaN;
    if (Number.isFinite(eventSeq)) {
      if (this.syncing) {
        if (eventSeq <= this.syncing.from) this.replayedDuplicates++;
        else if (eventSeq <= this.syncing.last) this.overtakenDuringSync++;
        this.syncing.last = Math.max(this.syncing.last, eventSeq);
      }
      this.seen.add(eventSeq);
      this.lastEventSeq = Math.max(this.lastEventSeq, eventSeq);
      return;
    }
    if (type === "ack") {
      const id = stringField(text, "id");
      if (this.syncing && id === this.syncing.id) return this.#synced(JSON.parse(text));
      const at = this.outbox.findIndex((m) => m.clientMessageId === id);
      if (at < 0) return;
      const frame = JSON.parse(text);
      this.outbox.splice(at, 1);
      this.acked.push({ clientMessageId: id, id: frame.message.id, seq: frame.message.seq, duplicate: frame.duplicate });
    } else if (type === "error") {
      const code = stringField(text, "code");
      this.refusals[code] = (this.refusals[code] ?? 0) + 1;
    }
  }

  #synced(ack) {
    this.lastEventSeq = Math.max(this.lastEventSeq, ack.lastEventSeq);
    if (ack.hasMore) return this.#sync();
    this.syncing = null;
    for (const item of this.outbox) this.#send(item); // retries keep their clientMessageId
  }

  #sync() {
    const id = `sync-${this.label}-${++this.n}`;
    this.syncing = { id, from: this.lastEventSeq, last: this.lastEventSeq };
    this.ws.send(JSON.stringify({ type: "sync", id, afterEventSeq: this.lastEventSeq }));
  }

  /** Connect (retrying until it works or the client is stopped), sync, and flush the outbox. */
  async connect() {
    while (!this.stopped) {
      const ok = await new Promise((resolve) => {
        const url = socketUrl(this.server(), this.chatId, this.user.token);
        const ws = new WebSocket(url, { perMessageDeflate: false, headers: { "cf-connecting-ip": nextIp() }, handshakeTimeout: 5000 });
        let greeted = false;
        ws.on("message", (data) => {
          for (const text of unbatch(data.toString())) {
            if (!greeted) {
              greeted = true;
              this.ws = ws;
              this.connects++;
              this.#sync();
              resolve(true);
              continue;
            }
            this.#onText(text);
          }
        });
        ws.on("close", () => {
          if (!greeted) return resolve(false);
          if (this.ws === ws) this.ws = null;
          this.syncing = null;
          if (!this.stopped) this.connect();
        });
        ws.on("error", () => {});
        ws.on("unexpected-response", () => resolve(false));
      });
      if (ok) return;
      this.connectFailures++;
      await sleep(300);
    }
  }

  /** Wait until every queued message is acked (or `ms` passed); returns how many are still unacked. */
  async drain(ms = 30_000) {
    const deadline = Date.now() + ms;
    while (this.outbox.length && Date.now() < deadline) await sleep(100);
    return this.outbox.length;
  }

  stop() {
    this.stopped = true;
    this.ws?.terminate();
  }
}

/** Every page of a chat's history and of its events, as one member sees them (REST). */
export async function readBack(baseUrl, token, chatId) {
  const messages = [];
  for (let after = 0; ; ) {
    const res = await request(baseUrl, "GET", `/api/v1/chats/${chatId}/messages?after=${after}&limit=100`, { token });
    if (res.status !== 200) throw new Error(`history: ${res.status} ${JSON.stringify(res.body)}`);
    messages.push(...res.body.items);
    if (!res.body.hasMore || !res.body.items.length) break;
    after = res.body.items.at(-1).seq;
  }
  const events = [];
  for (let after = 0; ; ) {
    const res = await request(baseUrl, "GET", `/api/v1/chats/${chatId}/events?after=${after}&limit=500`, { token });
    if (res.status !== 200) throw new Error(`events: ${res.status} ${JSON.stringify(res.body)}`);
    events.push(...res.body.events);
    if (!res.body.hasMore || !res.body.events.length) break;
    after = res.body.events.at(-1).eventSeq;
  }
  return { messages, events };
}

/**
 * What a client's record says against the stored history: acked messages missing or stored twice,
 * out of the order they were acked in, events of the log the client never got.
 */
export function verifyClient(client, { messages, events }) {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const mine = messages.filter((m) => m.senderId === client.user.id && m.clientMessageId);
  const perClientId = new Map();
  for (const m of mine) perClientId.set(m.clientMessageId, (perClientId.get(m.clientMessageId) ?? 0) + 1);
  const lost = client.acked.filter((a) => !byId.has(a.id) || byId.get(a.id).seq !== a.seq).length;
  const duplicated = [...perClientId.values()].filter((n) => n > 1).length;
  const ackedSeqs = client.acked.map((a) => a.seq);
  const outOfOrder = ackedSeqs.filter((s, i) => i > 0 && s <= ackedSeqs[i - 1]).length;
  const missedEvents = events.filter((e) => !client.seen.has(e.eventSeq)).length;
  return { acked: client.acked.length, lost, duplicated, outOfOrder, missedEvents, unacked: client.outbox.length };
}
