import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HubClientFrame, MAX_HUB_FRAME_BYTES } from "../src/hubs/protocol";
import { ClientFrame, SOCKET_OPENS } from "../src/rooms/protocol";
import { C, createGroup, flush, openChatSocket, send, upgradeChat } from "./chat-helpers";
import { ODD_STRINGS } from "./fuzz/hostile";
import { changedKeys, settledRoomSnapshot, snapshotRoom } from "./fuzz/state-snapshot";
import { api, signUp } from "./helpers";
import { openRealtime } from "./hub-helpers";
import { TestSocket } from "./room-helpers";

/**
 * Socket abuse (issue 18), inside the Workers runtime: property-generated malformed and unknown
 * frames on the chat and realtime sockets, binary frames, and a reconnect storm. Each bad frame is
 * answered with one error and the socket stays open; nothing is stored; the other members are not
 * disturbed. (Floods past the budget, the 64 KiB cap and the per-user socket cap have their own tests
 * in sockets.test.ts and socket-limits.test.ts; timing under abuse is measured by `npm run bench -- sockets-abuse`.)
 */

const SEED = 20261201;
const KNOWN_TYPES = ClientFrame.options.map((o) => o.shape.type.value as string);

/** Frames a hostile client might send: random JSON, unknown types, known types with wrong fields, broken text. */
const badFrame: fc.Arbitrary<string> = fc
  .oneof(
    fc.json({ maxDepth: 3 }),
    fc.record({ type: fc.string({ maxLength: 12 }), id: fc.string({ maxLength: 8 }) }).map((f) => JSON.stringify(f)),
    fc
      .tuple(
        fc.constantFrom(...KNOWN_TYPES),
        fc.dictionary(
          fc.constantFrom("id", "seq", "text", "messageId", "emoji", "afterEventSeq", "optionIds", "clientMessageId", "x"),
          fc.oneof(fc.json(), fc.constantFrom(...ODD_STRINGS), fc.integer({ min: -5, max: 2 ** 53 })),
        ),
      )
      .map(([type, fields]) => JSON.stringify({ ...fields, type })),
    fc.constantFrom(
      ...ODD_STRINGS,
      "{",
      "[",
      '{"type":',
      "null",
      "0",
      '{"type":"ping"} ',
      '{"type":"message.send","__proto__":{"text":"x"}}',
    ),
  )
  .filter((text) => {
    // Only frames the protocol refuses: a valid one would rightly change things.
    try {
      return !ClientFrame.safeParse(JSON.parse(text)).success;
    } catch {
      return true;
    }
  });

describe("chat socket abuse", () => {
  it("answers every malformed or unknown frame with one error, stays open, stores nothing, and others carry on", async () => {
    const [owner, other] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(owner, [other]);
    await send(owner, chat.id, "before the abuse");
    const [abuser, bystander] = await Promise.all([openChatSocket(owner, chat.id), openChatSocket(other, chat.id)]);
    await flush(chat.id); // the send's summary flush is written now, not during the abuse
    const before = await settledRoomSnapshot(chat.id);
    const frames = fc.sample(badFrame, { numRuns: 80, seed: SEED });
    const errorsBefore = abuser.frames.filter((f) => f.type === "error").length;
    for (const text of frames) abuser.send(text);
    // Each answer comes in order; a ping after them is answered last.
    expect(await abuser.request({ type: "ping" })).toMatchObject({ type: "ack", pong: true });
    const errors = abuser.frames.filter((f) => f.type === "error").slice(errorsBefore);
    expect(errors.length, JSON.stringify(frames.filter((_, i) => i >= errors.length).slice(0, 3))).toBe(frames.length);
    expect(errors.filter((e) => e.code === "internal")).toEqual([]);
    expect(abuser.closed).toBeNull();
    expect(changedKeys(before, await snapshotRoom(chat.id)).filter((k) => !k.endsWith(":typing"))).toEqual([]);
    // The bystander still sends and receives.
    const ack = await bystander.request({ type: "message.send", clientMessageId: "after-abuse", text: "still here" });
    expect(ack).toMatchObject({ type: "ack", message: { text: "still here" } });
    expect(await abuser.next("message.new", (f) => f.message.text === "still here")).toBeTruthy();
    abuser.close();
    bystander.close();
  });

  it("answers a binary frame with an error and keeps the socket", async () => {
    const owner = await signUp();
    const chat = await createGroup(owner);
    const socket = await openChatSocket(owner, chat.id);
    socket.ws.send(new Uint8Array([0xff, 0x00, 0x7b, 0x22]).buffer);
    socket.ws.send(new TextEncoder().encode('{"type":"ping","id":"bin"}'));
    expect(await socket.request({ type: "ping" })).toMatchObject({ type: "ack", pong: true });
    expect(socket.frames.filter((f) => f.type === "error" && f.code === "internal")).toEqual([]);
    expect(socket.closed).toBeNull();
    socket.close();
  });

  it("meets a reconnect storm with the open budget: 40 opens of one member, the burst served, the rest 429, nothing lost", async () => {
    const [owner, stormer] = await Promise.all([signUp(), signUp()]);
    const chat = await createGroup(owner, [stormer]);
    const steady = await openChatSocket(owner, chat.id);
    const started = Date.now();
    const opened: TestSocket[] = [];
    const refusals: { status: number; retryAfter: string | null; body: any }[] = [];
    for (let round = 0; round < 8; round++) {
      const answers = await Promise.all(Array.from({ length: 5 }, () => upgradeChat(chat.id, stormer.accessToken)));
      const burst: TestSocket[] = [];
      for (const res of answers) {
        if (res.status === 101) {
          const socket = new TestSocket(res.webSocket!);
          res.webSocket!.accept();
          burst.push(socket);
        } else refusals.push({ status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() });
      }
      await send(owner, chat.id, `during storm ${round}`);
      for (const s of burst) s.ws.close(round % 2 ? 1000 : 4999, "storm");
      opened.push(...burst);
    }
    const elapsedSeconds = (Date.now() - started) / 1000;
    // The burst was served, plus what refilled while the storm ran (a loaded machine runs it slower).
    expect(opened.length).toBeGreaterThanOrEqual(SOCKET_OPENS.burst);
    expect(opened.length).toBeLessThanOrEqual(SOCKET_OPENS.burst + Math.ceil(elapsedSeconds * SOCKET_OPENS.refillPerSecond) + 1);
    expect(refusals).toHaveLength(40 - opened.length);
    for (const r of refusals) {
      expect(r.status).toBe(429);
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(r.body.error).toMatchObject({ code: "rate_limited", details: { retryAfter: Number(r.retryAfter) } });
    }
    // The steady member saw every message live and was never disturbed; the stormer lost nothing.
    await steady.next("message.new", (f) => f.message.text === "during storm 7");
    const seen = steady.frames.filter((f) => f.type === "message.new").map((f) => f.message.text);
    expect(seen).toEqual(Array.from({ length: 8 }, (_, i) => `during storm ${i}`));
    expect(steady.closed).toBeNull();
    const history = await api("GET", `${C}/${chat.id}/messages?limit=100`, { token: stormer.accessToken });
    const texts = history.body.items.filter((m: { type: string }) => m.type === "text").map((m: { text: string }) => m.text);
    expect(texts.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `during storm ${i}`));
    // Another member is not limited by the stormer's budget.
    const other = await openChatSocket(owner, chat.id);
    expect(await other.request({ type: "ping" })).toMatchObject({ type: "ack" });
    other.close();
    steady.close();
  });
});

describe("realtime socket abuse", () => {
  it("answers malformed and unknown frames with errors and stays open", async () => {
    const user = await signUp();
    const { socket } = await openRealtime(user.accessToken);
    const hubRefuses = (text: string) => {
      try {
        return !HubClientFrame.safeParse(JSON.parse(text)).success;
      } catch {
        return true;
      }
    };
    const frames = fc.sample(badFrame, { numRuns: 40, seed: SEED + 1 }).filter((t) => hubRefuses(t) && t.length < MAX_HUB_FRAME_BYTES);
    for (const text of frames) socket.send(text);
    socket.send({ type: "sync", afterUpdateSeq: 0, id: "last" });
    expect(await socket.next("ack", (f) => f.id === "last")).toBeTruthy();
    expect(socket.frames.filter((f) => f.type === "error" && f.code === "internal")).toEqual([]);
    expect(socket.frames.filter((f) => f.type === "error")).toHaveLength(frames.length);
    expect(socket.closed).toBeNull();
    socket.close();
  });
});
